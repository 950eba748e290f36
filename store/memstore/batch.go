package memstore

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// CreateBatch implements lifecycle.Store. Besides the contract's errors, it
// refuses a batch whose jobs do not match its hosts one for one (see
// newBatchRec) with an error wrapping lifecycle.ErrInvalidBatch.
func (s *Store) CreateBatch(ctx context.Context, b *lifecycle.Batch) error {
	// Do all that can be done before taking the lock: copy b, hash its
	// keys, bring the index slots they start at into the CPU cache, and
	// allocate any memory the store is about to need (see spares).
	r, err := newBatchRec(b)
	if err != nil {
		return err
	}
	var buf [16]uint64
	hashes := buf[:0]
	if len(b.Hosts) > len(buf) {
		hashes = make([]uint64, 0, len(b.Hosts))
	}
	for _, name := range b.Hosts {
		hashes = append(hashes, s.hash(name))
	}
	idHash := s.hash(b.ID)
	sink := s.ids.touch(idHash)
	for _, h := range hashes { // a tight loop, whose cache misses overlap
		sink += s.hosts.index.touch(h)
	}
	runtime.KeepAlive(sink)
	twice := listsTwice(b.Hosts, hashes)
	var fresh *spares
	low := s.low.Load()
	if low != 0 && low&lowPending == 0 && s.low.CompareAndSwap(low, lowPending) {
		fresh = makeSpares(low)
	}

	if err := s.lock(ctx); err != nil {
		if fresh != nil {
			s.low.Store(low) // let another caller allocate them
		}
		return err
	}
	defer s.mu.Unlock()
	if fresh != nil {
		s.spares.add(fresh)
	}
	defer s.askSpares(fresh != nil)

	// IDs sort by creation time, so a new batch almost always sorts last,
	// and then it cannot exist yet.
	last := len(s.order) == 0 || s.batches[s.order[len(s.order)-1]].id < b.ID
	if !last && s.seqOf(b.ID, idHash) >= 0 {
		return fmt.Errorf("memstore: batch %s: %w: the ID is taken", b.ID, lifecycle.ErrInvalidBatch)
	}
	// Decide. Every host is looked up before any is examined: lookups
	// that miss the CPU cache overlap when made back to back.
	for i, name := range b.Hosts {
		r.jobs[i].host = s.hosts.find(name, hashes[i])
	}
	var conflicts []lifecycle.Conflict
	var unavailable []lifecycle.HostProblem
	for i, name := range b.Hosts {
		hi := r.jobs[i].host
		if hi < 0 {
			continue // never seen: ready
		}
		switch st := s.hosts.rec(hi).state.public(); {
		case st.Admissible():
		case st.Held():
			conflicts = append(conflicts, lifecycle.Conflict{Host: name, BatchID: s.holder(hi)})
		default:
			unavailable = append(unavailable, lifecycle.UnavailableProblem(s.host(hi, name)))
		}
	}
	if err := lifecycle.AdmissionError(conflicts, unavailable); err != nil {
		return err
	}

	// Admit: claim the hosts and put the jobs at the head of their
	// histories.
	seq := int32(len(s.batches))
	var dc, sku string // the last labels interned, which the next job likely shares
	var l jobLabels
	for i := range r.jobs {
		j := &r.jobs[i]
		if j.host < 0 && twice { // the host may have been added for an earlier job
			j.host = s.hosts.find(b.Hosts[i], hashes[i])
		}
		if j.host < 0 {
			j.host = s.hosts.add(b.Hosts[i], hashes[i], &s.spares)
		}
		h := s.hosts.rec(j.host)
		j.prev, h.last = h.last, jobRef{seq, int32(i)}
		h.state = hostClaimed
		h.updated = r.created
		if h.hasReason {
			s.hosts.setReason(j.host, "")
		}
		if in := &b.Jobs[i]; in.Datacenter != dc || in.SKU != sku {
			dc, sku = in.Datacenter, in.SKU
			l = jobLabels{s.labels.intern(dc), s.labels.intern(sku)}
		}
		r.setLabels(i, l)
	}
	s.batches = append(s.batches, r)
	s.ids.insert(idHash, seq, &s.spares)
	s.enqueue(seq, r)
	if last {
		s.order = append(s.order, seq)
	} else {
		s.order = slices.Insert(s.order, s.orderPos(b.ID), seq)
	}
	b.State = r.state()
	b.UpdatedAt = b.CreatedAt
	return nil
}

// listsTwice reports whether names, whose hashes are hashes, holds a name
// twice.
func listsTwice(names []string, hashes []uint64) bool {
	if len(names) > 32 {
		seen := make(map[string]struct{}, len(names))
		for _, name := range names {
			if _, ok := seen[name]; ok {
				return true
			}
			seen[name] = struct{}{}
		}
		return false
	}
	for i := range hashes {
		for k := range i {
			if hashes[k] == hashes[i] && names[k] == names[i] {
				return true
			}
		}
	}
	return false
}

// orderPos returns the index in s.order where batch id goes, id sorting
// before the last batch there. Batches are admitted about in the order of
// their IDs, so the place is usually a few from the end.
func (s *Store) orderPos(id string) int {
	i := len(s.order)
	for range 8 {
		if i == 0 || s.batches[s.order[i-1]].id < id {
			return i
		}
		i--
	}
	return s.searchID(s.order[:i], id)
}

// askSpares raises s.low when the spares run short, unless another caller
// is already allocating them; deposited says this caller just did.
func (s *Store) askSpares(deposited bool) {
	m := s.spares.low()
	if cur := s.low.Load(); cur != m && (deposited || cur&lowPending == 0) {
		s.low.Store(m)
	}
}

// seqOf returns the seq of batch id, whose hash is hash, or -1.
func (s *Store) seqOf(id string, hash uint64) int32 {
	for q := s.ids.probe(hash); ; {
		seq, ok := q.next()
		if !ok {
			return -1
		}
		if s.batches[seq].id == id {
			return seq
		}
	}
}

// batchByID returns batch id, or nil.
func (s *Store) batchByID(id string) (int32, *batchRec) {
	seq := s.seqOf(id, s.hash(id))
	if seq < 0 {
		return -1, nil
	}
	return seq, s.batches[seq]
}

// hostClaimed is lifecycle.HostClaimed, which admission sets.
var hostClaimed = hostStateOf(lifecycle.HostClaimed)

// searchID returns the index of the first of seqs, sorted by batch ID,
// whose ID is id or later.
func (s *Store) searchID(seqs []int32, id string) int {
	return sort.Search(len(seqs), func(k int) bool { return s.batches[seqs[k]].id >= id })
}

// sortByID sorts seqs by batch ID.
func (s *Store) sortByID(seqs []int32) {
	slices.SortFunc(seqs, func(x, y int32) int { return strings.Compare(s.batches[x].id, s.batches[y].id) })
}

// Batch implements lifecycle.Store.
func (s *Store) Batch(ctx context.Context, id string) (*lifecycle.Batch, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	_, r := s.batchByID(id)
	if r == nil {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return s.batch(r, true), nil
}

// ListBatches implements lifecycle.Store.
func (s *Store) ListBatches(ctx context.Context, f lifecycle.BatchFilter) (lifecycle.BatchPage, error) {
	after, err := lifecycle.ParseBatchCursor(f.Cursor)
	if err != nil {
		return lifecycle.BatchPage{}, err
	}
	if err := s.lock(ctx); err != nil {
		return lifecycle.BatchPage{}, err
	}
	defer s.mu.Unlock()
	seqs := s.order
	if f.Host != "" {
		hi := s.findHost(f.Host)
		if hi < 0 {
			return lifecycle.BatchPage{}, nil
		}
		seqs = s.history(hi)
	}
	limit := lifecycle.PageLimit(f.Limit)
	var page lifecycle.BatchPage
	// Newest first: walk backwards from the cursor.
	i := len(seqs)
	if after != "" {
		i = s.searchID(seqs, after)
	}
	for i--; i >= 0; i-- {
		r := s.batches[seqs[i]]
		if !matchBatch(r, f) {
			continue
		}
		if len(page.Batches) == limit {
			page.Next = lifecycle.BatchCursor(page.Batches[limit-1])
			break
		}
		page.Batches = append(page.Batches, s.batch(r, false))
	}
	return page, nil
}

func matchBatch(r *batchRec, f lifecycle.BatchFilter) bool {
	switch {
	case f.Owner != "" && r.owner != f.Owner,
		f.Action != "" && r.action != f.Action,
		len(f.States) > 0 && !slices.Contains(f.States, r.state()),
		!f.CreatedAfter.IsZero() && !r.created.time().After(f.CreatedAfter),
		!f.CreatedBefore.IsZero() && !r.created.time().Before(f.CreatedBefore):
		return false
	}
	return true
}

// CancelBatch implements lifecycle.Store.
func (s *Store) CancelBatch(ctx context.Context, id string, at time.Time) (*lifecycle.Batch, bool, error) {
	if err := s.lock(ctx); err != nil {
		return nil, false, err
	}
	defer s.mu.Unlock()
	seq, r := s.batchByID(id)
	if r == nil {
		return nil, false, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	if !r.state().Active() || !r.cancelled.isZero() {
		return s.batch(r, false), false, nil
	}
	for i := range r.jobs {
		j := &r.jobs[i]
		switch j.state.public() {
		case lifecycle.JobPending:
			s.applyJob(seq, r, i, lifecycle.JobUpdate{To: lifecycle.JobCancelled, At: at})
		case lifecycle.JobRunning:
			j.cancel = true
			r.timesOf(i).updated = stampOf(at)
		}
	}
	r.cancelled = stampOf(at)
	r.updated = r.cancelled
	return s.batch(r, false), true, nil
}
