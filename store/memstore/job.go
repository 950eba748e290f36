package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// ListJobs implements lifecycle.Store.
func (s *Store) ListJobs(ctx context.Context, f lifecycle.JobFilter) (lifecycle.JobPage, error) {
	afterBatch, afterHost, err := lifecycle.ParseJobCursor(f.Cursor)
	if err != nil {
		return lifecycle.JobPage{}, err
	}
	if err := s.lock(ctx); err != nil {
		return lifecycle.JobPage{}, err
	}
	defer s.mu.Unlock()
	host := int32(-1)
	if f.Host != "" {
		if host = s.findHost(f.Host); host < 0 {
			return lifecycle.JobPage{}, nil
		}
	}
	var seqs []int32 // sorted by batch ID
	switch {
	case f.BatchID != "":
		if seq, r := s.batchByID(f.BatchID); r != nil {
			seqs = []int32{seq}
		}
	case host >= 0:
		seqs = s.history(host)
	default:
		seqs = s.order
	}
	limit := lifecycle.PageLimit(f.Limit)
	var page lifecycle.JobPage
	for _, seq := range seqs[s.searchID(seqs, afterBatch):] {
		r := s.batches[seq]
		if !mayMatch(r, f) {
			continue
		}
		cont := r.id == afterBatch // the cursor's batch: skip hosts up to afterHost
		for _, i := range s.jobsByHost(r, host) {
			j := &r.jobs[i]
			if cont && string(s.hosts.nameBytes(j.host)) <= afterHost {
				continue
			}
			if !matchJob(r, int(i), f) {
				continue
			}
			if len(page.Jobs) == limit {
				page.Next = lifecycle.JobCursor(page.Jobs[limit-1])
				return page, nil
			}
			page.Jobs = append(page.Jobs, s.job(r, int(i), s.hosts.name(j.host)))
		}
	}
	return page, nil
}

// jobsByHost returns the indices of r's jobs sorted by host; only those on
// host host when host is not -1.
func (s *Store) jobsByHost(r *batchRec, host int32) []int32 {
	var out []int32
	if host >= 0 {
		for i := range r.jobs {
			if r.jobs[i].host == host {
				out = append(out, int32(i))
			}
		}
		return out
	}
	out = make([]int32, len(r.jobs))
	for i := range out {
		out[i] = int32(i)
	}
	slices.SortFunc(out, func(x, y int32) int {
		return bytes.Compare(s.hosts.nameBytes(r.jobs[x].host), s.hosts.nameBytes(r.jobs[y].host))
	})
	return out
}

// mayMatch reports whether batch r can hold jobs that f selects, by f's
// action and by r's counts of f's states.
func mayMatch(r *batchRec, f lifecycle.JobFilter) bool {
	if f.Action != "" && r.action != f.Action {
		return false
	}
	if len(f.States) == 0 {
		return true
	}
	c := r.counts
	for _, st := range f.States {
		n := 0
		switch st {
		case lifecycle.JobPending:
			n = c.Pending
		case lifecycle.JobRunning:
			n = c.Running
		case lifecycle.JobSucceeded:
			n = c.Succeeded
		case lifecycle.JobFailed:
			n = c.Failed
		case lifecycle.JobCancelled:
			n = c.Cancelled
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// matchJob reports whether job i of r passes f's state and time filters; the
// caller has applied the others.
func matchJob(r *batchRec, i int, f lifecycle.JobFilter) bool {
	switch {
	case len(f.States) > 0 && !slices.Contains(f.States, r.jobs[i].state.public()),
		!f.FinishedAfter.IsZero() && !r.finishedAt(i).After(f.FinishedAfter):
		return false
	}
	return true
}

// UpdateJob implements lifecycle.Store.
func (s *Store) UpdateJob(ctx context.Context, u lifecycle.JobUpdate) (*lifecycle.Job, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	i := -1
	seq, r := s.batchByID(u.BatchID)
	if r != nil {
		i = s.jobOf(seq, u.Host)
	}
	if i < 0 {
		return nil, fmt.Errorf("job %s/%s: %w", u.BatchID, u.Host, store.ErrNotFound)
	}
	if err := lifecycle.CheckJobTransition(r.jobs[i].state.public(), u); err != nil {
		return nil, err
	}
	s.applyJob(seq, r, i, u)
	out := s.job(r, i, u.Host)
	return &out, nil
}

// jobOf returns the index of the job on host name in batch seq, or -1. It
// walks the host's history from the newest job, which for a job that has
// not ended is the one sought.
func (s *Store) jobOf(seq int32, name string) int {
	hi := s.findHost(name)
	if hi < 0 {
		return -1
	}
	i := -1
	for ref := s.hosts.rec(hi).last; ref.batch >= seq; ref = s.batches[ref.batch].jobs[ref.job].prev {
		if ref.batch == seq {
			i = int(ref.job) // the chain runs back to the batch's first job on the host
		}
	}
	return i
}

// applyJob moves job i of batch r (seq) as u says, with its host, its
// batch and the queue. The transition has been checked.
func (s *Store) applyJob(seq int32, r *batchRec, i int, u lifecycle.JobUpdate) {
	j := &r.jobs[i]
	s.queueMoved(r, seq, i, j.state.public(), u.To)
	r.counts.Add(j.state.public(), -1)
	r.counts.Add(u.To, 1)
	j.state, _ = jobStateOf(u.To)
	at := stampOf(u.At)
	t := r.timesOf(i)
	t.updated = at
	if u.Error != "" {
		r.setErr(i, u.Error)
	}
	if u.To == lifecycle.JobRunning {
		j.attempts++
		if t.started.isZero() {
			t.started = at
		}
	}
	if u.To.Ended() {
		t.finished = at
	}
	// The host's BatchID follows from its state and history (see
	// Store.host), so moving its state is enough to release it.
	h := s.hosts.rec(j.host)
	h.state = hostStateOf(lifecycle.HostAfterJob(r.action, u.To))
	h.updated = at
	r.updated = at
	if !r.state().Active() && r.finished.isZero() {
		r.finished = at
	}
}

// ActiveCounts implements lifecycle.Store.
func (s *Store) ActiveCounts(ctx context.Context) ([]lifecycle.ActiveCount, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	type key struct {
		dc int32
		a  lifecycle.Action
	}
	counts := map[key]*lifecycle.ActiveCount{}
	for _, r := range s.batches {
		if !r.state().Active() {
			continue
		}
		for i := range r.jobs {
			j := &r.jobs[i]
			st := j.state.public()
			if st != lifecycle.JobPending && st != lifecycle.JobRunning {
				continue
			}
			dc := r.labelsOf(i).dc
			k := key{dc, r.action}
			c := counts[k]
			if c == nil {
				c = &lifecycle.ActiveCount{Datacenter: s.labels.names[dc], Action: r.action}
				counts[k] = c
			}
			if st == lifecycle.JobPending {
				c.Pending++
			} else {
				c.Running++
			}
		}
	}
	out := make([]lifecycle.ActiveCount, 0, len(counts))
	for _, c := range counts {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(x, y lifecycle.ActiveCount) int {
		return cmp.Or(cmp.Compare(x.Datacenter, y.Datacenter), cmp.Compare(x.Action, y.Action))
	})
	return out, nil
}
