package pgstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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
// write. The queue follows (see queue.go): a job leaving running loses its
// lease, so its worker can record nothing more, and a job put back to
// pending may be claimed at once. It implements lifecycle.JobStore.
func (s *Store) UpdateJob(ctx context.Context, u lifecycle.JobUpdate) (*lifecycle.Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: update job %s/%s: %w", u.BatchID, u.Host, err)
	}
	var j leasedJob
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
			j, err = scanLeasedJob(res.QueryRow())
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return err
		}

		// Decide.
		if err := lifecycle.CheckJobTransition(j.State, u); err != nil {
			return err // rolled back by conn
		}
		var ws jobWrites
		ws.move(&b, &j, u, jobLease{}, time.Time{})

		// Round trip 2: write and commit.
		var w pgx.Batch
		ws.queue(&w)
		w.Queue(qCommit)
		return c.SendBatch(ctx, &w).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: update job %s/%s: %w", u.BatchID, u.Host, s.interpretError(err))
	}
	return &j.Job, nil
}

// jobLease is the lease a job holds after a move: token 0 for none.
type jobLease struct {
	token   int64
	worker  string
	expires time.Time
}

// jobWrites collects the writes of the job moves of one transaction, to be
// sent as a few statements over arrays: the jobs, their hosts (locked in
// name order, as admissions lock them), and each batch changed.
type jobWrites struct {
	batchID, host, state, errs, worker         []string
	attempts                                   []int32
	started, finished, updated, expires, retry []pgtype.Timestamptz
	tokens                                     []pgtype.Int8
	hosts                                      []hostAfterJob
	batches                                    []*lifecycle.Batch // distinct, in the order first moved
}

type hostAfterJob struct {
	name, batchID string
	state         lifecycle.HostState
	holder        pgtype.Text // NULL once released
	at            time.Time
}

// move applies u, whose transition was checked, to job j of batch b (both
// locked in this transaction), as UpdateJob documents, and records the
// writes: the job's new lease, and when it is moved to pending the time it
// may be claimed again (zero: at once).
func (ws *jobWrites) move(b *lifecycle.Batch, j *leasedJob, u lifecycle.JobUpdate, l jobLease, retryAt time.Time) {
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
	if u.To != lifecycle.JobPending {
		retryAt = time.Time{}
	}
	j.token = pgtype.Int8{Int64: l.token, Valid: l.token != 0}
	j.worker = l.worker
	j.expires = l.expires

	ws.batchID = append(ws.batchID, j.BatchID)
	ws.host = append(ws.host, j.Host)
	ws.state = append(ws.state, string(j.State))
	ws.attempts = append(ws.attempts, int32(j.Attempts))
	ws.errs = append(ws.errs, j.Error)
	ws.started = append(ws.started, tstz(j.StartedAt))
	ws.finished = append(ws.finished, tstz(j.FinishedAt))
	ws.updated = append(ws.updated, tstz(j.UpdatedAt))
	ws.tokens = append(ws.tokens, j.token)
	ws.worker = append(ws.worker, l.worker)
	ws.expires = append(ws.expires, tstz(l.expires))
	ws.retry = append(ws.retry, tstz(retryAt))

	hs := lifecycle.HostAfterJob(b.Action, u.To)
	h := hostAfterJob{name: j.Host, batchID: j.BatchID, state: hs, at: u.At}
	if hs.Held() {
		h.holder = pgtype.Text{String: j.BatchID, Valid: true}
	}
	ws.hosts = append(ws.hosts, h)
	if !slices.Contains(ws.batches, b) {
		ws.batches = append(ws.batches, b)
	}
}

// queue queues the writes collected, if any.
func (ws *jobWrites) queue(w *pgx.Batch) {
	if len(ws.batchID) == 0 {
		return
	}
	w.Queue(qSetJobs, ws.batchID, ws.host, ws.state, ws.attempts, ws.errs, ws.started, ws.finished, ws.updated,
		ws.tokens, ws.worker, ws.expires, ws.retry)
	slices.SortFunc(ws.hosts, func(a, b hostAfterJob) int { return strings.Compare(a.name, b.name) })
	n := len(ws.hosts)
	names, batches, states, holders := make([]string, n), make([]string, n), make([]string, n), make([]pgtype.Text, n)
	ats := make([]time.Time, n)
	for i, h := range ws.hosts {
		names[i], batches[i], states[i], holders[i], ats[i] = h.name, h.batchID, string(h.state), h.holder, h.at
	}
	w.Queue(qLockHosts, names)
	w.Queue(qSetHostsAfterJobs, names, batches, states, holders, ats)
	for _, b := range ws.batches {
		queueUpdateBatch(w, b)
	}
}

// tstz is t for a timestamptz array: NULL when zero.
func tstz(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
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
