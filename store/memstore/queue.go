package memstore

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var _ lifecycle.QueueStore = (*Store)(nil)

// The queue. Jobs never claimed wait in lanes, one per datacenter, action
// and priority: a batch appends runs of its jobs to their lanes at
// admission, in queue order (Batch.QueueAt grows with admission time within
// one priority), so a claim looks only at the head of each lane whose caps
// allow it and takes the first in queue order. Jobs given back for a retry
// wait in a heap by RetryAt, then join again (ordered by queue key) when
// due. Entries of jobs that left pending otherwise (a cancellation) are
// dropped when they reach the head.
type queue struct {
	lanes   map[laneKey]*lane
	retries retryHeap
	again   []jobRef         // due retries, in queue order
	waiting map[jobRef]int64 // RetryAt (unix ns) of pending jobs given back
	leases  map[jobRef]jobLease
	running map[laneKey]int // running jobs by datacenter and action (priority 0)
	steps   map[jobRef][]lifecycle.Step
	token   int64 // last fencing token issued
}

type laneKey struct {
	dc       int32
	action   lifecycle.Action
	priority int
}

// lane is a FIFO of jobs in queue order, as runs of consecutive jobs of
// one batch (a batch's jobs in one datacenter are usually one run, so
// admission adds one entry per batch, not one per job): spans[head:] are
// waiting.
type lane struct {
	spans []span
	head  int
}

// span is the jobs from to to-1 of batch seq.
type span struct{ seq, from, to int32 }

type jobLease struct {
	worker  string
	token   int64
	expires int64 // unix ns
}

func newQueue() queue {
	return queue{lanes: map[laneKey]*lane{}, waiting: map[jobRef]int64{}, leases: map[jobRef]jobLease{},
		running: map[laneKey]int{}, steps: map[jobRef][]lifecycle.Step{}}
}

// key orders jobs in the queue: the batch's QueueAt, then its seq, then
// the job's index.
type key struct {
	at       int64
	seq, job int32
}

func (s *Store) keyOf(ref jobRef) key {
	return key{s.batches[ref.batch].qkey, ref.batch, ref.job}
}

func compareKeys(a, b key) int {
	return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq), cmp.Compare(a.job, b.job))
}

func (k key) ref() jobRef { return jobRef{k.seq, k.job} }

// enqueue adds the jobs of new batch r (seq) to their lanes.
func (s *Store) enqueue(seq int32, r *batchRec) {
	var k laneKey
	var l *lane
	at := -1 // the index in l.spans of the run of r that job i may extend
	for i := range r.jobs {
		lk := laneKey{r.labelsOf(i).dc, r.action, r.priority}
		if l == nil || lk != k {
			k, at = lk, -1
			if l = s.q.lanes[k]; l == nil {
				l = &lane{}
				s.q.lanes[k] = l
			}
		}
		if at >= 0 && l.spans[at].to == int32(i) {
			l.spans[at].to++
			continue
		}
		// Batches arrive in queue order but for concurrent submitters
		// racing for the lock (or a change of Ageing): the place is at or
		// near the end.
		e := key{r.qkey, seq, int32(i)}
		at = len(l.spans)
		for at > l.head && compareKeys(s.spanKey(l.spans[at-1]), e) > 0 {
			at--
		}
		l.spans = slices.Insert(l.spans, at, span{seq, int32(i), int32(i) + 1})
	}
}

// spanKey is the queue key of the first job of sp.
func (s *Store) spanKey(sp span) key { return key{s.batches[sp.seq].qkey, sp.seq, sp.from} }

// claimable reports whether ref is pending and due at at.
func (s *Store) claimable(ref jobRef, at int64) bool {
	r := s.batches[ref.batch]
	if r.jobs[ref.job].state.public() != lifecycle.JobPending || !r.cancelled.isZero() {
		return false
	}
	w, ok := s.q.waiting[ref]
	return !ok || w <= at
}

// peek returns the head of l, dropping entries that are no longer
// pending; ok is false when l is empty.
func (s *Store) peek(l *lane, at int64) (key, bool) {
	for l.head < len(l.spans) {
		sp := &l.spans[l.head]
		for ; sp.from < sp.to; sp.from++ {
			if s.claimable(jobRef{sp.seq, sp.from}, at) {
				return s.spanKey(*sp), true
			}
		}
		l.head++
	}
	if l.head > 0 {
		l.spans, l.head = l.spans[:0], 0
	}
	return key{}, false
}

// pop removes the head of l, which peek returned.
func (l *lane) pop() {
	if l.spans[l.head].from++; l.spans[l.head].from < l.spans[l.head].to {
		return
	}
	l.head++
	if l.head > 1024 && l.head > len(l.spans)/2 {
		l.spans = append(l.spans[:0], l.spans[l.head:]...)
		l.head = 0
	}
}

// ClaimJobs implements lifecycle.QueueStore.
func (s *Store) ClaimJobs(ctx context.Context, r lifecycle.ClaimRequest) ([]lifecycle.Claim, error) {
	if r.Max < 1 || r.Worker == "" {
		return nil, fmt.Errorf("memstore: claim jobs: %w: worker %q, max %d", store.ErrInvalid, r.Worker, r.Max)
	}
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	at := r.At.UnixNano()
	for len(s.q.retries) > 0 && s.q.retries[0].at <= at {
		e := heap.Pop(&s.q.retries).(retryEntry)
		if w, ok := s.q.waiting[e.ref]; ok && w == e.at {
			s.q.again = append(s.q.again, e.ref)
		}
	}
	slices.SortFunc(s.q.again, func(x, y jobRef) int { return compareKeys(s.keyOf(x), s.keyOf(y)) })

	caps := lifecycle.NewCapTracker(r.Limits, s.runningCounts())
	var out []lifecycle.Claim
	for len(out) < r.Max && !caps.Full() {
		var best key
		var bestLane *lane
		againAt := -1
		found := false
		for k, l := range s.q.lanes {
			if !caps.Allows(s.labels.names[k.dc], k.action) {
				continue
			}
			kk, ok := s.peek(l, at)
			if !ok {
				if len(l.spans) == 0 {
					delete(s.q.lanes, k)
				}
				continue
			}
			if !found || compareKeys(kk, best) < 0 {
				best, bestLane, found = kk, l, true
			}
		}
		for i, ref := range s.q.again {
			if !s.claimable(ref, at) {
				continue
			}
			rec := s.batches[ref.batch]
			if !caps.Allows(s.labels.names[rec.labelsOf(int(ref.job)).dc], rec.action) {
				continue
			}
			if kk := s.keyOf(ref); !found || compareKeys(kk, best) < 0 {
				best, bestLane, againAt, found = kk, nil, i, true
			}
			break // again is in queue order
		}
		if !found {
			break
		}
		ref := best.ref()
		if bestLane != nil {
			bestLane.pop()
		} else {
			s.q.again = slices.Delete(s.q.again, againAt, againAt+1)
		}
		rec := s.batches[ref.batch]
		caps.Admit(s.labels.names[rec.labelsOf(int(ref.job)).dc], rec.action)
		out = append(out, s.claim(ref, r))
	}
	s.dropDeadAgain(at)
	return out, nil
}

// dropDeadAgain removes entries of again that left pending.
func (s *Store) dropDeadAgain(at int64) {
	s.q.again = slices.DeleteFunc(s.q.again, func(ref jobRef) bool {
		return s.batches[ref.batch].jobs[ref.job].state.public() != lifecycle.JobPending
	})
}

// claim moves pending job ref to running under a new lease for r.
func (s *Store) claim(ref jobRef, r lifecycle.ClaimRequest) lifecycle.Claim {
	rec := s.batches[ref.batch]
	i := int(ref.job)
	delete(s.q.waiting, ref)
	s.applyJob(ref.batch, rec, i, lifecycle.JobUpdate{From: lifecycle.JobPending, To: lifecycle.JobRunning, At: r.At})
	s.q.token++
	l := jobLease{worker: r.Worker, token: s.q.token, expires: r.LeaseUntil.UnixNano()}
	s.q.leases[ref] = l
	host := s.hosts.name(rec.jobs[i].host)
	c := lifecycle.Claim{
		Job:      s.job(rec, i, host),
		Lease:    lifecycle.JobLease{BatchID: rec.id, Host: host, Token: l.token},
		Snapshot: rec.snapshot,
	}
	if rec.params != nil {
		c.Params = make(map[string]string, len(rec.params))
		for k, v := range rec.params {
			c.Params[k] = v
		}
	}
	return c
}

// runningCounts lists the running jobs by datacenter and action.
func (s *Store) runningCounts() []lifecycle.RunningCount {
	out := make([]lifecycle.RunningCount, 0, len(s.q.running))
	for k, n := range s.q.running {
		if n > 0 {
			out = append(out, lifecycle.RunningCount{Datacenter: s.labels.names[k.dc], Action: k.action, Running: n})
		}
	}
	return out
}

// leased returns the job lease l holds, or false.
func (s *Store) leased(l lifecycle.JobLease) (jobRef, *batchRec, bool) {
	seq, r := s.batchByID(l.BatchID)
	if r == nil {
		return jobRef{}, nil, false
	}
	i := s.jobOf(seq, l.Host)
	if i < 0 {
		return jobRef{}, nil, false
	}
	ref := jobRef{seq, int32(i)}
	cur, ok := s.q.leases[ref]
	if !ok || cur.token != l.Token {
		return jobRef{}, nil, false
	}
	return ref, r, true
}

// Heartbeat implements lifecycle.QueueStore.
func (s *Store) Heartbeat(ctx context.Context, r lifecycle.HeartbeatRequest) ([]lifecycle.LeaseState, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lifecycle.LeaseState, len(r.Leases))
	for i, l := range r.Leases {
		ref, rec, ok := s.leased(l)
		if !ok {
			continue // LeaseLost
		}
		cur := s.q.leases[ref]
		cur.expires = r.Until.UnixNano()
		s.q.leases[ref] = cur
		out[i] = lifecycle.LeaseHeld
		if rec.jobs[ref.job].cancel {
			out[i] = lifecycle.LeaseCancelRequested
		}
	}
	return out, nil
}

// RecordStep implements lifecycle.QueueStore.
func (s *Store) RecordStep(ctx context.Context, l lifecycle.JobLease, st lifecycle.Step) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	ref, _, ok := s.leased(l)
	if !ok {
		return lifecycle.LeaseLostError(l)
	}
	s.q.steps[ref] = append(s.q.steps[ref], st)
	return nil
}

// FinishJobs implements lifecycle.QueueStore.
func (s *Store) FinishJobs(ctx context.Context, rs []lifecycle.JobResult) ([]lifecycle.Finished, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make([]lifecycle.Finished, len(rs))
	for k, res := range rs {
		ref, rec, ok := s.leased(res.Lease)
		if !ok {
			out[k].Err = lifecycle.LeaseLostError(res.Lease)
			continue
		}
		i := int(ref.job)
		u := lifecycle.JobUpdate{BatchID: rec.id, Host: res.Lease.Host, From: lifecycle.JobRunning,
			To: lifecycle.FinishedState(res, rec.jobs[i].cancel), Error: res.Error, At: res.At}
		if err := lifecycle.CheckJobTransition(lifecycle.JobRunning, u); err != nil {
			out[k].Err = err
			continue
		}
		s.applyJob(ref.batch, rec, i, u)
		if u.To == lifecycle.JobPending && !res.RetryAt.IsZero() {
			s.wait(ref, res.RetryAt)
		}
		out[k].State = u.To
		if st := rec.state(); !st.Active() {
			out[k].BatchEnded, out[k].BatchState = true, st
		}
	}
	return out, nil
}

// wait queues pending job ref for a retry at at.
func (s *Store) wait(ref jobRef, at time.Time) {
	ns := at.UnixNano()
	if at.IsZero() {
		ns = 0
	}
	s.q.waiting[ref] = ns
	heap.Push(&s.q.retries, retryEntry{ns, ref})
}

// RescueJobs implements lifecycle.QueueStore.
func (s *Store) RescueJobs(ctx context.Context, at time.Time, max int) ([]lifecycle.Job, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := at.UnixNano()
	var expired []jobRef
	for ref, l := range s.q.leases {
		if l.expires < now {
			expired = append(expired, ref)
		}
	}
	slices.SortFunc(expired, func(x, y jobRef) int { return compareKeys(s.keyOf(x), s.keyOf(y)) })
	if max > 0 && len(expired) > max {
		expired = expired[:max]
	}
	out := make([]lifecycle.Job, 0, len(expired))
	for _, ref := range expired {
		rec := s.batches[ref.batch]
		i := int(ref.job)
		l := s.q.leases[ref]
		to := lifecycle.JobPending
		if rec.jobs[i].cancel {
			to = lifecycle.JobCancelled
		}
		s.applyJob(ref.batch, rec, i, lifecycle.JobUpdate{From: lifecycle.JobRunning, To: to, At: at,
			Error: lifecycle.LeaseExpiredMessage(l.worker, time.Unix(0, l.expires).UTC())})
		out = append(out, s.job(rec, i, s.hosts.name(rec.jobs[i].host)))
	}
	return out, nil
}

// JobSteps implements lifecycle.QueueStore.
func (s *Store) JobSteps(ctx context.Context, batchID, host string) ([]lifecycle.Step, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	seq, r := s.batchByID(batchID)
	i := -1
	if r != nil {
		i = s.jobOf(seq, host)
	}
	if i < 0 {
		return nil, fmt.Errorf("job %s/%s: %w", batchID, host, store.ErrNotFound)
	}
	return slices.Clone(s.q.steps[jobRef{seq, int32(i)}]), nil
}

// queueMoved keeps the queue's books when job i of batch r moves from one
// state to another (applyJob calls it).
func (s *Store) queueMoved(r *batchRec, seq int32, i int, from, to lifecycle.JobState) {
	k := laneKey{dc: r.labelsOf(i).dc, action: r.action}
	ref := jobRef{seq, int32(i)}
	if from == lifecycle.JobRunning {
		s.q.running[k]--
		delete(s.q.leases, ref)
	}
	if to == lifecycle.JobRunning {
		s.q.running[k]++
	}
	if from == lifecycle.JobRunning && to == lifecycle.JobPending {
		s.wait(ref, time.Time{}) // a retry through UpdateJob; FinishJobs sets RetryAt after
	}
	if to.Ended() {
		delete(s.q.waiting, ref)
	}
}

type retryEntry struct {
	at  int64
	ref jobRef
}

type retryHeap []retryEntry

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(retryEntry)) }
func (h *retryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
