package lifecycle

import (
	"context"
	"fmt"
	"time"
)

// Store is the storage lifecycle needs. store/memstore, store/sqlitestore
// and store/pgstore implement it; lifecycle/lifecycletest is the
// conformance suite every implementation passes.
//
// Store methods trust their input to be well formed (the Service validates
// it: normalised hostnames, one job per host in b.Jobs, times in UTC to the
// microsecond) but never trust the state: every decision that depends on
// what other batches hold is taken atomically inside the store.
type Store interface {
	BatchStore
	JobStore
	HostStore
	QueueStore
}

// BatchStore records batches and decides admission.
type BatchStore interface {
	// CreateBatch admits b atomically: it claims every host of b for b and
	// records b and its jobs (b.Jobs, one per host, pending), or changes
	// nothing. It fails with an *OverlapError (ErrOverlap) listing each
	// host that an active batch holds, and a *HostsError
	// (ErrHostUnavailable) for hosts in maintenance or decommissioned,
	// joined with errors.Join when both apply. Two concurrent calls, on
	// any number of processes sharing the store, never both claim a host.
	// A batch ID already used fails with ErrInvalidBatch. On success
	// b.State, b.Counts and b.UpdatedAt are set.
	CreateBatch(ctx context.Context, b *Batch) error
	// Batch returns the batch with its jobs (in host submission order), or
	// an error wrapping store.ErrNotFound.
	Batch(ctx context.Context, id string) (*Batch, error)
	// ListBatches returns batches matching f, newest first, without their
	// jobs.
	ListBatches(ctx context.Context, f BatchFilter) (BatchPage, error)
	// CancelBatch cancels batch id at time at: pending jobs end cancelled
	// and their hosts are released (ready); running jobs are marked
	// CancelRequested for their workers; the batch's CancelledAt is set to
	// at. It is idempotent: cancelling a batch already cancelled, or no
	// longer active, changes nothing. It returns the batch without jobs
	// and whether this call cancelled it, or an error wrapping
	// store.ErrNotFound.
	CancelBatch(ctx context.Context, id string, at time.Time) (b *Batch, cancelled bool, err error)
}

// JobStore records the progress of jobs.
type JobStore interface {
	// ListJobs returns jobs matching f, ordered by batch ID then host.
	ListJobs(ctx context.Context, f JobFilter) (JobPage, error)
	// UpdateJob moves one job from u.From to u.To, and with it the host
	// (HostAfterJob) and the batch's counts and state; when the job ends,
	// the host's claim is released. It fails with an error wrapping
	// ErrInvalidTransition, changing nothing, when the job is not in
	// u.From or the job state machine has no such edge, and with
	// store.ErrNotFound when there is no such job.
	UpdateJob(ctx context.Context, u JobUpdate) (*Job, error)
	// ActiveCounts counts the jobs of active batches that have not ended,
	// by datacenter and action.
	ActiveCounts(ctx context.Context) ([]ActiveCount, error)
}

// HostStore records host states.
type HostStore interface {
	// Host returns what the store knows of host name; a host never seen is
	// returned ready, with a zero UpdatedAt.
	Host(ctx context.Context, name string) (Host, error)
	// SetHostState applies an operator's transition, checked with
	// CheckHostTransition inside the store's transaction; on refusal it
	// returns that error (ErrInvalidTransition) and changes nothing.
	SetHostState(ctx context.Context, t HostTransition) (Host, error)
}

// Times: every time a Service hands a store is UTC and truncated to the
// microsecond, the finest precision every backend keeps, so a time read
// back equals the time written.

// Paging limits for BatchFilter and JobFilter.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// BatchFilter selects batches. Zero fields do not filter.
type BatchFilter struct {
	Owner  string
	Host   string // batches that include this host (its history)
	Action Action
	// States keeps batches in any of these states.
	States []BatchState
	// CreatedAfter and CreatedBefore bound CreatedAt (exclusive).
	CreatedAfter, CreatedBefore time.Time
	// Limit is the page size: 0 means DefaultPageSize; at most MaxPageSize.
	Limit int
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
}

// BatchPage is one page of batches.
type BatchPage struct {
	Batches []*Batch
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// JobFilter selects jobs. Zero fields do not filter.
type JobFilter struct {
	BatchID string
	Host    string
	Action  Action
	States  []JobState
	// FinishedAfter keeps jobs that ended after this time (exclusive).
	FinishedAfter time.Time
	// Limit is the page size: 0 means DefaultPageSize; at most MaxPageSize.
	Limit int
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
}

// JobPage is one page of jobs.
type JobPage struct {
	Jobs []Job
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// JobUpdate moves one job between states (JobStore.UpdateJob).
type JobUpdate struct {
	BatchID, Host string
	// From is the state the job must be in now; To the state it moves to.
	From, To JobState
	// Error is recorded on the job (for failures).
	Error string
	// At is the time of the change.
	At time.Time
}

// ActiveCount is a number of unfinished jobs of active batches.
type ActiveCount struct {
	Datacenter string
	Action     Action
	Pending    int
	Running    int
}

// jobEdges is the job state machine.
var jobEdges = map[JobState][]JobState{
	JobPending: {JobRunning, JobCancelled},
	// running → pending is a retry: the worker gives the job back.
	JobRunning: {JobSucceeded, JobFailed, JobCancelled, JobPending},
}

// CheckJobTransition returns an error wrapping ErrInvalidTransition when a
// job in state cur may not take update u. Stores call it inside the
// transaction that applies u.
func CheckJobTransition(cur JobState, u JobUpdate) error {
	if cur != u.From {
		return fmt.Errorf("%w: job %s/%s is %s, not %s", ErrInvalidTransition, u.BatchID, u.Host, cur, u.From)
	}
	for _, s := range jobEdges[cur] {
		if s == u.To {
			return nil
		}
	}
	return fmt.Errorf("%w: job %s/%s cannot go from %s to %s", ErrInvalidTransition, u.BatchID, u.Host, cur, u.To)
}

// TrimPage cuts items, fetched with one more than limit so that a store
// knows whether more follow, to a page of at most limit, and returns the
// cursor of the next page ("" on the last page). Stores call it so every
// store pages alike.
func TrimPage[T any](items []T, limit int, cursor func(T) string) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, cursor(items[limit-1])
}

// PageLimit returns the page size a filter's Limit asks for, applying the
// default and the maximum. Stores call it so every store pages alike.
func PageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}
