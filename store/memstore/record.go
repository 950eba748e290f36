package memstore

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// The records below hold no pointers where there is one of them per host
// or per job, so that the garbage collector has nothing to follow in the
// bulk of the store: names are indices into tables, times are stamps, and
// states are bytes.

// batchRec is one batch as the store keeps it. A job's BatchID, Action,
// Priority and CreatedAt are its batch's, and its host is the batch's host
// at the same index; the batch's State follows from its counts.
type batchRec struct {
	id, owner, snapshot string
	action              lifecycle.Action
	params              map[string]string
	priority            int
	qkey                int64 // QueueAt in unix ns
	counts              lifecycle.JobCounts
	created, updated    stamp
	finished, cancelled stamp
	jobs                []jobRec
	more                *batchMore // nil until a job needs it
}

// batchMore is what the jobs of a new batch do not have unless a host
// directory gave them labels.
type batchMore struct {
	// times holds the times of the jobs, by job index; nil while every
	// job has the times of a new job: UpdatedAt the batch's CreatedAt,
	// StartedAt and FinishedAt zero.
	times []jobTimes
	// labels holds the datacenter and SKU of the jobs, by job index; nil
	// while all are empty.
	labels []jobLabels
	// errs holds the Error of each job that has one, by job index.
	errs map[int32]string
}

// jobRec is the part of a lifecycle.Job that is not its batch's, but for
// what batchMore holds.
type jobRec struct {
	host     int32 // index in hostTable
	prev     jobRef
	attempts int32
	state    jobState
	cancel   bool // CancelRequested
}

type jobTimes struct{ started, finished, updated stamp }

// jobLabels are the Datacenter and SKU of a job, as indices in labels.
type jobLabels struct{ dc, sku int32 }

// jobRef names a job by its batch's seq (index in Store.batches) and its
// index in the batch. The jobs of one host are chained from the newest,
// hostRec.last, through jobRec.prev: that chain is the host's history.
type jobRef struct{ batch, job int32 }

// noJob ends a history chain.
var noJob = jobRef{-1, -1}

// newBatchRec copies b into a record. The host indices and labels of its
// jobs are left for CreateBatch to fill in under the lock. It refuses,
// wrapping lifecycle.ErrInvalidBatch, a batch that is not new as the
// contract says: one pending, unfinished job per host, in host order, each
// carrying its batch's ID, action, priority and creation time, and counted
// in b.Counts; neither finished nor cancelled; and no host name longer
// than maxName.
func newBatchRec(b *lifecycle.Batch) (*batchRec, error) {
	if len(b.Jobs) != len(b.Hosts) || b.Counts != (lifecycle.JobCounts{Pending: len(b.Jobs)}) ||
		!b.FinishedAt.IsZero() || !b.CancelledAt.IsZero() {
		return nil, fmt.Errorf("memstore: batch %s: %w: %d jobs, counted %+v, for %d hosts; finished at %s, cancelled at %s",
			b.ID, lifecycle.ErrInvalidBatch, len(b.Jobs), b.Counts, len(b.Hosts), b.FinishedAt, b.CancelledAt)
	}
	created := stampOf(b.CreatedAt)
	r := &batchRec{
		id: b.ID, owner: b.Owner, snapshot: b.Snapshot, action: b.Action, priority: b.Priority,
		counts: b.Counts, created: created, updated: created, qkey: queueKey(b),
		jobs: make([]jobRec, len(b.Jobs)),
	}
	if b.Params != nil {
		r.params = maps.Clone(b.Params)
	}
	for i := range b.Jobs {
		j := &b.Jobs[i]
		if len(j.Host) > maxName {
			return nil, fmt.Errorf("memstore: batch %s: %w: host name of %d bytes (at most %d)", b.ID, lifecycle.ErrInvalidBatch, len(j.Host), maxName)
		}
		if j.Host != b.Hosts[i] || j.BatchID != b.ID || j.Action != b.Action ||
			j.Priority != b.Priority || !j.CreatedAt.Equal(b.CreatedAt) {
			return nil, fmt.Errorf("memstore: batch %s: %w: job %d (%s of batch %s) does not match host %s of the batch",
				b.ID, lifecycle.ErrInvalidBatch, i, j.Host, j.BatchID, b.Hosts[i])
		}
		if j.State != lifecycle.JobPending || !j.FinishedAt.IsZero() || j.Attempts != int(int32(j.Attempts)) {
			return nil, fmt.Errorf("memstore: batch %s: %w: job %s is %s, with %d attempts, finished at %s",
				b.ID, lifecycle.ErrInvalidBatch, j.Host, j.State, j.Attempts, j.FinishedAt)
		}
		r.jobs[i] = jobRec{attempts: int32(j.Attempts), cancel: j.CancelRequested} // the zero state is pending
		if !j.StartedAt.IsZero() || !j.UpdatedAt.Equal(b.CreatedAt) {
			*r.timesOf(i) = jobTimes{started: stampOf(j.StartedAt), updated: stampOf(j.UpdatedAt)}
		}
		if j.Error != "" {
			r.setErr(i, j.Error)
		}
	}
	return r, nil
}

// queueKey returns b's QueueAt in unix ns; a zero QueueAt means CreatedAt.
func queueKey(b *lifecycle.Batch) int64 {
	if b.QueueAt.IsZero() {
		return b.CreatedAt.UnixNano()
	}
	return b.QueueAt.UnixNano()
}

func (r *batchRec) state() lifecycle.BatchState { return r.counts.State() }

func (r *batchRec) extra() *batchMore {
	if r.more == nil {
		r.more = &batchMore{}
	}
	return r.more
}

// timesOf returns the times of job i, to change them.
func (r *batchRec) timesOf(i int) *jobTimes {
	m := r.extra()
	if m.times == nil {
		m.times = make([]jobTimes, len(r.jobs))
		for k := range m.times {
			m.times[k].updated = r.created
		}
	}
	return &m.times[i]
}

// finishedAt returns when job i ended; zero if it has not.
func (r *batchRec) finishedAt(i int) time.Time {
	if r.more == nil || r.more.times == nil {
		return time.Time{}
	}
	return r.more.times[i].finished.time()
}

// labelsOf returns the labels of job i.
func (r *batchRec) labelsOf(i int) jobLabels {
	if r.more == nil || r.more.labels == nil {
		return jobLabels{}
	}
	return r.more.labels[i]
}

// setLabels sets the labels of job i.
func (r *batchRec) setLabels(i int, l jobLabels) {
	if l == (jobLabels{}) && (r.more == nil || r.more.labels == nil) {
		return
	}
	m := r.extra()
	if m.labels == nil {
		m.labels = make([]jobLabels, len(r.jobs))
	}
	m.labels[i] = l
}

// err returns the Error of job i.
func (r *batchRec) err(i int) string {
	if r.more == nil {
		return ""
	}
	return r.more.errs[int32(i)]
}

// setErr records the Error of job i.
func (r *batchRec) setErr(i int, msg string) {
	m := r.extra()
	if m.errs == nil {
		m.errs = map[int32]string{}
	}
	m.errs[int32(i)] = msg
}

// hostNames returns the names of r's hosts in order, sharing one
// allocation.
func (s *Store) hostNames(r *batchRec) []string {
	n := 0
	for i := range r.jobs {
		n += len(s.hosts.nameBytes(r.jobs[i].host))
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := range r.jobs {
		sb.Write(s.hosts.nameBytes(r.jobs[i].host))
	}
	all := sb.String()
	out := make([]string, len(r.jobs))
	for i := range r.jobs {
		k := len(s.hosts.nameBytes(r.jobs[i].host))
		out[i], all = all[:k], all[k:]
	}
	return out
}

// batch returns a copy of r for a caller, with its jobs when withJobs.
func (s *Store) batch(r *batchRec, withJobs bool) *lifecycle.Batch {
	b := &lifecycle.Batch{
		ID: r.id, Owner: r.owner, Action: r.action, Hosts: s.hostNames(r), Snapshot: r.snapshot,
		Params: maps.Clone(r.params), Priority: r.priority, State: r.state(), Counts: r.counts,
		QueueAt:     time.Unix(0, r.qkey).UTC(),
		CancelledAt: r.cancelled.time(), CreatedAt: r.created.time(), UpdatedAt: r.updated.time(), FinishedAt: r.finished.time(),
	}
	if withJobs {
		b.Jobs = make([]lifecycle.Job, len(r.jobs))
		for i := range r.jobs {
			b.Jobs[i] = s.job(r, i, b.Hosts[i])
		}
	}
	return b
}

// job returns job i of r, on host host, for a caller.
func (s *Store) job(r *batchRec, i int, host string) lifecycle.Job {
	j := &r.jobs[i]
	l := r.labelsOf(i)
	created := r.created.time()
	out := lifecycle.Job{
		BatchID: r.id, Host: host, Action: r.action, Priority: r.priority,
		Datacenter: s.labels.names[l.dc], SKU: s.labels.names[l.sku],
		State: j.state.public(), Attempts: int(j.attempts), CancelRequested: j.cancel, Error: r.err(i),
		CreatedAt: created, UpdatedAt: created,
	}
	if r.more != nil && r.more.times != nil {
		t := &r.more.times[i]
		out.StartedAt, out.FinishedAt, out.UpdatedAt = t.started.time(), t.finished.time(), t.updated.time()
	}
	return out
}

// labels interns the datacenter and SKU names of jobs, which are few;
// index 0 is "".
type labels struct {
	names []string
	index map[string]int32
}

func newLabels() labels { return labels{names: []string{""}, index: map[string]int32{"": 0}} }

// intern returns the index of name, adding it when new.
func (l *labels) intern(name string) int32 {
	if name == "" {
		return 0
	}
	i, ok := l.index[name]
	if !ok {
		i = int32(len(l.names))
		l.names = append(l.names, name)
		l.index[name] = i
	}
	return i
}

// stamp is a time.Time without a pointer, in 12 bytes: seconds since
// January 1, year 1 UTC (split in two words), and nanoseconds, with
// stampLocal set when the time was in time.Local; a time in any other
// location comes back as the same instant in UTC. The monotonic clock
// reading is dropped. The zero stamp is the zero time.
type stamp struct {
	lo, hi uint32
	ns     uint32
}

const (
	// year1ToUnix is the number of seconds from January 1, year 1 to the
	// Unix epoch.
	year1ToUnix = 62135596800
	stampLocal  = 1 << 31
)

func stampOf(t time.Time) stamp {
	sec := uint64(t.Unix() + year1ToUnix)
	ns := uint32(t.Nanosecond())
	if t.Location() == time.Local {
		ns |= stampLocal
	}
	return stamp{lo: uint32(sec), hi: uint32(sec >> 32), ns: ns}
}

func (s stamp) time() time.Time {
	sec := int64(uint64(s.hi)<<32|uint64(s.lo)) - year1ToUnix
	t := time.Unix(sec, int64(s.ns&^stampLocal)) // in time.Local
	if s.ns&stampLocal != 0 {
		return t
	}
	return t.UTC()
}

func (s stamp) isZero() bool { return s == stamp{} }

// jobState is a lifecycle.JobState as an index in jobStates.
type jobState uint8

var jobStates = [...]lifecycle.JobState{lifecycle.JobPending, lifecycle.JobRunning,
	lifecycle.JobSucceeded, lifecycle.JobFailed, lifecycle.JobCancelled}

// jobStateOf returns the code of s; false when s is unknown.
func jobStateOf(s lifecycle.JobState) (jobState, bool) {
	switch s {
	case lifecycle.JobPending:
		return 0, true
	case lifecycle.JobRunning:
		return 1, true
	case lifecycle.JobSucceeded:
		return 2, true
	case lifecycle.JobFailed:
		return 3, true
	case lifecycle.JobCancelled:
		return 4, true
	}
	return 0, false
}

func (s jobState) public() lifecycle.JobState { return jobStates[s] }

// hostState is a lifecycle.HostState as an index in hostStates. The zero
// value is ready, the state of a host never seen.
type hostState uint8

var hostStates = [...]lifecycle.HostState{lifecycle.HostReady, lifecycle.HostClaimed, lifecycle.HostInProgress,
	lifecycle.HostFailed, lifecycle.HostMaintenance, lifecycle.HostDecommissioned}

// hostStateOf returns the code of s, which the caller has checked (with
// lifecycle.CheckHostTransition) or computed (with lifecycle.HostAfterJob).
func hostStateOf(s lifecycle.HostState) hostState {
	for i, hs := range hostStates {
		if hs == s {
			return hostState(i)
		}
	}
	panic(fmt.Sprintf("memstore: unknown host state %q", s))
}

func (s hostState) public() lifecycle.HostState { return hostStates[s] }
