package memstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var (
	_ lifecycle.Store = (*Store)(nil)
	_ store.Backend   = (*Store)(nil)
)

func init() {
	store.Register("memory", func(_ context.Context, _ *url.URL) (store.Backend, error) {
		return New(nil), nil
	})
}

// Options configures a Store. nil means the defaults.
type Options struct {
	// Now is the clock that judges lease expiry (default time.Now).
	Now func() time.Time
}

// Store is an in-memory lifecycle.Store and store.Locker.
type Store struct {
	now func() time.Time

	mu      sync.Mutex
	closed  bool
	batches map[string]*lifecycle.Batch // jobs kept in Jobs
	order   []string                    // batch IDs; sorted when !dirty
	dirty   bool
	hosts   map[string]*hostRec
	leases  map[string]store.Lease // last lease per name, expired or not
}

// New returns an empty Store.
func New(opts *Options) *Store {
	s := &Store{
		now:     time.Now,
		batches: map[string]*lifecycle.Batch{},
		hosts:   map[string]*hostRec{},
		leases:  map[string]store.Lease{},
	}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

// Close empties the store; later calls fail with store.ErrClosed.
func (s *Store) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.batches, s.hosts, s.leases, s.order = nil, nil, nil, nil
	return nil
}

// lock takes the mutex, failing when the store is closed or ctx is done.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}

// hostRec is a host's state and the IDs of every batch that held it, in
// order of admission.
type hostRec struct {
	lifecycle.Host
	history []string
}

// host returns the state of name; a host never seen is ready.
func (s *Store) host(name string) lifecycle.Host {
	if h, ok := s.hosts[name]; ok {
		return h.Host
	}
	return lifecycle.Host{Name: name, State: lifecycle.HostReady}
}

// setHost records h, creating the host's record on first use.
func (s *Store) setHost(h lifecycle.Host) *hostRec {
	r := s.hosts[h.Name]
	if r == nil {
		r = &hostRec{}
		s.hosts[h.Name] = r
	}
	r.Host = h
	return r
}

// history returns the IDs of the batches that held host name.
func (s *Store) history(name string) []string {
	if r := s.hosts[name]; r != nil {
		return slices.Clone(r.history)
	}
	return nil
}

// CreateBatch implements lifecycle.Store.
func (s *Store) CreateBatch(ctx context.Context, b *lifecycle.Batch) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, dup := s.batches[b.ID]; dup {
		return fmt.Errorf("memstore: batch %s already exists", b.ID)
	}
	var conflicts []lifecycle.Conflict
	var unavailable []lifecycle.HostProblem
	for _, name := range b.Hosts {
		h := s.host(name)
		switch {
		case h.State.Admissible():
		case h.State.Held():
			conflicts = append(conflicts, lifecycle.Conflict{Host: name, BatchID: h.BatchID})
		default:
			unavailable = append(unavailable, lifecycle.UnavailableProblem(h))
		}
	}
	if err := lifecycle.AdmissionError(conflicts, unavailable); err != nil {
		return err
	}
	for _, name := range b.Hosts {
		r := s.setHost(lifecycle.Host{Name: name, State: lifecycle.HostClaimed, BatchID: b.ID, UpdatedAt: b.CreatedAt})
		r.history = append(r.history, b.ID)
	}
	b.State = b.Counts.State()
	b.UpdatedAt = b.CreatedAt
	c := copyBatch(b, true)
	s.batches[b.ID] = c
	if n := len(s.order); n > 0 && s.order[n-1] > b.ID {
		s.dirty = true
	}
	s.order = append(s.order, b.ID)
	return nil
}

// copyBatch returns a deep copy of b, with its jobs when jobs is true.
func copyBatch(b *lifecycle.Batch, jobs bool) *lifecycle.Batch {
	c := *b
	c.Hosts = slices.Clone(b.Hosts)
	c.Params = maps.Clone(b.Params)
	c.Jobs = nil
	if jobs {
		c.Jobs = slices.Clone(b.Jobs)
	}
	return &c
}

// Batch implements lifecycle.Store.
func (s *Store) Batch(ctx context.Context, id string) (*lifecycle.Batch, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	return copyBatch(b, true), nil
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
	ids := s.order
	if f.Host != "" {
		ids = s.history(f.Host)
		slices.Sort(ids)
	} else if s.dirty {
		slices.Sort(s.order)
		s.dirty = false
		ids = s.order
	}
	limit := lifecycle.PageLimit(f.Limit)
	var page lifecycle.BatchPage
	// Newest first: walk backwards from the cursor.
	i := len(ids)
	if after != "" {
		i, _ = slices.BinarySearch(ids, after)
	}
	for i--; i >= 0; i-- {
		b := s.batches[ids[i]]
		if !matchBatch(b, f) {
			continue
		}
		if len(page.Batches) == limit {
			page.Next = lifecycle.BatchCursor(page.Batches[limit-1])
			break
		}
		page.Batches = append(page.Batches, copyBatch(b, false))
	}
	return page, nil
}

func matchBatch(b *lifecycle.Batch, f lifecycle.BatchFilter) bool {
	switch {
	case f.Owner != "" && b.Owner != f.Owner,
		f.Action != "" && b.Action != f.Action,
		len(f.States) > 0 && !slices.Contains(f.States, b.State),
		!f.CreatedAfter.IsZero() && !b.CreatedAt.After(f.CreatedAfter),
		!f.CreatedBefore.IsZero() && !b.CreatedAt.Before(f.CreatedBefore):
		return false
	}
	return true
}

// CancelBatch implements lifecycle.Store.
func (s *Store) CancelBatch(ctx context.Context, id string, at time.Time) (*lifecycle.Batch, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	b, ok := s.batches[id]
	if !ok {
		return nil, fmt.Errorf("batch %s: %w", id, store.ErrNotFound)
	}
	if !b.State.Active() || !b.CancelledAt.IsZero() {
		return copyBatch(b, false), nil
	}
	for i := range b.Jobs {
		j := &b.Jobs[i]
		switch j.State {
		case lifecycle.JobPending:
			s.applyJob(b, j, lifecycle.JobUpdate{BatchID: id, Host: j.Host, From: j.State, To: lifecycle.JobCancelled, At: at})
		case lifecycle.JobRunning:
			j.CancelRequested = true
			j.UpdatedAt = at
		}
	}
	b.CancelledAt = at
	b.UpdatedAt = at
	return copyBatch(b, false), nil
}

// applyJob moves job j of batch b as u says, with its host and batch. The
// transition has been checked.
func (s *Store) applyJob(b *lifecycle.Batch, j *lifecycle.Job, u lifecycle.JobUpdate) {
	b.Counts.Add(j.State, -1)
	b.Counts.Add(u.To, 1)
	j.State = u.To
	j.UpdatedAt = u.At
	if u.Error != "" {
		j.Error = u.Error
	}
	if u.To == lifecycle.JobRunning {
		j.Attempts++
		if j.StartedAt.IsZero() {
			j.StartedAt = u.At
		}
	}
	h := s.host(j.Host)
	h.State = lifecycle.HostAfterJob(b.Action, u.To)
	h.UpdatedAt = u.At
	if !h.State.Held() {
		h.BatchID = ""
	}
	if u.To.Ended() {
		j.FinishedAt = u.At
	}
	s.setHost(h)
	b.State = b.Counts.State()
	b.UpdatedAt = u.At
	if !b.State.Active() && b.FinishedAt.IsZero() {
		b.FinishedAt = u.At
	}
}

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
	var ids []string
	switch {
	case f.BatchID != "":
		if _, ok := s.batches[f.BatchID]; ok {
			ids = []string{f.BatchID}
		}
	case f.Host != "":
		ids = s.history(f.Host)
	default:
		ids = slices.Collect(maps.Keys(s.batches))
	}
	slices.Sort(ids)
	limit := lifecycle.PageLimit(f.Limit)
	var page lifecycle.JobPage
	start, _ := slices.BinarySearch(ids, afterBatch)
	for _, id := range ids[start:] {
		b := s.batches[id]
		if f.Action != "" && b.Action != f.Action {
			continue
		}
		jobs := slices.Clone(b.Jobs)
		sort.Slice(jobs, func(i, k int) bool { return jobs[i].Host < jobs[k].Host })
		for _, j := range jobs {
			if id == afterBatch && j.Host <= afterHost {
				continue
			}
			if !matchJob(j, f) {
				continue
			}
			if len(page.Jobs) == limit {
				page.Next = lifecycle.JobCursor(page.Jobs[limit-1])
				return page, nil
			}
			page.Jobs = append(page.Jobs, j)
		}
	}
	return page, nil
}

func matchJob(j lifecycle.Job, f lifecycle.JobFilter) bool {
	switch {
	case f.Host != "" && j.Host != f.Host,
		len(f.States) > 0 && !slices.Contains(f.States, j.State),
		!f.FinishedAfter.IsZero() && !j.FinishedAt.After(f.FinishedAfter):
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
	b, ok := s.batches[u.BatchID]
	if !ok {
		return nil, fmt.Errorf("job %s/%s: %w", u.BatchID, u.Host, store.ErrNotFound)
	}
	i := slices.IndexFunc(b.Jobs, func(j lifecycle.Job) bool { return j.Host == u.Host })
	if i < 0 {
		return nil, fmt.Errorf("job %s/%s: %w", u.BatchID, u.Host, store.ErrNotFound)
	}
	j := &b.Jobs[i]
	if err := lifecycle.CheckJobTransition(j.State, u); err != nil {
		return nil, err
	}
	s.applyJob(b, j, u)
	out := *j
	return &out, nil
}

// ActiveCounts implements lifecycle.Store.
func (s *Store) ActiveCounts(ctx context.Context) ([]lifecycle.ActiveCount, error) {
	if err := s.lock(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	type key struct {
		dc string
		a  lifecycle.Action
	}
	counts := map[key]*lifecycle.ActiveCount{}
	for _, b := range s.batches {
		if !b.State.Active() {
			continue
		}
		for _, j := range b.Jobs {
			if j.State != lifecycle.JobPending && j.State != lifecycle.JobRunning {
				continue
			}
			k := key{j.Datacenter, j.Action}
			c := counts[k]
			if c == nil {
				c = &lifecycle.ActiveCount{Datacenter: j.Datacenter, Action: j.Action}
				counts[k] = c
			}
			if j.State == lifecycle.JobPending {
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

// Host implements lifecycle.Store.
func (s *Store) Host(ctx context.Context, name string) (lifecycle.Host, error) {
	if err := s.lock(ctx); err != nil {
		return lifecycle.Host{}, err
	}
	defer s.mu.Unlock()
	return s.host(name), nil
}

// SetHostState implements lifecycle.Store.
func (s *Store) SetHostState(ctx context.Context, t lifecycle.HostTransition) (lifecycle.Host, error) {
	if err := s.lock(ctx); err != nil {
		return lifecycle.Host{}, err
	}
	defer s.mu.Unlock()
	h := s.host(t.Host)
	if err := lifecycle.CheckHostTransition(h, t); err != nil {
		return lifecycle.Host{}, err
	}
	h = lifecycle.Host{Name: t.Host, State: t.To, Reason: t.Reason, UpdatedAt: t.At}
	s.setHost(h)
	return h, nil
}

// Acquire implements store.Locker.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(name, ttl); err != nil {
		return store.Lease{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	now := s.now()
	cur, ok := s.leases[name]
	if ok && now.Before(cur.Expires) {
		return store.Lease{}, fmt.Errorf("acquire %q: %w until %s", name, store.ErrLocked, cur.Expires.UTC().Format(time.RFC3339))
	}
	l := store.Lease{Name: name, Holder: store.NewHolder(), Token: cur.Token + 1, Expires: now.Add(ttl)}
	s.leases[name] = l
	return l, nil
}

// held returns the lease when l is still its current, unexpired holder.
func (s *Store) held(l store.Lease) error {
	cur, ok := s.leases[l.Name]
	if !ok || cur.Holder != l.Holder || cur.Token != l.Token || !s.now().Before(cur.Expires) {
		return fmt.Errorf("%s: %w", l, store.ErrNotHeld)
	}
	return nil
}

// Renew implements store.Locker.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(l.Name, ttl); err != nil {
		return store.Lease{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	if err := s.held(l); err != nil {
		return store.Lease{}, err
	}
	l.Expires = s.now().Add(ttl)
	s.leases[l.Name] = l
	return l, nil
}

// Release implements store.Locker.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.held(l); err != nil {
		return err
	}
	cur := s.leases[l.Name]
	cur.Expires = time.Time{} // free; the token survives
	s.leases[l.Name] = cur
	return nil
}
