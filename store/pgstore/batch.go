package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// admissionAttempts bounds how often CreateBatch retries an admission that
// was refused with no host to blame (see errUnexplained).
const admissionAttempts = 5

// errUnexplained: an admission claimed fewer hosts than asked, yet none of
// the hosts it then read refuses it. The claim locks every host it does not
// claim, so this is not expected; CreateBatch retries.
var errUnexplained = errors.New("admission refused with no host to blame")

// admissibleStates lists the host states a batch may claim, from the
// lifecycle state machine.
var admissibleStates = func() []string {
	var out []string
	for _, s := range []lifecycle.HostState{lifecycle.HostReady, lifecycle.HostClaimed,
		lifecycle.HostInProgress, lifecycle.HostFailed, lifecycle.HostMaintenance, lifecycle.HostDecommissioned} {
		if s.Admissible() {
			out = append(out, string(s))
		}
	}
	return out
}()

// CreateBatch admits b with one statement, one round trip and one commit
// (the admit_batch function of the schema): it claims every host of b with
// row locks on those hosts only, no global lock, and records b and its
// jobs; or, when some host is held or unavailable, changes nothing and
// returns the *lifecycle.OverlapError and/or *lifecycle.HostsError that
// name each one. It implements lifecycle.BatchStore.
func (s *Store) CreateBatch(ctx context.Context, b *lifecycle.Batch) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("pgstore: create batch %s: %w", b.ID, err)
	}
	dcs, skus, err := jobArrays(b)
	if err != nil {
		return fmt.Errorf("pgstore: create batch %s: %w", b.ID, err)
	}
	params, err := encodeParams(b.Params)
	if err != nil {
		return fmt.Errorf("pgstore: create batch %s: encode params: %w", b.ID, err)
	}
	sorted := slices.Clone(b.Hosts)
	slices.Sort(sorted)
	if len(sorted) == 0 {
		return fmt.Errorf("pgstore: create batch %s: %w: no hosts", b.ID, lifecycle.ErrInvalidBatch)
	}
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return fmt.Errorf("pgstore: create batch %s: %w: host %s is listed twice", b.ID, lifecycle.ErrInvalidBatch, sorted[i])
		}
	}
	queueAt := b.QueueAt
	if queueAt.IsZero() {
		queueAt = b.CreatedAt
	}
	var refused []lifecycle.Host
	for attempt := 1; ; attempt++ {
		var rows pgx.Rows
		rows, err = s.pool.Query(ctx, qAdmitBatch, b.ID, b.Owner, string(b.Action), b.Hosts, sorted, dcs, skus,
			b.Snapshot, params, b.Priority, b.CreatedAt, admissibleStates,
			string(lifecycle.HostClaimed), string(lifecycle.BatchPending), string(lifecycle.JobPending), queueAt)
		if err == nil {
			refused, err = collect(rows, scanRefused)
		}
		if err == nil && len(refused) > 0 {
			err = refusal(refused)
		}
		if !errors.Is(err, errUnexplained) || attempt == admissionAttempts {
			break
		}
	}
	switch {
	case err == nil:
	case isCode(err, codeUniqueViolation):
		return fmt.Errorf("pgstore: create batch %s: %w: a batch with this ID exists", b.ID, lifecycle.ErrInvalidBatch)
	default:
		return fmt.Errorf("pgstore: create batch %s: %w", b.ID, s.interpretError(err))
	}
	b.Counts = lifecycle.JobCounts{Pending: len(b.Hosts)}
	b.State = b.Counts.State()
	b.UpdatedAt = b.CreatedAt
	b.QueueAt = queueAt
	return nil
}

// scanRefused reads a row of admit_batch: a host that refused the batch,
// or a NULL name when no host explains the refusal.
func scanRefused(row pgx.Row) (lifecycle.Host, error) {
	var name, state, reason, batchID *string
	if err := row.Scan(&name, &state, &reason, &batchID); err != nil {
		return lifecycle.Host{}, err
	}
	if name == nil || state == nil || reason == nil || batchID == nil {
		return lifecycle.Host{}, nil
	}
	return lifecycle.Host{Name: *name, State: lifecycle.HostState(*state), Reason: *reason, BatchID: *batchID}, nil
}

// refusal builds the error for the hosts that refused a batch: those held
// by another batch, and those not admissible (in maintenance,
// decommissioned).
func refusal(refused []lifecycle.Host) error {
	var conflicts []lifecycle.Conflict
	var unavailable []lifecycle.HostProblem
	for _, h := range refused {
		switch {
		case h.Name == "" || h.State.Admissible():
			// No reason to refuse: nothing to report.
		case h.State.Held():
			conflicts = append(conflicts, lifecycle.Conflict{Host: h.Name, BatchID: h.BatchID})
		default:
			unavailable = append(unavailable, lifecycle.UnavailableProblem(h))
		}
	}
	if err := lifecycle.AdmissionError(conflicts, unavailable); err != nil {
		return err
	}
	return errUnexplained
}

// jobArrays returns the datacenter and SKU of each host of b, in order,
// from b.Jobs (which may be nil: the hosts are then unknown to any
// directory).
func jobArrays(b *lifecycle.Batch) (dcs, skus []string, err error) {
	dcs = make([]string, len(b.Hosts))
	skus = make([]string, len(b.Hosts))
	if b.Jobs == nil {
		return dcs, skus, nil
	}
	if len(b.Jobs) != len(b.Hosts) {
		return nil, nil, fmt.Errorf("%w: %d jobs for %d hosts", lifecycle.ErrInvalidBatch, len(b.Jobs), len(b.Hosts))
	}
	for i, j := range b.Jobs {
		if j.Host != b.Hosts[i] {
			return nil, nil, fmt.Errorf("%w: job %d is for host %s, not %s", lifecycle.ErrInvalidBatch, i+1, j.Host, b.Hosts[i])
		}
		dcs[i], skus[i] = j.Datacenter, j.SKU
	}
	return dcs, skus, nil
}

// Batch returns batch id with its jobs in submission order, read in one
// snapshot; an error wrapping store.ErrNotFound when there is none. It
// implements lifecycle.BatchStore.
func (s *Store) Batch(ctx context.Context, id string) (*lifecycle.Batch, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: batch %s: %w", id, err)
	}
	var b *lifecycle.Batch
	err := s.conn(ctx, func(c *pgx.Conn) error {
		var p pgx.Batch
		p.Queue(qBeginSnapshot)
		p.Queue(qBatch, id)
		p.Queue(qBatchJobs, id)
		p.Queue(qCommit)
		res := c.SendBatch(ctx, &p)
		defer res.Close()
		if _, err := res.Exec(); err != nil {
			return err
		}
		var err error
		if b, err = scanBatch(res.QueryRow()); err != nil {
			return err
		}
		rows, err := res.Query()
		if err != nil {
			return err
		}
		if b.Jobs, err = collect(rows, scanJob); err != nil {
			return err
		}
		if b.Jobs == nil {
			b.Jobs = []lifecycle.Job{}
		}
		return res.Close()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: batch %s: %w", id, s.interpretError(err))
	}
	return b, nil
}

// ListBatches returns one page of the batches matching f, newest first,
// without their jobs. It implements lifecycle.BatchStore.
func (s *Store) ListBatches(ctx context.Context, f lifecycle.BatchFilter) (lifecycle.BatchPage, error) {
	after, err := lifecycle.ParseBatchCursor(f.Cursor)
	if err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("pgstore: list batches: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("pgstore: list batches: %w", err)
	}
	limit := lifecycle.PageLimit(f.Limit)
	q, args := listBatchesQuery(f, after, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	var bs []*lifecycle.Batch
	if err == nil {
		bs, err = collect(rows, scanBatch)
	}
	if err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("pgstore: list batches: %w", s.interpretError(err))
	}
	var page lifecycle.BatchPage
	page.Batches, page.Next = lifecycle.TrimPage(bs, limit, lifecycle.BatchCursor)
	return page, nil
}

// CancelBatch cancels batch id at time at, in one transaction: its pending
// jobs end cancelled and release their hosts, its running jobs are marked
// CancelRequested, and CancelledAt is set. A batch already cancelled, or
// no longer active, is returned unchanged, with cancelled false. It
// implements lifecycle.BatchStore.
func (s *Store) CancelBatch(ctx context.Context, id string, at time.Time) (b *lifecycle.Batch, cancelled bool, err error) {
	if err := s.check(ctx); err != nil {
		return nil, false, fmt.Errorf("pgstore: cancel batch %s: %w", id, err)
	}
	err = s.conn(ctx, func(c *pgx.Conn) error {
		// Round trip 1: lock the batch, then its unfinished jobs.
		var p pgx.Batch
		p.Queue(qBegin)
		p.Queue(qLockBatch, id)
		p.Queue(qLockUnfinishedJobs, id, []string{string(lifecycle.JobPending), string(lifecycle.JobRunning)})
		res := c.SendBatch(ctx, &p)
		var pending, running []string
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			var err error
			if b, err = scanBatch(res.QueryRow()); err != nil {
				return err
			}
			rows, err := res.Query()
			if err != nil {
				return err
			}
			var host string
			var st lifecycle.JobState
			_, err = pgx.ForEachRow(rows, []any{&host, &st}, func() error {
				if st == lifecycle.JobPending {
					pending = append(pending, host)
				} else {
					running = append(running, host)
				}
				return nil
			})
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return err
		}
		if !b.State.Active() || !b.CancelledAt.IsZero() {
			_, err := c.Exec(ctx, qCommit)
			return err
		}

		// Decide.
		b.Counts.Add(lifecycle.JobPending, -len(pending))
		b.Counts.Add(lifecycle.JobCancelled, len(pending))
		b.State = b.Counts.State()
		b.CancelledAt, b.UpdatedAt = at, at
		if !b.State.Active() && b.FinishedAt.IsZero() {
			b.FinishedAt = at
		}

		// Round trip 2: write and commit. pending is in name order, so
		// the hosts are locked in the order admissions lock them.
		var w pgx.Batch
		if len(pending) > 0 {
			w.Queue(qEndJobs, id, pending, string(lifecycle.JobCancelled), at)
			w.Queue(qLockHosts, pending)
			w.Queue(qReleaseHosts, pending, id, string(lifecycle.HostAfterJob(b.Action, lifecycle.JobCancelled)), at)
		}
		if len(running) > 0 {
			w.Queue(qRequestCancel, id, running, at)
		}
		queueUpdateBatch(&w, b)
		w.Queue(qCommit)
		if err := c.SendBatch(ctx, &w).Close(); err != nil {
			return err
		}
		cancelled = true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("pgstore: cancel batch %s: %w", id, s.interpretError(err))
	}
	return b, cancelled, nil
}

// queueUpdateBatch queues the write of b's state, counts and times.
func queueUpdateBatch(w *pgx.Batch, b *lifecycle.Batch) {
	c := b.Counts
	w.Queue(qUpdateBatch, b.ID, string(b.State), c.Pending, c.Running, c.Succeeded, c.Failed, c.Cancelled,
		nullTime(b.CancelledAt), b.UpdatedAt, nullTime(b.FinishedAt))
}
