package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// scanJob reads a row of jobColumns.
func scanJob(sc scanner) (lifecycle.Job, error) {
	var j lifecycle.Job
	err := sc.Scan(&j.BatchID, &j.Host, &j.Action, &j.Priority, &j.Datacenter, &j.SKU, &j.State,
		&j.Attempts, &j.CancelRequested, &j.Error,
		timeCol{&j.CreatedAt}, timeCol{&j.StartedAt}, timeCol{&j.FinishedAt}, timeCol{&j.UpdatedAt})
	return j, err
}

// UpdateJob moves one job from u.From to u.To, as lifecycle.JobStore
// documents, in one write transaction with its host and batch:
//
//   - the job: state; attempts+1 and StartedAt (first start only) when it
//     starts running; FinishedAt when it ends; Error when u.Error is not
//     empty (the last error is kept otherwise); UpdatedAt.
//   - the host: lifecycle.HostAfterJob's state, released from the batch
//     when the job ended.
//   - the batch: counts, state and UpdatedAt, and FinishedAt when the
//     batch stops being active.
//
// The transition is checked with lifecycle.CheckJobTransition inside the
// transaction. The queue follows (see queue.go): a job leaving running
// loses its lease, so its worker can record nothing more, and a job put
// back to pending may be claimed at once.
func (s *Store) UpdateJob(ctx context.Context, u lifecycle.JobUpdate) (*lifecycle.Job, error) {
	if err := s.checkOpen("update job"); err != nil {
		return nil, err
	}
	var out lifecycle.Job
	err := s.write(ctx, func(w *writer) error {
		j, _, err := w.moveJob(jobMove{u: u})
		out = j
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: update job %s/%s: %w", u.BatchID, u.Host, interpretError(err))
	}
	return &out, nil
}

// jobMove is one job change: UpdateJob's, or the queue's (a claim, a
// worker's result, a rescue), which also set the job's lease and retry
// time.
type jobMove struct {
	u lifecycle.JobUpdate
	// fenced: the job must be running under lease token fence, or the
	// move is refused with lifecycle.ErrLeaseLost; u.To is then a
	// worker's result, which lifecycle.FinishedState adjusts to the
	// batch's cancellation.
	fenced bool
	fence  int64
	// token, worker and expires are the job's lease after the move
	// (token 0: none).
	token   int64
	worker  string
	expires time.Time
	// retryAt is when the job, moved to pending, may be claimed (zero: at
	// once).
	retryAt time.Time
}

// moveJob applies m: the job, its host and its batch's counts, state and
// times, as UpdateJob documents. It returns the job and its batch's new
// state.
func (w *writer) moveJob(m jobMove) (lifecycle.Job, lifecycle.BatchState, error) {
	u := m.u
	var (
		cur       lifecycle.JobState
		action    lifecycle.Action
		token     sql.NullInt64
		cancelled bool
		b         = lifecycle.Batch{ID: u.BatchID}
		c         = &b.Counts
	)
	err := w.st.jobForUpdate.QueryRowContext(w.ctx, u.BatchID, u.Host).Scan(&cur, &action,
		&c.Pending, &c.Running, &c.Succeeded, &c.Failed, &c.Cancelled, &token, &cancelled)
	switch {
	case m.fenced && (err == nil || errors.Is(err, sql.ErrNoRows)) &&
		(cur != lifecycle.JobRunning || !token.Valid || token.Int64 != m.fence):
		return lifecycle.Job{}, "", lifecycle.LeaseLostError(lifecycle.JobLease{BatchID: u.BatchID, Host: u.Host, Token: m.fence})
	case errors.Is(err, sql.ErrNoRows):
		return lifecycle.Job{}, "", fmt.Errorf("job %s/%s: %w", u.BatchID, u.Host, store.ErrNotFound)
	case err != nil:
		return lifecycle.Job{}, "", fmt.Errorf("read job: %w", err)
	}
	if m.fenced {
		u.To = lifecycle.FinishedState(lifecycle.JobResult{To: u.To}, cancelled)
	}
	if err := lifecycle.CheckJobTransition(cur, u); err != nil {
		return lifecycle.Job{}, "", err
	}
	var lease, expires, retryAt any
	if m.token != 0 {
		lease, expires = m.token, micros(m.expires)
	}
	if u.To == lifecycle.JobPending {
		retryAt = micros(m.retryAt)
	}
	at := u.At.UnixMicro()
	var attempts int
	var startedAt, endedAt any
	if u.To == lifecycle.JobRunning {
		attempts, startedAt = 1, at
	}
	if u.To.Ended() {
		endedAt = at
	}
	j, err := scanJob(w.st.updateJob.QueryRowContext(w.ctx, u.BatchID, u.Host, string(u.To),
		attempts, startedAt, endedAt, u.Error, at, lease, m.worker, expires, retryAt))
	if err != nil {
		return lifecycle.Job{}, "", fmt.Errorf("update job: %w", err)
	}

	holder := u.BatchID
	if u.To.Ended() {
		holder = ""
	}
	if _, err := w.st.hostAfterJob.ExecContext(w.ctx, string(lifecycle.HostAfterJob(action, u.To)),
		holder, at, u.Host, u.BatchID); err != nil {
		return lifecycle.Job{}, "", fmt.Errorf("update host %s: %w", u.Host, err)
	}

	c.Add(cur, -1)
	c.Add(u.To, 1)
	b.State = c.State()
	b.UpdatedAt = u.At
	if !b.State.Active() {
		b.FinishedAt = u.At // kept if already set
	}
	if err := w.saveBatchCounts(&b); err != nil {
		return lifecycle.Job{}, "", err
	}
	return j, b.State, nil
}

// ListJobs returns jobs matching f, ordered by batch ID then host. f.Cursor
// is the batch ID and host of the last job of the previous page; Next is
// set only when more jobs follow.
func (s *Store) ListJobs(ctx context.Context, f lifecycle.JobFilter) (lifecycle.JobPage, error) {
	if err := s.checkOpen("list jobs"); err != nil {
		return lifecycle.JobPage{}, err
	}
	afterBatch, afterHost, err := lifecycle.ParseJobCursor(f.Cursor)
	if err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("sqlitestore: list jobs: %w", err)
	}
	var q query
	q.add(f.BatchID != "", "batch_id = ?", f.BatchID)
	q.add(f.Host != "", "host = ?", f.Host)
	q.add(f.Action != "", "action = ?", string(f.Action))
	q.add(len(f.States) > 0, "state IN ("+placeholders(len(f.States))+")", strArgs(f.States)...)
	q.add(!f.FinishedAfter.IsZero(), "finished_at > ?", f.FinishedAfter.UnixMicro())
	q.add(afterBatch != "", "(batch_id, host) > (?, ?)", afterBatch, afterHost)
	limit := lifecycle.PageLimit(f.Limit)
	rows, err := s.db.QueryContext(ctx, "SELECT "+jobColumns+" FROM jobs"+q.where()+" ORDER BY batch_id, host LIMIT ?",
		append(q.args, limit+1)...)
	if err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("sqlitestore: list jobs: %w", interpretError(err))
	}
	jobs, err := collect(rows, scanJob)
	if err != nil {
		return lifecycle.JobPage{}, fmt.Errorf("sqlitestore: list jobs: %w", interpretError(err))
	}
	var page lifecycle.JobPage
	page.Jobs, page.Next = lifecycle.TrimPage(jobs, limit, lifecycle.JobCursor)
	return page, nil
}

// ActiveCounts counts the pending and running jobs by datacenter and
// action, sorted by datacenter then action. (A job is pending or running
// only while its batch is active.)
func (s *Store) ActiveCounts(ctx context.Context) ([]lifecycle.ActiveCount, error) {
	if err := s.checkOpen("active counts"); err != nil {
		return nil, err
	}
	rows, err := s.rd.activeCounts.QueryContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: active counts: %w", interpretError(err))
	}
	defer rows.Close()
	out := []lifecycle.ActiveCount{}
	for rows.Next() {
		var c lifecycle.ActiveCount
		if err := rows.Scan(&c.Datacenter, &c.Action, &c.Pending, &c.Running); err != nil {
			return nil, fmt.Errorf("sqlitestore: active counts: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: active counts: %w", interpretError(err))
	}
	return out, nil
}
