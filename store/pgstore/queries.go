package pgstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// Every statement the store sends is here. State names are passed as
// parameters, from the lifecycle package's constants, except in
// qActiveCounts, whose literals match the jobs_unfinished index.

// Transaction control, queued in pipelines (see Store.conn).
const (
	qBegin         = "BEGIN ISOLATION LEVEL READ COMMITTED"
	qBeginSnapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
	qCommit        = "COMMIT"
	qRollback      = "ROLLBACK"
)

// Migrations.
const (
	// migrationLockKey is the advisory lock taken while migrating: "fleetkit"
	// in ASCII.
	migrationLockKey int64 = 0x666c6565746b6974

	qMigrationLock  = "SELECT pg_advisory_xact_lock($1)"
	qMigrationTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)`
	qMigrationVersion = "SELECT coalesce(max(version), 0) FROM schema_migrations"
	qMigrationRecord  = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"
)

// Column lists, in the order the scan functions read them.
const (
	batchColumns = `id, owner, action, hosts, snapshot, params, priority, state,
    n_pending, n_running, n_succeeded, n_failed, n_cancelled,
    cancelled_at, created_at, updated_at, finished_at, queue_at`
	jobColumns = `batch_id, host, action, priority, datacenter, sku, state, attempts,
    cancel_requested, error, created_at, started_at, finished_at, updated_at`
	hostColumns = `name, state, reason, coalesce(batch_id, ''), updated_at`
	// leasedJobColumns are jobColumns and the lease, for scanLeasedJob.
	leasedJobColumns = jobColumns + `, lease_token, worker, lease_expires`
	// lockedBatchColumns are what a transaction that moves jobs reads of
	// their batches (scanLockedBatch).
	lockedBatchColumns = `id, action, state, n_pending, n_running, n_succeeded, n_failed, n_cancelled,
    cancelled_at, finished_at, snapshot, params`
)

// Admission (CreateBatch): one call of the admit_batch function of the
// schema, which claims the hosts, records the batch and its jobs, or
// returns the hosts that refused it; see migrations/0001_init.sql and
// 0003_queue.sql.
const qAdmitBatch = `SELECT name, state, reason, batch_id
FROM admit_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

// Batches.
const (
	qBatch     = `SELECT ` + batchColumns + ` FROM batches WHERE id = $1`
	qBatchJobs = `SELECT ` + jobColumns + ` FROM jobs WHERE batch_id = $1 ORDER BY position`
	// qLockBatch locks a batch row before its jobs and hosts: every
	// transaction that changes a batch's jobs takes batch, then jobs, then
	// hosts (in name order), so none deadlocks another.
	qLockBatch = `SELECT ` + batchColumns + ` FROM batches WHERE id = $1 FOR NO KEY UPDATE`
	// qLockUnfinishedJobs locks a batch's jobs in states $2.
	qLockUnfinishedJobs = `SELECT host, state FROM jobs
WHERE batch_id = $1 AND state = ANY ($2::text[]) ORDER BY host FOR NO KEY UPDATE`
	qEndJobs = `UPDATE jobs SET state = $3, finished_at = $4, updated_at = $4
WHERE batch_id = $1 AND host = ANY ($2::text[])`
	qRequestCancel = `UPDATE jobs SET cancel_requested = true, updated_at = $3
WHERE batch_id = $1 AND host = ANY ($2::text[])`
	// qLockHosts locks hosts in name order (see qLockBatch).
	qLockHosts    = `SELECT name FROM hosts WHERE name = ANY ($1::text[]) ORDER BY name FOR NO KEY UPDATE`
	qReleaseHosts = `UPDATE hosts SET state = $3, reason = '', batch_id = NULL, updated_at = $4
WHERE name = ANY ($1::text[]) AND batch_id = $2`
	qUpdateBatch = `UPDATE batches SET state = $2, n_pending = $3, n_running = $4, n_succeeded = $5,
    n_failed = $6, n_cancelled = $7, cancelled_at = $8, updated_at = $9, finished_at = $10
WHERE id = $1`
)

// Jobs.
const (
	// qLockBatchCounts locks a batch row (see qLockBatch) and reads what a
	// job update changes.
	qLockBatchCounts = `SELECT action, state, n_pending, n_running, n_succeeded, n_failed, n_cancelled,
    cancelled_at, finished_at
FROM batches WHERE id = $1 FOR NO KEY UPDATE`
	qLockJob = `SELECT ` + leasedJobColumns + ` FROM jobs WHERE batch_id = $1 AND host = $2 FOR NO KEY UPDATE`
	// qSetJobs writes jobs, one per element of the arrays, with their
	// leases and retry times (see queue.go).
	qSetJobs = `UPDATE jobs AS j SET state = v.state, attempts = v.attempts, error = v.error,
    started_at = v.started_at, finished_at = v.finished_at, updated_at = v.updated_at,
    lease_token = v.lease_token, worker = v.worker, lease_expires = v.lease_expires, retry_at = v.retry_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::text[], $6::timestamptz[],
    $7::timestamptz[], $8::timestamptz[], $9::bigint[], $10::text[], $11::timestamptz[], $12::timestamptz[])
    AS v(batch_id, host, state, attempts, error, started_at, finished_at, updated_at,
        lease_token, worker, lease_expires, retry_at)
WHERE j.batch_id = v.batch_id AND j.host = v.host`
	// qSetHostsAfterJobs moves the hosts of jobs ($1, in name order), each
	// if its batch ($2) still holds it, to state $3 held by $4 (NULL:
	// released) at $5. The hosts are locked first, with qLockHosts.
	qSetHostsAfterJobs = `UPDATE hosts AS h SET state = v.state, reason = '', batch_id = v.holder, updated_at = v.at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS v(name, batch_id, state, holder, at)
WHERE h.name = v.name AND h.batch_id = v.batch_id`
	// qActiveCounts counts unfinished jobs. A job that has not ended keeps
	// its batch active (a batch's state derives from its jobs'), so these
	// are the jobs of active batches. The literals are lifecycle.JobPending
	// and lifecycle.JobRunning, as in the jobs_unfinished index predicate.
	qActiveCounts = `SELECT datacenter, action,
    count(*) FILTER (WHERE state = 'pending'),
    count(*) FILTER (WHERE state = 'running')
FROM jobs WHERE state IN ('pending', 'running')
GROUP BY datacenter, action ORDER BY datacenter, action`
)

// Hosts.
const (
	qHost = `SELECT ` + hostColumns + ` FROM hosts WHERE name = $1`
	// qEnsureHost gives a host never seen a row to lock, in the
	// transaction that may change it; the row is rolled back with a
	// refused change.
	qEnsureHost = `INSERT INTO hosts (name, state) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`
	qLockHost   = `SELECT ` + hostColumns + ` FROM hosts WHERE name = $1 FOR NO KEY UPDATE`
	qSetHost    = `UPDATE hosts SET state = $2, reason = $3, batch_id = NULL, updated_at = $4 WHERE name = $1`
)

// Leases (store.Locker). Expiry is judged by the caller's clock, passed as
// a parameter, never by the server's now().
const (
	// qAcquire takes the lease on $1 when it is free or lapsed ($4 is now)
	// and returns the new token; no row means another holder has it.
	qAcquire = `INSERT INTO leases AS l (name, holder, token, expires) VALUES ($1, $2, 1, $3)
ON CONFLICT (name) DO UPDATE
    SET holder = excluded.holder, token = l.token + 1, expires = excluded.expires
    WHERE l.expires <= $4
RETURNING token`
	qLeaseExpiry = `SELECT expires FROM leases WHERE name = $1`
	qRenew       = `UPDATE leases SET expires = $4
WHERE name = $1 AND holder = $2 AND token = $3 AND expires > $5`
	// qRelease lets the lease lapse at once; the row, and its token, stay.
	qRelease = `UPDATE leases SET expires = '-infinity'
WHERE name = $1 AND holder = $2 AND token = $3 AND expires > $4`
)

// listBatchesQuery builds the query for one page of ListBatches: the
// batches matching f, older than the cursor's batch, newest first, one more
// than limit so the caller knows whether a page follows.
func listBatchesQuery(f lifecycle.BatchFilter, after string, limit int) (string, []any) {
	var w where
	if after != "" {
		w.add("id < $%d", after)
	}
	if f.Owner != "" {
		w.add("owner = $%d", f.Owner)
	}
	if f.Host != "" {
		w.add("id IN (SELECT batch_id FROM jobs WHERE host = $%d)", f.Host)
	}
	if f.Action != "" {
		w.add("action = $%d", string(f.Action))
	}
	if len(f.States) > 0 {
		w.add("state = ANY ($%d::text[])", strs(f.States))
	}
	if !f.CreatedAfter.IsZero() {
		w.add("created_at > $%d", f.CreatedAfter)
	}
	if !f.CreatedBefore.IsZero() {
		w.add("created_at < $%d", f.CreatedBefore)
	}
	return fmt.Sprintf("SELECT %s FROM batches%s ORDER BY id DESC LIMIT %d", batchColumns, w.sql(), limit+1), w.args
}

// listJobsQuery builds the query for one page of ListJobs: the jobs
// matching f after the cursor's job, by batch ID then host, one more than
// limit.
func listJobsQuery(f lifecycle.JobFilter, afterBatch, afterHost string, limit int) (string, []any) {
	var w where
	if afterBatch != "" {
		w.add2("(batch_id, host) > ($%d, $%d)", afterBatch, afterHost)
	}
	if f.BatchID != "" {
		w.add("batch_id = $%d", f.BatchID)
	}
	if f.Host != "" {
		w.add("host = $%d", f.Host)
	}
	if f.Action != "" {
		w.add("action = $%d", string(f.Action))
	}
	if len(f.States) > 0 {
		w.add("state = ANY ($%d::text[])", strs(f.States))
	}
	if !f.FinishedAfter.IsZero() {
		w.add("finished_at > $%d", f.FinishedAfter)
	}
	return fmt.Sprintf("SELECT %s FROM jobs%s ORDER BY batch_id, host LIMIT %d", jobColumns, w.sql(), limit+1), w.args
}

// where accumulates the conditions of a listing and their arguments.
type where struct {
	conds []string
	args  []any
}

// add appends a condition with one parameter, written $%d in cond.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// add2 appends a condition with two parameters.
func (w *where) add2(cond string, a, b any) {
	w.args = append(w.args, a, b)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)-1, len(w.args)))
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// nullTime is t for a timestamptz parameter: NULL when t is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// strs converts states to the text array a query takes.
func strs[S ~string](ss []S) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
