package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// newBatch is a batch ready for the writer: everything that can be
// computed outside the write transaction is, by the submitting goroutine.
type newBatch struct {
	b     *lifecycle.Batch
	jobs  []lifecycle.Job
	hosts string // JSON array of the batch's hosts
	// shared are the first parameters of insertJobsSQL, but the
	// position, and rows the parameters of each job; nil rows when the
	// jobs differ in more than their host, datacenter and sku.
	shared, rows []any
	params       any // JSON object or NULL
	createdAt    time.Time
	queueAt      time.Time // Batch.QueueAt, or createdAt when zero
	counts       lifecycle.JobCounts
}

// prepareBatch checks b enough to store it and encodes it. Jobs default to
// one per host, from the batch, when b.Jobs is empty.
func (s *Store) prepareBatch(b *lifecycle.Batch) (*newBatch, error) {
	if b.ID == "" {
		return nil, fmt.Errorf("%w: batch has no ID", lifecycle.ErrInvalidBatch)
	}
	if len(b.Hosts) == 0 {
		return nil, fmt.Errorf("%w: batch %s has no hosts", lifecycle.ErrInvalidBatch, b.ID)
	}
	created := storedTime(b.CreatedAt)
	if created.IsZero() {
		created = s.now()
	}
	jobs := make([]lifecycle.Job, len(b.Hosts))
	if len(b.Jobs) == 0 {
		for i, h := range b.Hosts {
			jobs[i] = lifecycle.Job{Host: h, Action: b.Action, Priority: b.Priority}
		}
	} else {
		if len(b.Jobs) != len(b.Hosts) {
			return nil, fmt.Errorf("%w: batch %s has %d hosts but %d jobs", lifecycle.ErrInvalidBatch, b.ID, len(b.Hosts), len(b.Jobs))
		}
		copy(jobs, b.Jobs)
	}
	first := &jobs[0]
	uniform := true
	rows := make([]any, 0, len(jobs)*jobRowParams)
	for i := range jobs {
		j := &jobs[i]
		if j.Host != b.Hosts[i] {
			return nil, fmt.Errorf("%w: batch %s: job %d is for host %q, not %q", lifecycle.ErrInvalidBatch, b.ID, i, j.Host, b.Hosts[i])
		}
		j.BatchID = b.ID
		if j.Action == "" {
			j.Action = b.Action
		}
		j.State = lifecycle.JobPending
		j.Attempts, j.CancelRequested, j.Error = 0, false, ""
		j.StartedAt, j.FinishedAt = time.Time{}, time.Time{}
		j.CreatedAt, j.UpdatedAt = storedTime(j.CreatedAt), storedTime(j.UpdatedAt)
		if j.CreatedAt.IsZero() {
			j.CreatedAt = created
		}
		if j.UpdatedAt.IsZero() {
			j.UpdatedAt = j.CreatedAt
		}
		rows = append(rows, j.Host, j.Datacenter, j.SKU)
		uniform = uniform && j.Action == first.Action && j.Priority == first.Priority &&
			j.CreatedAt.Equal(first.CreatedAt) && j.UpdatedAt.Equal(first.UpdatedAt)
	}
	hosts, err := json.Marshal(b.Hosts)
	if err != nil {
		return nil, err
	}
	nb := &newBatch{b: b, jobs: jobs, hosts: string(hosts), createdAt: created, queueAt: storedTime(b.QueueAt)}
	if nb.queueAt.IsZero() {
		nb.queueAt = created
	}
	if uniform {
		nb.shared = []any{b.ID, string(first.Action), first.Priority, first.CreatedAt.UnixMicro(), first.UpdatedAt.UnixMicro(),
			nb.queueAt.UnixMicro()}
		nb.rows = rows
	}
	if b.Params != nil {
		p, err := json.Marshal(b.Params)
		if err != nil {
			return nil, err
		}
		nb.params = string(p)
	}
	nb.counts.Pending = len(jobs)
	return nb, nil
}

// CreateBatch admits b atomically, as lifecycle.BatchStore documents. In
// one write transaction it claims every host of b that is ready or failed;
// when fewer than all were claimed it rolls back and reports, from the same
// transaction, the hosts held by active batches (an *OverlapError) and
// those in maintenance or decommissioned (a *HostsError wrapping
// ErrHostUnavailable), joined when both apply. Otherwise it records the
// batch and its pending jobs, and sets b.State, b.Counts and b.UpdatedAt
// (and b.CreatedAt when it was zero, and each job's batch ID, state and
// times).
//
// b.Jobs may be empty, for one job per host made from the batch;
// otherwise it must hold one job per host, in the order of b.Hosts.
func (s *Store) CreateBatch(ctx context.Context, b *lifecycle.Batch) error {
	if err := s.checkOpen("create batch"); err != nil {
		return err
	}
	nb, err := s.prepareBatch(b)
	if err != nil {
		return fmt.Errorf("sqlitestore: create batch: %w", err)
	}
	err = s.write(ctx, func(w *writer) error { return w.createBatch(nb) })
	if err != nil {
		return fmt.Errorf("sqlitestore: create batch %s: %w", b.ID, err)
	}
	b.CreatedAt = nb.createdAt
	b.UpdatedAt = nb.createdAt
	b.QueueAt = nb.queueAt
	b.Counts = nb.counts
	b.State = nb.counts.State()
	b.CancelledAt, b.FinishedAt = time.Time{}, time.Time{}
	b.Jobs = nb.jobs
	return nil
}

func (w *writer) createBatch(nb *newBatch) error {
	b := nb.b
	res, err := w.st.claimHosts.ExecContext(w.ctx, b.ID, nb.createdAt.UnixMicro(), nb.hosts)
	if err != nil {
		return fmt.Errorf("claim hosts: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("claim hosts: %w", err)
	} else if int(n) != len(b.Hosts) {
		return w.refusal(nb)
	}
	_, err = w.st.insertBatch.ExecContext(w.ctx,
		b.ID, b.Owner, string(b.Action), nb.hosts, b.Snapshot, nb.params, b.Priority,
		string(nb.counts.State()), nb.counts.Pending, 0, 0, 0, 0,
		nil, nb.createdAt.UnixMicro(), nb.createdAt.UnixMicro(), nil, nb.queueAt.UnixMicro())
	if err != nil {
		if isConstraint(err) {
			return fmt.Errorf("%w: batch ID %s already exists", lifecycle.ErrInvalidBatch, b.ID)
		}
		return fmt.Errorf("insert batch: %w", err)
	}
	if err := w.insertJobRows(nb); err != nil {
		return fmt.Errorf("insert jobs: %w", err)
	}
	return nil
}

// insertJobRows inserts the jobs of nb: by chunks of up to maxJobRows
// rows when they share action, priority and times, one by one otherwise.
func (w *writer) insertJobRows(nb *newBatch) error {
	if nb.rows == nil {
		for i, j := range nb.jobs {
			if _, err := w.st.insertJob.ExecContext(w.ctx, nb.b.ID, j.Host, i, string(j.Action), j.Priority,
				j.Datacenter, j.SKU, j.CreatedAt.UnixMicro(), j.UpdatedAt.UnixMicro(), nb.queueAt.UnixMicro()); err != nil {
				return err
			}
		}
		return nil
	}
	args := make([]any, 0, jobSharedParams+min(len(nb.jobs), maxJobRows)*jobRowParams)
	for pos := 0; pos < len(nb.jobs); pos += maxJobRows {
		n := min(len(nb.jobs)-pos, maxJobRows)
		stmt, err := w.insertJobs(n)
		if err != nil {
			return err
		}
		args = append(append(append(args[:0], nb.shared...), pos), nb.rows[pos*jobRowParams:(pos+n)*jobRowParams]...)
		if _, err := stmt.ExecContext(w.ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// insertJobs returns the statement inserting n jobs, prepared on first use.
func (w *writer) insertJobs(n int) (*sql.Stmt, error) {
	if s := w.jobStmts[n]; s != nil {
		return s, nil
	}
	s, err := w.conn.PrepareContext(w.ctx, insertJobsSQL(n))
	if err != nil {
		return nil, fmt.Errorf("prepare insert of %d jobs: %w", n, err)
	}
	w.stmts.all = append(w.stmts.all, s)
	w.jobStmts[n] = s
	return s, nil
}

// refusal builds the error for a batch that could not claim every host.
func (w *writer) refusal(nb *newBatch) error {
	rows, err := w.st.refusedHosts.QueryContext(w.ctx, nb.hosts, nb.b.ID)
	if err != nil {
		return fmt.Errorf("read refused hosts: %w", err)
	}
	defer rows.Close()
	var conflicts []lifecycle.Conflict
	var unavailable []lifecycle.HostProblem
	for rows.Next() {
		var h lifecycle.Host
		if err := rows.Scan(&h.Name, &h.State, &h.Reason, &h.BatchID); err != nil {
			return fmt.Errorf("read refused hosts: %w", err)
		}
		if h.State.Held() {
			conflicts = append(conflicts, lifecycle.Conflict{Host: h.Name, BatchID: h.BatchID})
		} else {
			unavailable = append(unavailable, lifecycle.UnavailableProblem(h))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read refused hosts: %w", err)
	}
	if err := lifecycle.AdmissionError(conflicts, unavailable); err != nil {
		return err
	}
	// Only a host listed twice fails to be claimed and yet is free.
	return fmt.Errorf("%w: batch %s lists a host twice", lifecycle.ErrInvalidBatch, nb.b.ID)
}

// isConstraint reports a UNIQUE or PRIMARY KEY violation.
func isConstraint(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code()
	return c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || c == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// Batch returns the batch with its jobs in host submission order, or an
// error wrapping store.ErrNotFound. Batch and jobs are read in one read
// transaction, so the counts agree with the jobs.
func (s *Store) Batch(ctx context.Context, id string) (*lifecycle.Batch, error) {
	if err := s.checkOpen("batch " + id); err != nil {
		return nil, err
	}
	b, err := s.batch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: batch %s: %w", id, interpretError(err))
	}
	return b, nil
}

func (s *Store) batch(ctx context.Context, id string) (*lifecycle.Batch, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	b, err := scanBatch(tx.StmtContext(ctx, s.rd.batchByID).QueryRowContext(ctx, id))
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, s.rd.jobsOfBatch).QueryContext(ctx, id)
	if err != nil {
		return nil, err
	}
	if b.Jobs, err = collect(rows, scanJob); err != nil {
		return nil, err
	}
	return b, nil
}

// scanBatch reads a row of batchColumns.
func scanBatch(sc scanner) (*lifecycle.Batch, error) {
	b := &lifecycle.Batch{}
	c := &b.Counts
	err := sc.Scan(&b.ID, &b.Owner, &b.Action, jsonCol{&b.Hosts}, &b.Snapshot, jsonCol{&b.Params},
		&b.Priority, &b.State, &c.Pending, &c.Running, &c.Succeeded, &c.Failed, &c.Cancelled,
		timeCol{&b.CancelledAt}, timeCol{&b.CreatedAt}, timeCol{&b.UpdatedAt}, timeCol{&b.FinishedAt},
		timeCol{&b.QueueAt})
	if err != nil {
		return nil, err
	}
	if b.QueueAt.IsZero() {
		b.QueueAt = b.CreatedAt
	}
	return b, nil
}

// ListBatches returns batches matching f, newest (highest ID) first,
// without their jobs. f.Cursor is the ID of the last batch of the previous
// page; Next is set only when more batches follow.
func (s *Store) ListBatches(ctx context.Context, f lifecycle.BatchFilter) (lifecycle.BatchPage, error) {
	if err := s.checkOpen("list batches"); err != nil {
		return lifecycle.BatchPage{}, err
	}
	after, err := lifecycle.ParseBatchCursor(f.Cursor)
	if err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("sqlitestore: list batches: %w", err)
	}
	var q query
	q.add(f.Owner != "", "owner = ?", f.Owner)
	q.add(f.Host != "", "id IN (SELECT batch_id FROM jobs WHERE host = ?)", f.Host)
	q.add(f.Action != "", "action = ?", string(f.Action))
	q.add(len(f.States) > 0, "state IN ("+placeholders(len(f.States))+")", strArgs(f.States)...)
	q.add(!f.CreatedAfter.IsZero(), "created_at > ?", f.CreatedAfter.UnixMicro())
	q.add(!f.CreatedBefore.IsZero(), "created_at < ?", f.CreatedBefore.UnixMicro())
	q.add(after != "", "id < ?", after)
	limit := lifecycle.PageLimit(f.Limit)
	rows, err := s.db.QueryContext(ctx, "SELECT "+batchColumns+" FROM batches"+q.where()+" ORDER BY id DESC LIMIT ?",
		append(q.args, limit+1)...)
	if err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("sqlitestore: list batches: %w", interpretError(err))
	}
	bs, err := collect(rows, scanBatch)
	if err != nil {
		return lifecycle.BatchPage{}, fmt.Errorf("sqlitestore: list batches: %w", interpretError(err))
	}
	var page lifecycle.BatchPage
	page.Batches, page.Next = lifecycle.TrimPage(bs, limit, lifecycle.BatchCursor)
	return page, nil
}

// CancelBatch cancels batch id at time at, as lifecycle.BatchStore
// documents, in one write transaction: the hosts of pending jobs are
// released (ready) and the jobs end cancelled, running jobs are marked
// CancelRequested, the batch's CancelledAt and UpdatedAt are set to at and
// its counts and state follow (FinishedAt too when no job was running).
// A batch no longer active, or cancelled before, is returned unchanged
// with cancelled false. The batch is returned without jobs.
func (s *Store) CancelBatch(ctx context.Context, id string, at time.Time) (*lifecycle.Batch, bool, error) {
	if err := s.checkOpen("cancel batch " + id); err != nil {
		return nil, false, err
	}
	at = storedTime(at)
	var out *lifecycle.Batch
	var cancelled bool
	err := s.write(ctx, func(w *writer) (err error) {
		out, cancelled, err = w.cancelBatch(id, at)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("sqlitestore: cancel batch %s: %w", id, interpretError(err))
	}
	return out, cancelled, nil
}

func (w *writer) cancelBatch(id string, at time.Time) (*lifecycle.Batch, bool, error) {
	b, err := scanBatch(w.st.batchByID.QueryRowContext(w.ctx, id))
	if err != nil {
		return nil, false, err
	}
	if !b.State.Active() || !b.CancelledAt.IsZero() {
		return b, false, nil
	}
	us := at.UnixMicro()
	if _, err := w.st.releasePendingHosts.ExecContext(w.ctx, id, us); err != nil {
		return nil, false, fmt.Errorf("release hosts: %w", err)
	}
	res, err := w.st.cancelPendingJobs.ExecContext(w.ctx, id, us)
	if err != nil {
		return nil, false, fmt.Errorf("cancel pending jobs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return nil, false, fmt.Errorf("cancel pending jobs: %w", err)
	}
	if _, err = w.st.requestCancel.ExecContext(w.ctx, id, us); err != nil {
		return nil, false, fmt.Errorf("mark running jobs: %w", err)
	}
	b.Counts.Add(lifecycle.JobPending, -int(n))
	b.Counts.Add(lifecycle.JobCancelled, int(n))
	b.State = b.Counts.State()
	b.CancelledAt = at
	b.UpdatedAt = at
	if !b.State.Active() {
		b.FinishedAt = at
	}
	if err := w.saveBatchCounts(b); err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// saveBatchCounts writes b's counts, state and times.
func (w *writer) saveBatchCounts(b *lifecycle.Batch) error {
	c := b.Counts
	_, err := w.st.updateBatchCounts.ExecContext(w.ctx, b.ID, string(b.State),
		c.Pending, c.Running, c.Succeeded, c.Failed, c.Cancelled,
		micros(b.CancelledAt), micros(b.UpdatedAt), micros(b.FinishedAt))
	if err != nil {
		return fmt.Errorf("update batch %s: %w", b.ID, err)
	}
	return nil
}

// query assembles the WHERE clause of a listing.
type query struct {
	conds []string
	args  []any
}

func (q *query) add(ok bool, cond string, args ...any) {
	if ok {
		q.conds = append(q.conds, cond)
		q.args = append(q.args, args...)
	}
}

func (q *query) where() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}

// strArgs converts states to query arguments.
func strArgs[S ~string](vals []S) []any {
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = string(v)
	}
	return args
}

// collect reads every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}
