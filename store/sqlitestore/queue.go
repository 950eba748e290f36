package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var _ lifecycle.QueueStore = (*Store)(nil)

// The queue. Pending jobs wait in the jobs table, read in queue order
// (queue_at, batch_id, position) from the partial index jobs_queue. Every
// queue change is a write request, so claims are serialised by the writer
// goroutine of each process and by SQLite's write lock across processes:
// the running counts a claim reads to apply the caps cannot change before
// it commits. A claim moves each job it takes as UpdateJob would
// (moveJob), with a lease: a fencing token from queue_tokens, which grows
// across every process sharing the file, the worker's name and the
// expiry. A job leaving running loses its lease (lease_token NULL), so the
// changes of a worker that lost it are refused.

// Queue statements, prepared on the writer connection on first use.
const (
	// sqlRunningCounts counts the running jobs by datacenter and action,
	// from the jobs_running index.
	sqlRunningCounts = `SELECT datacenter, action, count(*) FROM jobs INDEXED BY jobs_running
	WHERE state = 'running' GROUP BY datacenter, action`

	// sqlClaimCandidates lists up to ?5 claimable jobs in queue order:
	// pending, due at ?1, not of a cancelled batch (a pending job whose
	// batch was cancelled was running then, and so is marked), and not in
	// the datacenters (JSON array ?2), actions (?3) or datacenter-action
	// pairs (?4, "dc\x1faction") whose caps are reached.
	sqlClaimCandidates = `SELECT batch_id, host, datacenter, action FROM jobs INDEXED BY jobs_queue
	WHERE state = 'pending' AND cancel_requested = 0 AND (retry_at IS NULL OR retry_at <= ?1)
		AND datacenter NOT IN (SELECT value FROM json_each(?2))
		AND action NOT IN (SELECT value FROM json_each(?3))
		AND datacenter || char(31) || action NOT IN (SELECT value FROM json_each(?4))
	ORDER BY queue_at, batch_id, position LIMIT ?5`

	// sqlIssueTokens reserves ?1 fencing tokens and returns the last.
	sqlIssueTokens = `UPDATE queue_tokens SET last = last + ?1 WHERE id = 1 RETURNING last`

	sqlBatchWork = `SELECT snapshot, params FROM batches WHERE id = ?`

	// sqlExtendLease extends the lease (?1, ?2, ?3) to ?4 and returns
	// whether the job's batch was cancelled; no row: the lease is lost.
	sqlExtendLease = `UPDATE jobs SET lease_expires = ?4
	WHERE batch_id = ?1 AND host = ?2 AND lease_token = ?3 AND state = 'running'
	RETURNING cancel_requested`

	sqlLeaseHeld = `SELECT 1 FROM jobs
	WHERE batch_id = ?1 AND host = ?2 AND lease_token = ?3 AND state = 'running'`

	sqlInsertStep = `INSERT INTO job_steps (batch_id, host, seq, name, attempt, started_at, finished_at, outcome, error)
	SELECT ?1, ?2, COALESCE(MAX(seq), 0) + 1, ?3, ?4, ?5, ?6, ?7, ?8 FROM job_steps
	WHERE batch_id = ?1 AND host = ?2`

	// sqlExpiredLeases lists up to ?2 running jobs whose lease expired
	// before ?1, in queue order.
	sqlExpiredLeases = `SELECT batch_id, host, worker, lease_token, lease_expires FROM jobs INDEXED BY jobs_running
	WHERE state = 'running' AND lease_expires < ?1
	ORDER BY queue_at, batch_id, position LIMIT ?2`

	sqlJobSteps = `SELECT name, attempt, started_at, finished_at, outcome, error FROM job_steps
	WHERE batch_id = ? AND host = ? ORDER BY seq`

	sqlJobExists = `SELECT 1 FROM jobs WHERE batch_id = ? AND host = ?`
)

// claimOverscan is how many candidates a claim reads per job it may claim:
// candidates beyond the first may be refused by a cap the claim itself
// fills.
const claimOverscan = 4

// queueStmt returns the statement for query on the writer connection,
// prepared on first use.
func (w *writer) queueStmt(query string) (*sql.Stmt, error) {
	if s := w.queueStmts[query]; s != nil {
		return s, nil
	}
	s, err := w.conn.PrepareContext(w.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare %.40q: %w", query, err)
	}
	w.stmts.all = append(w.stmts.all, s)
	w.queueStmts[query] = s
	return s, nil
}

// ClaimJobs implements lifecycle.QueueStore: in one write transaction it
// reads the running counts (only when r.Limits caps anything), the
// candidates in queue order, and moves the admitted ones to running under
// new leases.
func (s *Store) ClaimJobs(ctx context.Context, r lifecycle.ClaimRequest) ([]lifecycle.Claim, error) {
	if err := s.checkOpen("claim jobs"); err != nil {
		return nil, err
	}
	if r.Max < 1 || r.Worker == "" {
		return nil, fmt.Errorf("sqlitestore: claim jobs: %w: worker %q, max %d", store.ErrInvalid, r.Worker, r.Max)
	}
	if err := r.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: claim jobs: %w: %w", store.ErrInvalid, err)
	}
	var out []lifecycle.Claim
	err := s.write(ctx, func(w *writer) (err error) {
		out, err = w.claimJobs(r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: claim jobs for %s: %w", r.Worker, interpretError(err))
	}
	return out, nil
}

// candidate is a job a claim may take.
type candidate struct {
	batchID, host, dc string
	action            lifecycle.Action
}

func (w *writer) claimJobs(r lifecycle.ClaimRequest) ([]lifecycle.Claim, error) {
	var running []lifecycle.RunningCount
	if r.Limits.Caps() {
		var err error
		if running, err = w.runningCounts(); err != nil {
			return nil, err
		}
	}
	caps := lifecycle.NewCapTracker(r.Limits, running)
	if caps.Full() {
		return nil, nil
	}
	dcs, actions, pairs := caps.Blocked()
	blockedPairs := make([]string, len(pairs))
	for i, p := range pairs {
		blockedPairs[i] = p.Datacenter + "\x1f" + string(p.Action)
	}
	cands, err := w.candidates(r.At, jsonText(dcs), jsonText(actions), jsonText(blockedPairs), r.Max*claimOverscan)
	if err != nil {
		return nil, err
	}
	admitted := cands[:0]
	for _, c := range cands {
		if len(admitted) == r.Max {
			break
		}
		if caps.Admit(c.dc, c.action) {
			admitted = append(admitted, c)
		}
	}
	if len(admitted) == 0 {
		return nil, nil
	}
	st, err := w.queueStmt(sqlIssueTokens)
	if err != nil {
		return nil, err
	}
	var last int64
	if err := st.QueryRowContext(w.ctx, len(admitted)).Scan(&last); err != nil {
		return nil, fmt.Errorf("issue fencing tokens: %w", err)
	}
	at := storedTime(r.At)
	out := make([]lifecycle.Claim, len(admitted))
	work := map[string]*lifecycle.Claim{} // a batch's snapshot and params
	for i, c := range admitted {
		token := last - int64(len(admitted)-1-i)
		j, _, err := w.moveJob(jobMove{
			u:     lifecycle.JobUpdate{BatchID: c.batchID, Host: c.host, From: lifecycle.JobPending, To: lifecycle.JobRunning, At: at},
			token: token, worker: r.Worker, expires: storedTime(r.LeaseUntil),
		})
		if err != nil {
			return nil, fmt.Errorf("claim job %s/%s: %w", c.batchID, c.host, err)
		}
		cl := lifecycle.Claim{Job: j, Lease: lifecycle.JobLease{BatchID: c.batchID, Host: c.host, Token: token}}
		bw := work[c.batchID]
		if bw == nil {
			bw = &lifecycle.Claim{}
			if err := w.batchWork(c.batchID, bw); err != nil {
				return nil, err
			}
			work[c.batchID] = bw
		}
		cl.Snapshot = bw.Snapshot
		if bw.Params != nil {
			cl.Params = make(map[string]string, len(bw.Params))
			for k, v := range bw.Params {
				cl.Params[k] = v
			}
		}
		out[i] = cl
	}
	return out, nil
}

func (w *writer) runningCounts() ([]lifecycle.RunningCount, error) {
	st, err := w.queueStmt(sqlRunningCounts)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("count running jobs: %w", err)
	}
	return collect(rows, func(sc scanner) (lifecycle.RunningCount, error) {
		var c lifecycle.RunningCount
		err := sc.Scan(&c.Datacenter, &c.Action, &c.Running)
		return c, err
	})
}

func (w *writer) candidates(at time.Time, dcs, actions, pairs string, limit int) ([]candidate, error) {
	st, err := w.queueStmt(sqlClaimCandidates)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(w.ctx, at.UnixMicro(), dcs, actions, pairs, limit)
	if err != nil {
		return nil, fmt.Errorf("read the queue: %w", err)
	}
	cands, err := collect(rows, func(sc scanner) (candidate, error) {
		var c candidate
		err := sc.Scan(&c.batchID, &c.host, &c.dc, &c.action)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the queue: %w", err)
	}
	return cands, nil
}

// batchWork reads the snapshot and params of batch id into c.
func (w *writer) batchWork(id string, c *lifecycle.Claim) error {
	st, err := w.queueStmt(sqlBatchWork)
	if err != nil {
		return err
	}
	if err := st.QueryRowContext(w.ctx, id).Scan(&c.Snapshot, jsonCol{&c.Params}); err != nil {
		return fmt.Errorf("read batch %s: %w", id, err)
	}
	return nil
}

// jsonText encodes a list of names as a JSON array for json_each.
func jsonText[S ~string](vs []S) string {
	if len(vs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(vs) // strings always encode
	return string(b)
}

// Heartbeat implements lifecycle.QueueStore, in one write transaction.
func (s *Store) Heartbeat(ctx context.Context, r lifecycle.HeartbeatRequest) ([]lifecycle.LeaseState, error) {
	if err := s.checkOpen("heartbeat"); err != nil {
		return nil, err
	}
	out := make([]lifecycle.LeaseState, len(r.Leases))
	until := storedTime(r.Until).UnixMicro()
	err := s.write(ctx, func(w *writer) error {
		st, err := w.queueStmt(sqlExtendLease)
		if err != nil {
			return err
		}
		for i, l := range r.Leases {
			var cancel bool
			err := st.QueryRowContext(w.ctx, l.BatchID, l.Host, l.Token, until).Scan(&cancel)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				out[i] = lifecycle.LeaseLost
			case err != nil:
				return fmt.Errorf("extend lease on %s/%s: %w", l.BatchID, l.Host, err)
			case cancel:
				out[i] = lifecycle.LeaseCancelRequested
			default:
				out[i] = lifecycle.LeaseHeld
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: heartbeat: %w", interpretError(err))
	}
	return out, nil
}

// RecordStep implements lifecycle.QueueStore.
func (s *Store) RecordStep(ctx context.Context, l lifecycle.JobLease, st lifecycle.Step) error {
	if err := s.checkOpen("record step"); err != nil {
		return err
	}
	err := s.write(ctx, func(w *writer) error {
		held, err := w.queueStmt(sqlLeaseHeld)
		if err != nil {
			return err
		}
		var one int
		switch err := held.QueryRowContext(w.ctx, l.BatchID, l.Host, l.Token).Scan(&one); {
		case errors.Is(err, sql.ErrNoRows):
			return lifecycle.LeaseLostError(l)
		case err != nil:
			return fmt.Errorf("check lease: %w", err)
		}
		ins, err := w.queueStmt(sqlInsertStep)
		if err != nil {
			return err
		}
		_, err = ins.ExecContext(w.ctx, l.BatchID, l.Host, st.Name, st.Attempt, micros(st.StartedAt),
			micros(st.FinishedAt), string(st.Outcome), st.Error)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: record step %q of job %s/%s: %w", st.Name, l.BatchID, l.Host, interpretError(err))
	}
	return nil
}

// FinishJobs implements lifecycle.QueueStore: every result in one write
// transaction, each moved as UpdateJob moves a job (moveJob), fenced on
// its lease.
func (s *Store) FinishJobs(ctx context.Context, rs []lifecycle.JobResult) ([]lifecycle.Finished, error) {
	if err := s.checkOpen("finish jobs"); err != nil {
		return nil, err
	}
	out := make([]lifecycle.Finished, len(rs))
	err := s.write(ctx, func(w *writer) error {
		clear(out) // a group commit that failed as a whole runs again
		for i, r := range rs {
			j, bs, err := w.moveJob(jobMove{
				u: lifecycle.JobUpdate{BatchID: r.Lease.BatchID, Host: r.Lease.Host, From: lifecycle.JobRunning,
					To: r.To, Error: r.Error, At: storedTime(r.At)},
				fenced: true, fence: r.Lease.Token, retryAt: storedTime(r.RetryAt),
			})
			switch {
			case err == nil:
				out[i].State = j.State
				if !bs.Active() {
					out[i].BatchEnded, out[i].BatchState = true, bs
				}
			case errors.Is(err, lifecycle.ErrLeaseLost), errors.Is(err, lifecycle.ErrInvalidTransition):
				out[i].Err = err
			default:
				return err // the store failed: nothing is applied
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: finish jobs: %w", interpretError(err))
	}
	return out, nil
}

// RescueJobs implements lifecycle.QueueStore, in one write transaction.
func (s *Store) RescueJobs(ctx context.Context, at time.Time, max int) ([]lifecycle.Job, error) {
	if err := s.checkOpen("rescue jobs"); err != nil {
		return nil, err
	}
	at = storedTime(at)
	limit := -1
	if max > 0 {
		limit = max
	}
	var out []lifecycle.Job
	err := s.write(ctx, func(w *writer) error {
		st, err := w.queueStmt(sqlExpiredLeases)
		if err != nil {
			return err
		}
		type lapsed struct {
			batchID, host, worker string
			token                 int64
			expires               time.Time
		}
		rows, err := st.QueryContext(w.ctx, at.UnixMicro(), limit)
		if err != nil {
			return fmt.Errorf("read expired leases: %w", err)
		}
		expired, err := collect(rows, func(sc scanner) (lapsed, error) {
			var l lapsed
			err := sc.Scan(&l.batchID, &l.host, &l.worker, &l.token, timeCol{&l.expires})
			return l, err
		})
		if err != nil {
			return fmt.Errorf("read expired leases: %w", err)
		}
		out = make([]lifecycle.Job, 0, len(expired))
		for _, l := range expired {
			// Fenced as a worker's retry: a cancelled batch's job ends
			// cancelled.
			j, _, err := w.moveJob(jobMove{
				u: lifecycle.JobUpdate{BatchID: l.batchID, Host: l.host, From: lifecycle.JobRunning,
					To: lifecycle.JobPending, At: at, Error: lifecycle.LeaseExpiredMessage(l.worker, l.expires)},
				fenced: true, fence: l.token,
			})
			if err != nil {
				return fmt.Errorf("rescue job %s/%s: %w", l.batchID, l.host, err)
			}
			out = append(out, j)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: rescue jobs: %w", interpretError(err))
	}
	return out, nil
}

// JobSteps implements lifecycle.QueueStore.
func (s *Store) JobSteps(ctx context.Context, batchID, host string) ([]lifecycle.Step, error) {
	if err := s.checkOpen("job steps"); err != nil {
		return nil, err
	}
	steps, err := s.jobSteps(ctx, batchID, host)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: steps of job %s/%s: %w", batchID, host, interpretError(err))
	}
	return steps, nil
}

func (s *Store) jobSteps(ctx context.Context, batchID, host string) ([]lifecycle.Step, error) {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var one int
	if err := tx.QueryRowContext(ctx, sqlJobExists, batchID, host).Scan(&one); err != nil {
		return nil, err // sql.ErrNoRows: store.ErrNotFound
	}
	rows, err := tx.QueryContext(ctx, sqlJobSteps, batchID, host)
	if err != nil {
		return nil, err
	}
	steps, err := collect(rows, func(sc scanner) (lifecycle.Step, error) {
		var st lifecycle.Step
		err := sc.Scan(&st.Name, &st.Attempt, timeCol{&st.StartedAt}, timeCol{&st.FinishedAt}, &st.Outcome, &st.Error)
		return st, err
	})
	if err != nil {
		return nil, err
	}
	if steps == nil {
		steps = []lifecycle.Step{}
	}
	return steps, nil
}
