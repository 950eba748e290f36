package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var _ lifecycle.QueueStore = (*Store)(nil)

// The queue. Pending jobs wait in the jobs table, read in queue order
// (queue_at, batch_id, position) from the partial index jobs_queue. A
// claim is one transaction that first takes a transaction-scoped advisory
// lock, so that claims on every node sharing the database are serialised
// and the running counts that the caps are applied to cannot change before
// it commits. Jobs are claimed FOR NO KEY UPDATE SKIP LOCKED, moved to
// running as UpdateJob moves a job (jobWrites), under a lease whose
// fencing token comes from the sequence job_lease_tokens. A job leaving
// running loses its lease (lease_token NULL), so the changes of a worker
// that lost it are refused.
//
// Every transaction that moves jobs locks their batches (in ID order),
// then the jobs, then their hosts (in name order), as UpdateJob and
// CancelBatch do and admissions lock hosts, so none deadlocks another. A
// claim or a rescue locks the batches of its candidates before the
// candidates themselves, and skips candidates of batches it did not lock.

// Queue statements. The literals 'pending' and 'running' are
// lifecycle.JobPending and lifecycle.JobRunning, as in the predicates of
// the jobs_queue, jobs_leases and jobs_unfinished indexes.
const (
	// queueLockKey is the advisory lock claims take: "fk-queue" in ASCII.
	queueLockKey int64 = 0x666b2d7175657565
	qQueueLock         = `SELECT pg_advisory_xact_lock($1)`

	// qRunningCounts counts the running jobs by datacenter and action,
	// through the jobs_unfinished index.
	qRunningCounts = `SELECT datacenter, action, count(*) FROM jobs
WHERE state IN ('pending', 'running') AND state = 'running'
GROUP BY datacenter, action`

	// claimable selects the jobs a claim may take: pending, due at $1, not
	// of a cancelled batch (a pending job whose batch was cancelled was
	// running then, and so is marked), and not in the datacenters ($2),
	// actions ($3) or datacenter-action pairs ($4, "dc\x1faction") whose
	// caps are reached; in queue order, at most $5.
	claimable = `FROM jobs WHERE state = 'pending' AND NOT cancel_requested
    AND (retry_at IS NULL OR retry_at <= $1)
    AND datacenter <> ALL ($2::text[]) AND action <> ALL ($3::text[])
    AND (datacenter || chr(31) || action) <> ALL ($4::text[])
ORDER BY queue_at, batch_id, position LIMIT $5`
	qClaimBatches = `SELECT ` + lockedBatchColumns + ` FROM batches
WHERE id IN (SELECT batch_id ` + claimable + `) ORDER BY id FOR NO KEY UPDATE`
	qClaimJobs = `SELECT ` + leasedJobColumns + ` ` + claimable + ` FOR NO KEY UPDATE SKIP LOCKED`

	qLeaseTokens = `SELECT nextval('job_lease_tokens') FROM generate_series(1, $1)`

	// qLockBatches locks batches $1 in ID order.
	qLockBatches = `SELECT ` + lockedBatchColumns + ` FROM batches WHERE id = ANY ($1::text[])
ORDER BY id FOR NO KEY UPDATE`
	// qLockJobs locks the jobs ($1[i], $2[i]) in (batch, host) order.
	qLockJobs = `SELECT ` + leasedJobColumns + ` FROM jobs
WHERE (batch_id, host) IN (SELECT * FROM unnest($1::text[], $2::text[]))
ORDER BY batch_id, host FOR NO KEY UPDATE`

	// qLockLeases locks the running jobs of leases ($1[i], $2[i], $3[i])
	// in (batch, host) order; qExtendLeases then extends them to $4 and
	// returns the index (1-based) of each lease held, and whether its
	// batch was cancelled.
	qLockLeases = `SELECT 1 FROM jobs
WHERE (batch_id, host, lease_token) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]))
    AND state = 'running'
ORDER BY batch_id, host FOR NO KEY UPDATE`
	qExtendLeases = `UPDATE jobs AS j SET lease_expires = $4
FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS v(batch_id, host, token, i)
WHERE j.batch_id = v.batch_id AND j.host = v.host AND j.lease_token = v.token AND j.state = 'running'
RETURNING v.i, j.cancel_requested`

	// qInsertStep records a step of the job that lease ($1, $2, $3)
	// holds; no row means the lease is lost. FOR SHARE waits for a change
	// of the job in progress, and sees its outcome.
	qInsertStep = `INSERT INTO job_steps (batch_id, host, name, attempt, started_at, finished_at, outcome, error)
SELECT batch_id, host, $4, $5, $6, $7, $8, $9 FROM jobs
WHERE batch_id = $1 AND host = $2 AND lease_token = $3 AND state = 'running' FOR SHARE`

	qJobExists = `SELECT 1 FROM jobs WHERE batch_id = $1 AND host = $2`
	qJobSteps  = `SELECT name, attempt, started_at, finished_at, outcome, error FROM job_steps
WHERE batch_id = $1 AND host = $2 ORDER BY seq`

	// expired selects the running jobs whose lease expired before $1, in
	// queue order, at most $2 (NULL: all).
	expired = `FROM jobs WHERE state = 'running' AND lease_expires < $1
ORDER BY queue_at, batch_id, position LIMIT $2`
	qRescueBatches = `SELECT ` + lockedBatchColumns + ` FROM batches
WHERE id IN (SELECT batch_id ` + expired + `) ORDER BY id FOR NO KEY UPDATE`
	qRescueJobs = `SELECT ` + leasedJobColumns + ` ` + expired + ` FOR NO KEY UPDATE SKIP LOCKED`
)

// readLocked reads the next two results of res: batches locked with
// lockedBatchColumns, then jobs locked with leasedJobColumns.
func readLocked(res pgx.BatchResults) (map[string]*lockedBatch, []leasedJob, error) {
	rows, err := res.Query()
	if err != nil {
		return nil, nil, err
	}
	batches, err := scanLockedBatches(rows)
	if err != nil {
		return nil, nil, err
	}
	if rows, err = res.Query(); err != nil {
		return nil, nil, err
	}
	jobs, err := collect(rows, scanLeasedJob)
	return batches, jobs, err
}

// claimOverscan is how many candidates a claim reads per job it may claim:
// candidates beyond the first may be refused by a cap the claim itself
// fills.
const claimOverscan = 4

// lockedBatch is a batch locked by a transaction that moves its jobs.
type lockedBatch struct {
	lifecycle.Batch
	params []byte // jsonb, decoded for claims only
}

// scanLockedBatches reads rows of lockedBatchColumns.
func scanLockedBatches(rows pgx.Rows) (map[string]*lockedBatch, error) {
	out := map[string]*lockedBatch{}
	_, err := collect(rows, func(r pgx.Row) (struct{}, error) {
		b := &lockedBatch{}
		err := r.Scan(&b.ID, &b.Action, &b.State, &b.Counts.Pending, &b.Counts.Running, &b.Counts.Succeeded,
			&b.Counts.Failed, &b.Counts.Cancelled, (*utcTime)(&b.CancelledAt), (*utcTime)(&b.FinishedAt),
			&b.Snapshot, &b.params)
		out[b.ID] = b
		return struct{}{}, err
	})
	return out, err
}

// ClaimJobs implements lifecycle.QueueStore in one transaction of two round
// trips (three when r.Limits caps anything): take the queue's advisory
// lock, [count the running jobs,] lock the candidates' batches and the
// candidates, admit them in queue order under the caps, write.
func (s *Store) ClaimJobs(ctx context.Context, r lifecycle.ClaimRequest) ([]lifecycle.Claim, error) {
	if r.Max < 1 || r.Worker == "" {
		return nil, fmt.Errorf("pgstore: claim jobs: %w: worker %q, max %d", store.ErrInvalid, r.Worker, r.Max)
	}
	if err := r.Limits.Validate(); err != nil {
		return nil, fmt.Errorf("pgstore: claim jobs: %w: %w", store.ErrInvalid, err)
	}
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: claim jobs for %s: %w", r.Worker, err)
	}
	out, err := s.claims.do(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("pgstore: claim jobs for %s: %w", r.Worker, s.interpretError(err))
	}
	return out, nil
}

// Group bounds: the most jobs one claim transaction asks for, and the most
// results one finish transaction applies.
const (
	maxGroupClaim  = 512
	maxGroupFinish = 1024
)

// initQueue sets up the grouping of claims and finishes (group.go).
func (s *Store) initQueue() {
	s.claims = &group[lifecycle.ClaimRequest, []lifecycle.Claim]{
		size: func(r lifecycle.ClaimRequest) int { return r.Max },
		max:  maxGroupClaim,
		run:  s.claimGroup,
	}
	s.finishes = &group[[]lifecycle.JobResult, []lifecycle.Finished]{
		size: func(rs []lifecycle.JobResult) int { return len(rs) },
		max:  maxGroupFinish,
		run:  s.finishGroup,
	}
}

// claimGroup runs a group of claims: one transaction for the claims of
// each distinct Limits, in the order of their first claim.
func (s *Store) claimGroup(ctx context.Context, calls []*call[lifecycle.ClaimRequest, []lifecycle.Claim]) {
	var keys []string
	byKey := map[string][]*call[lifecycle.ClaimRequest, []lifecycle.Claim]{}
	for _, c := range calls {
		k := limitsKey(c.q.Limits)
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], c)
	}
	for _, k := range keys {
		cs := byKey[k]
		reqs := make([]lifecycle.ClaimRequest, len(cs))
		for i, c := range cs {
			reqs[i] = c.q
		}
		var out [][]lifecycle.Claim
		err := s.conn(ctx, func(c *pgx.Conn) (err error) {
			out, err = claimJobs(ctx, c, reqs)
			return err
		})
		for i, c := range cs {
			if c.err = err; err == nil {
				c.r = out[i]
			}
		}
	}
}

// limitsKey identifies l: claims with equal keys share a transaction and
// a CapTracker.
func limitsKey(l lifecycle.Limits) string {
	k := fmt.Sprintf("%d/%d", l.Global, l.PerDatacenter)
	for _, m := range []map[lifecycle.Action]int{l.PerAction, l.PerDatacenterAction} {
		as := slices.Sorted(maps.Keys(m))
		k += "/"
		for _, a := range as {
			k += fmt.Sprintf("%s=%d,", a, m[a])
		}
	}
	return k
}

// claimJobs claims jobs for reqs, which share their Limits, in one
// transaction: the first claims are served first, each up to its Max.
// Jobs are due when their RetryAt is not after the earliest request's At.
func claimJobs(ctx context.Context, c *pgx.Conn, reqs []lifecycle.ClaimRequest) ([][]lifecycle.Claim, error) {
	limits, at, total := reqs[0].Limits, reqs[0].At, 0
	for _, r := range reqs {
		total += r.Max
		if r.At.Before(at) {
			at = r.At
		}
	}
	var p pgx.Batch
	p.Queue(qBegin)
	p.Queue(qQueueLock, queueLockKey)
	var caps *lifecycle.CapTracker
	if limits.Caps() {
		// Round trip 1: the running counts.
		p.Queue(qRunningCounts)
		res := c.SendBatch(ctx, &p)
		var running []lifecycle.RunningCount
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			if _, err := res.Exec(); err != nil {
				return err
			}
			rows, err := res.Query()
			if err != nil {
				return err
			}
			running, err = collect(rows, func(row pgx.Row) (lifecycle.RunningCount, error) {
				var rc lifecycle.RunningCount
				err := row.Scan(&rc.Datacenter, &rc.Action, &rc.Running)
				return rc, err
			})
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return nil, err
		}
		caps = lifecycle.NewCapTracker(limits, running)
		if caps.Full() {
			_, err := c.Exec(ctx, qCommit)
			return make([][]lifecycle.Claim, len(reqs)), err
		}
		p = pgx.Batch{}
	} else {
		caps = lifecycle.NewCapTracker(limits, nil)
	}

	// Round trip 1 (2 when capped): lock the candidates' batches, then the
	// candidates; reserve tokens.
	dcs, actions, pairs := caps.Blocked()
	blockedPairs := make([]string, len(pairs))
	for i, bp := range pairs {
		blockedPairs[i] = bp.Datacenter + "\x1f" + string(bp.Action)
	}
	if dcs == nil {
		dcs = []string{}
	}
	args := []any{at, dcs, strs(actions), blockedPairs, total * claimOverscan}
	p.Queue(qClaimBatches, args...)
	p.Queue(qClaimJobs, args...)
	p.Queue(qLeaseTokens, total)
	res := c.SendBatch(ctx, &p)
	var (
		batches map[string]*lockedBatch
		cands   []leasedJob
		tokens  []int64
	)
	err := func() error {
		for range len(p.QueuedQueries) - 3 {
			if _, err := res.Exec(); err != nil {
				return err
			}
		}
		var err error
		if batches, cands, err = readLocked(res); err != nil {
			return err
		}
		rows, err := res.Query()
		if err != nil {
			return err
		}
		tokens, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	}()
	if err := closeBatch(res, err); err != nil {
		return nil, err
	}

	// Decide.
	var ws jobWrites
	out := make([][]lifecycle.Claim, len(reqs))
	k, issued := 0, 0 // the request served, the tokens used
	params := map[string]map[string]string{}
	for i := range cands {
		for k < len(reqs) && len(out[k]) == reqs[k].Max {
			k++
		}
		if k == len(reqs) || caps.Full() {
			break
		}
		r := reqs[k]
		j := &cands[i]
		b := batches[j.BatchID]
		if b == nil || !caps.Admit(j.Datacenter, j.Action) {
			continue // a batch not locked: left for the next claim
		}
		token := tokens[issued]
		issued++
		u := lifecycle.JobUpdate{BatchID: j.BatchID, Host: j.Host, From: lifecycle.JobPending, To: lifecycle.JobRunning, At: r.At}
		if err := lifecycle.CheckJobTransition(j.State, u); err != nil {
			return nil, err
		}
		ws.move(&b.Batch, j, u, jobLease{token: token, worker: r.Worker, expires: r.LeaseUntil}, time.Time{})
		cl := lifecycle.Claim{Job: j.Job, Lease: lifecycle.JobLease{BatchID: j.BatchID, Host: j.Host, Token: token},
			Snapshot: b.Snapshot}
		if b.params != nil {
			pm, ok := params[b.ID]
			if !ok {
				if err := json.Unmarshal(b.params, &pm); err != nil {
					return nil, fmt.Errorf("batch %s: decode params: %w", b.ID, err)
				}
				params[b.ID] = pm
			}
			cl.Params = make(map[string]string, len(pm))
			for k, v := range pm {
				cl.Params[k] = v
			}
		}
		out[k] = append(out[k], cl)
	}

	// Round trip 2 (3): write and commit.
	var w pgx.Batch
	ws.queue(&w)
	w.Queue(qCommit)
	if err := c.SendBatch(ctx, &w).Close(); err != nil {
		return nil, err
	}
	return out, nil
}

// Heartbeat implements lifecycle.QueueStore in one round trip: lock the
// leases' jobs in order, extend those still held.
func (s *Store) Heartbeat(ctx context.Context, r lifecycle.HeartbeatRequest) ([]lifecycle.LeaseState, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: heartbeat: %w", err)
	}
	out := make([]lifecycle.LeaseState, len(r.Leases))
	if len(r.Leases) == 0 {
		return out, nil
	}
	n := len(r.Leases)
	batchIDs, hosts, tokens := make([]string, n), make([]string, n), make([]int64, n)
	for i, l := range r.Leases {
		batchIDs[i], hosts[i], tokens[i] = l.BatchID, l.Host, l.Token
	}
	err := s.conn(ctx, func(c *pgx.Conn) error {
		var p pgx.Batch
		p.Queue(qBegin)
		p.Queue(qLockLeases, batchIDs, hosts, tokens)
		p.Queue(qExtendLeases, batchIDs, hosts, tokens, r.Until)
		p.Queue(qCommit)
		res := c.SendBatch(ctx, &p)
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			if _, err := res.Exec(); err != nil {
				return err
			}
			rows, err := res.Query()
			if err != nil {
				return err
			}
			var i int64
			var cancel bool
			_, err = pgx.ForEachRow(rows, []any{&i, &cancel}, func() error {
				out[i-1] = lifecycle.LeaseHeld
				if cancel {
					out[i-1] = lifecycle.LeaseCancelRequested
				}
				return nil
			})
			return err
		}()
		return closeBatch(res, err)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: heartbeat: %w", s.interpretError(err))
	}
	return out, nil
}

// RecordStep implements lifecycle.QueueStore with one statement.
func (s *Store) RecordStep(ctx context.Context, l lifecycle.JobLease, st lifecycle.Step) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("pgstore: record step %q of job %s/%s: %w", st.Name, l.BatchID, l.Host, err)
	}
	tag, err := s.pool.Exec(ctx, qInsertStep, l.BatchID, l.Host, l.Token, st.Name, st.Attempt,
		nullTime(st.StartedAt), nullTime(st.FinishedAt), string(st.Outcome), st.Error)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: record step %q of job %s/%s: %w", st.Name, l.BatchID, l.Host, s.interpretError(err))
	case tag.RowsAffected() == 0:
		return fmt.Errorf("pgstore: record step %q: %w", st.Name, lifecycle.LeaseLostError(l))
	}
	return nil
}

// FinishJobs implements lifecycle.QueueStore in one transaction of two
// round trips for all results: lock their batches and jobs; check each
// result's lease and transition and apply it as UpdateJob would; write.
func (s *Store) FinishJobs(ctx context.Context, rs []lifecycle.JobResult) ([]lifecycle.Finished, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: finish jobs: %w", err)
	}
	out := make([]lifecycle.Finished, len(rs))
	if len(rs) == 0 {
		return out, nil
	}
	out, err := s.finishes.do(ctx, rs)
	if err != nil {
		return nil, fmt.Errorf("pgstore: finish jobs: %w", s.interpretError(err))
	}
	return out, nil
}

// finishGroup applies the results of a group of FinishJobs calls in one
// transaction.
func (s *Store) finishGroup(ctx context.Context, calls []*call[[]lifecycle.JobResult, []lifecycle.Finished]) {
	var rs []lifecycle.JobResult
	for _, c := range calls {
		rs = append(rs, c.q...)
	}
	out := make([]lifecycle.Finished, len(rs))
	err := s.conn(ctx, func(c *pgx.Conn) error { return finishJobs(ctx, c, rs, out) })
	for _, c := range calls {
		if c.err = err; err == nil {
			c.r, out = out[:len(c.q):len(c.q)], out[len(c.q):]
		}
	}
}

// finishJobs applies rs in one transaction of two round trips, and sets
// out[i] to the outcome of rs[i].
func finishJobs(ctx context.Context, c *pgx.Conn, rs []lifecycle.JobResult, out []lifecycle.Finished) error {
	batchIDs, hosts := make([]string, len(rs)), make([]string, len(rs))
	for i, r := range rs {
		batchIDs[i], hosts[i] = r.Lease.BatchID, r.Lease.Host
	}
	// Round trip 1: lock the batches, then the jobs.
	var p pgx.Batch
	p.Queue(qBegin)
	p.Queue(qLockBatches, batchIDs)
	p.Queue(qLockJobs, batchIDs, hosts)
	res := c.SendBatch(ctx, &p)
	var batches map[string]*lockedBatch
	jobs := map[[2]string]*leasedJob{}
	err := func() error {
		if _, err := res.Exec(); err != nil {
			return err
		}
		var js []leasedJob
		var err error
		batches, js, err = readLocked(res)
		for i := range js {
			jobs[[2]string{js[i].BatchID, js[i].Host}] = &js[i]
		}
		return err
	}()
	if err := closeBatch(res, err); err != nil {
		return err
	}

	// Decide, result by result.
	var ws jobWrites
	for i, r := range rs {
		j, b := jobs[[2]string{r.Lease.BatchID, r.Lease.Host}], batches[r.Lease.BatchID]
		if j == nil || b == nil || !j.holds(r.Lease.Token) {
			out[i].Err = lifecycle.LeaseLostError(r.Lease)
			continue
		}
		u := lifecycle.JobUpdate{BatchID: j.BatchID, Host: j.Host, From: lifecycle.JobRunning,
			To: lifecycle.FinishedState(r, j.CancelRequested), Error: r.Error, At: r.At}
		if err := lifecycle.CheckJobTransition(j.State, u); err != nil {
			out[i].Err = err
			continue
		}
		ws.move(&b.Batch, j, u, jobLease{}, r.RetryAt)
		out[i].State = u.To
		if !b.State.Active() {
			out[i].BatchEnded, out[i].BatchState = true, b.State
		}
	}

	// Round trip 2: write and commit.
	var w pgx.Batch
	ws.queue(&w)
	w.Queue(qCommit)
	return c.SendBatch(ctx, &w).Close()
}

// RescueJobs implements lifecycle.QueueStore in one transaction of two
// round trips: lock the expired jobs' batches, then the jobs (skipping
// those being changed), move them, write.
func (s *Store) RescueJobs(ctx context.Context, at time.Time, max int) ([]lifecycle.Job, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: rescue jobs: %w", err)
	}
	limit := pgtype.Int8{Int64: int64(max), Valid: max > 0}
	var out []lifecycle.Job
	err := s.conn(ctx, func(c *pgx.Conn) error {
		var p pgx.Batch
		p.Queue(qBegin)
		p.Queue(qRescueBatches, at, limit)
		p.Queue(qRescueJobs, at, limit)
		res := c.SendBatch(ctx, &p)
		var batches map[string]*lockedBatch
		var expired []leasedJob
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			var err error
			batches, expired, err = readLocked(res)
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return err
		}
		var ws jobWrites
		out = out[:0]
		for i := range expired {
			j := &expired[i]
			b := batches[j.BatchID]
			if b == nil {
				continue // a batch not locked: left for the next rescue
			}
			u := lifecycle.JobUpdate{BatchID: j.BatchID, Host: j.Host, From: lifecycle.JobRunning,
				To:    lifecycle.FinishedState(lifecycle.JobResult{To: lifecycle.JobPending}, j.CancelRequested),
				Error: lifecycle.LeaseExpiredMessage(j.worker, j.expires), At: at}
			ws.move(&b.Batch, j, u, jobLease{}, time.Time{})
			out = append(out, j.Job)
		}
		var w pgx.Batch
		ws.queue(&w)
		w.Queue(qCommit)
		return c.SendBatch(ctx, &w).Close()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: rescue jobs: %w", s.interpretError(err))
	}
	return out, nil
}

// JobSteps implements lifecycle.QueueStore: one round trip, in one
// snapshot.
func (s *Store) JobSteps(ctx context.Context, batchID, host string) ([]lifecycle.Step, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: steps of job %s/%s: %w", batchID, host, err)
	}
	var steps []lifecycle.Step
	err := s.conn(ctx, func(c *pgx.Conn) error {
		var p pgx.Batch
		p.Queue(qBeginSnapshot)
		p.Queue(qJobExists, batchID, host)
		p.Queue(qJobSteps, batchID, host)
		p.Queue(qCommit)
		res := c.SendBatch(ctx, &p)
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			var one int
			if err := res.QueryRow().Scan(&one); err != nil {
				return err // pgx.ErrNoRows: store.ErrNotFound
			}
			rows, err := res.Query()
			if err != nil {
				return err
			}
			steps, err = collect(rows, func(r pgx.Row) (lifecycle.Step, error) {
				var st lifecycle.Step
				err := r.Scan(&st.Name, &st.Attempt, (*utcTime)(&st.StartedAt), (*utcTime)(&st.FinishedAt), &st.Outcome, &st.Error)
				return st, err
			})
			return err
		}()
		return closeBatch(res, err)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: steps of job %s/%s: %w", batchID, host, s.interpretError(err))
	}
	if steps == nil {
		steps = []lifecycle.Step{}
	}
	return steps, nil
}
