package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// ListJobs returns one page of the jobs matching f, ordered by batch ID
// then host. It implements lifecycle.JobStore.
func (s *Store) ListJobs(ctx context.Context, f lifecycle.JobFilter) (lifecycle.JobPage, error) {
	afterBatch, afterHost, err := lifecycle.ParseJobCursor(f.Cursor)
	if err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("pgstore: list jobs: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("pgstore: list jobs: %w", err)
	}
	limit := lifecycle.PageLimit(f.Limit)
	q, args := listJobsQuery(f, afterBatch, afterHost, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	var jobs []lifecycle.Job
	if err == nil {
		jobs, err = collect(rows, scanJob)
	}
	if err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("pgstore: list jobs: %w", s.interpretError(err))
	}
	var page lifecycle.JobPage
	page.Jobs, page.Next = lifecycle.TrimPage(jobs, limit, lifecycle.JobCursor)
	return page, nil
}

// UpdateJob moves one job as u says, with its host and its batch's counts,
// state and times, in one transaction of two round trips: lock the batch
// and the job, check the transition with lifecycle.CheckJobTransition,
// write. It implements lifecycle.JobStore.
func (s *Store) UpdateJob(ctx context.Context, u lifecycle.JobUpdate) (*lifecycle.Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: update job %s/%s: %w", u.BatchID, u.Host, err)
	}
	var j lifecycle.Job
	err := s.conn(ctx, func(c *pgx.Conn) error {
		// Round trip 1: lock the batch, then the job.
		var p pgx.Batch
		p.Queue(qBegin)
		p.Queue(qLockBatchCounts, u.BatchID)
		p.Queue(qLockJob, u.BatchID, u.Host)
		res := c.SendBatch(ctx, &p)
		b := lifecycle.Batch{ID: u.BatchID}
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			err := res.QueryRow().Scan(&b.Action, &b.State, &b.Counts.Pending, &b.Counts.Running,
				&b.Counts.Succeeded, &b.Counts.Failed, &b.Counts.Cancelled,
				(*utcTime)(&b.CancelledAt), (*utcTime)(&b.FinishedAt))
			if err != nil {
				return err
			}
			j, err = scanJob(res.QueryRow())
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return err
		}

		// Decide: the transition, then what follows from it.
		if err := lifecycle.CheckJobTransition(j.State, u); err != nil {
			return err // rolled back by conn
		}
		b.Counts.Add(j.State, -1)
		b.Counts.Add(u.To, 1)
		b.State = b.Counts.State()
		b.UpdatedAt = u.At
		if !b.State.Active() && b.FinishedAt.IsZero() {
			b.FinishedAt = u.At
		}
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
		if u.To.Ended() {
			j.FinishedAt = u.At
		}
		hs := lifecycle.HostAfterJob(b.Action, u.To)
		var holder any // the host's batch_id: NULL once released
		if hs.Held() {
			holder = u.BatchID
		}

		// Round trip 2: write and commit.
		var w pgx.Batch
		w.Queue(qSetJob, j.BatchID, j.Host, string(j.State), j.Attempts, j.Error,
			nullTime(j.StartedAt), nullTime(j.FinishedAt), j.UpdatedAt)
		w.Queue(qSetHostAfterJob, j.Host, u.BatchID, string(hs), holder, u.At)
		queueUpdateBatch(&w, &b)
		w.Queue(qCommit)
		return c.SendBatch(ctx, &w).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: update job %s/%s: %w", u.BatchID, u.Host, s.interpretError(err))
	}
	return &j, nil
}

// ActiveCounts counts the unfinished jobs of active batches by datacenter
// and action, sorted by datacenter then action. It implements
// lifecycle.JobStore.
func (s *Store) ActiveCounts(ctx context.Context) ([]lifecycle.ActiveCount, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: active counts: %w", err)
	}
	rows, err := s.pool.Query(ctx, qActiveCounts)
	var out []lifecycle.ActiveCount
	if err == nil {
		out, err = collect(rows, func(r pgx.Row) (lifecycle.ActiveCount, error) {
			var c lifecycle.ActiveCount
			err := r.Scan(&c.Datacenter, &c.Action, &c.Pending, &c.Running)
			return c, err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: active counts: %w", s.interpretError(err))
	}
	return out, nil
}
