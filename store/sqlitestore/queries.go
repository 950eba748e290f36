package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Every SQL statement of the backend is here. The write statements are
// prepared once on the writer connection; the read statements once on the
// pool (database/sql prepares them on each connection as it is used).
// Listings with optional filters are assembled in batch.go and job.go from
// the column lists below.

const batchColumns = `id, owner, action, hosts, snapshot, params, priority, state,
	pending, running, succeeded, failed, cancelled,
	cancelled_at, created_at, updated_at, finished_at, queue_at`

const jobColumns = `batch_id, host, action, priority, datacenter, sku, state, attempts,
	cancel_requested, error, created_at, started_at, finished_at, updated_at`

// Transaction control on the writer connection. Writes take the write lock
// at BEGIN (IMMEDIATE), so they never fail to upgrade a read lock midway,
// and they wait busy_timeout for another process's write to finish.
const (
	sqlBegin      = `BEGIN IMMEDIATE`
	sqlCommit     = `COMMIT`
	sqlRollback   = `ROLLBACK`
	sqlSavepoint  = `SAVEPOINT request`
	sqlRelease    = `RELEASE request`
	sqlRollbackTo = `ROLLBACK TO request`
)

// Admission.
const (
	// sqlClaimHosts claims every host of a JSON array for a batch at a
	// time (parameters: batch ID, time, array). A host already known is
	// claimed only when it is ready or failed, so the number of rows
	// changed is the number of hosts claimed.
	sqlClaimHosts = `INSERT INTO hosts (name, state, reason, batch_id, updated_at)
	SELECT value, 'claimed', '', ?, ? FROM json_each(?) WHERE true
	ON CONFLICT (name) DO UPDATE SET state = 'claimed', reason = '',
		batch_id = excluded.batch_id, updated_at = excluded.updated_at
	WHERE hosts.state IN ('ready', 'failed')`

	// sqlRefusedHosts lists the hosts of the JSON array ?1 that batch ?2
	// could not claim.
	sqlRefusedHosts = `SELECT h.name, h.state, h.reason, h.batch_id
	FROM json_each(?1) AS j JOIN hosts AS h ON h.name = j.value
	WHERE h.state NOT IN ('ready', 'failed') AND h.batch_id <> ?2`

	sqlInsertBatch = `INSERT INTO batches (` + batchColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// Jobs are inserted by statements of many rows, prepared once for each
// number of rows (writer.insertJobs). Parameters are anonymous: the driver
// binds "?" faster than "?NNN".
const (
	// jobRowParams is the number of parameters of one row of
	// insertJobsSQL: host, datacenter, sku.
	jobRowParams = 3
	// jobSharedParams is the number of parameters insertJobsSQL starts
	// with: batch ID, action, priority, created_at, updated_at, queue_at
	// and the position of the first row.
	jobSharedParams = 7
	// maxJobRows is the most jobs one statement inserts; larger batches
	// are inserted in chunks.
	maxJobRows = 64
)

// insertJobsSQL returns the statement inserting n pending jobs that share
// their batch, action, priority and times.
func insertJobsSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO jobs (batch_id, host, position, action, priority, datacenter, sku,
		state, attempts, cancel_requested, error, created_at, started_at, finished_at, updated_at, queue_at)
	SELECT c.b, v.column1, c.o + v.column4, c.a, c.p, v.column2, v.column3,
		'pending', 0, 0, '', c.t, NULL, NULL, c.u, c.q
	FROM (SELECT ? AS b, ? AS a, ? AS p, ? AS t, ? AS u, ? AS q, ? AS o) AS c,
		(VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "(?, ?, ?, %d)", i)
	}
	b.WriteString(") AS v")
	return b.String()
}

// sqlInsertJob inserts one pending job: batch ID, host, position, action,
// priority, datacenter, sku, created_at, updated_at, queue_at. It serves
// batches whose jobs differ in more than host, datacenter and sku.
const sqlInsertJob = `INSERT INTO jobs (batch_id, host, position, action, priority, datacenter, sku,
		state, attempts, cancel_requested, error, created_at, started_at, finished_at, updated_at, queue_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, '', ?, NULL, NULL, ?, ?)`

// Job progress and cancellation.
const (
	sqlJobForUpdate = `SELECT j.state, j.action, b.pending, b.running, b.succeeded, b.failed,
		b.cancelled, j.lease_token, j.cancel_requested
	FROM jobs AS j JOIN batches AS b ON b.id = j.batch_id
	WHERE j.batch_id = ?1 AND j.host = ?2`

	// sqlUpdateJob moves job (?1, ?2) to state ?3 at ?8: ?4 is added to
	// attempts, ?5 sets started_at if unset, a non-NULL ?6 sets
	// finished_at and a non-empty ?7 the error. The job's lease becomes
	// ?9 (token; NULL for none), ?10 (worker), ?11 (expiry), and its
	// retry time ?12 (see queue.go).
	sqlUpdateJob = `UPDATE jobs SET state = ?3, attempts = attempts + ?4,
		started_at = COALESCE(started_at, ?5), finished_at = COALESCE(?6, finished_at),
		error = CASE WHEN ?7 = '' THEN error ELSE ?7 END, updated_at = ?8,
		lease_token = ?9, worker = ?10, lease_expires = ?11, retry_at = ?12
	WHERE batch_id = ?1 AND host = ?2
	RETURNING ` + jobColumns

	// sqlHostAfterJob moves host ?4, held by batch ?5, to state ?1 held by
	// ?2 ('' to release it) at ?3.
	sqlHostAfterJob = `UPDATE hosts SET state = ?1, batch_id = ?2, reason = '', updated_at = ?3
	WHERE name = ?4 AND batch_id = ?5`

	// sqlUpdateBatchCounts sets batch ?1's state and counts and
	// updated_at; cancelled_at (?8) and finished_at (?10) are set only
	// when unset, and NULL leaves them as they are.
	sqlUpdateBatchCounts = `UPDATE batches SET state = ?2, pending = ?3, running = ?4,
		succeeded = ?5, failed = ?6, cancelled = ?7, cancelled_at = COALESCE(cancelled_at, ?8),
		updated_at = ?9, finished_at = COALESCE(finished_at, ?10)
	WHERE id = ?1`

	sqlBatchByID = `SELECT ` + batchColumns + ` FROM batches WHERE id = ?`

	// sqlReleasePendingHosts frees the hosts of batch ?1's pending jobs
	// at ?2; run before sqlCancelPendingJobs.
	sqlReleasePendingHosts = `UPDATE hosts SET state = 'ready', batch_id = '', updated_at = ?2
	WHERE name IN (SELECT host FROM jobs WHERE batch_id = ?1 AND state = 'pending')
		AND batch_id = ?1`

	sqlCancelPendingJobs = `UPDATE jobs SET state = 'cancelled', finished_at = ?2, updated_at = ?2
	WHERE batch_id = ?1 AND state = 'pending'`

	sqlRequestCancel = `UPDATE jobs SET cancel_requested = 1, updated_at = ?2
	WHERE batch_id = ?1 AND state = 'running' AND cancel_requested = 0`
)

// Hosts.
const (
	sqlHostByName = `SELECT state, reason, batch_id, updated_at FROM hosts WHERE name = ?`

	sqlSetHost = `INSERT INTO hosts (name, state, reason, batch_id, updated_at)
	VALUES (?1, ?2, ?3, '', ?4)
	ON CONFLICT (name) DO UPDATE SET state = excluded.state, reason = excluded.reason,
		batch_id = '', updated_at = excluded.updated_at`
)

// Reads that are not listings.
const (
	sqlJobsOfBatch = `SELECT ` + jobColumns + ` FROM jobs WHERE batch_id = ? ORDER BY position`

	// sqlActiveCounts reaches the unfinished jobs through the active
	// batches (batches_state), so the jobs need no index on state, which
	// every admission and every job update would have to maintain.
	sqlActiveCounts = `SELECT j.datacenter, j.action,
		SUM(j.state = 'pending'), SUM(j.state = 'running')
	FROM batches AS b JOIN jobs AS j ON j.batch_id = b.id
	WHERE b.state IN ('pending', 'running') AND j.state IN ('pending', 'running')
	GROUP BY j.datacenter, j.action ORDER BY j.datacenter, j.action`
)

// Leases. A lease is free when expires is NULL (released) or not after
// now.
const (
	// sqlAcquire takes lease ?1 for holder ?2 until ?3 when it is free at
	// ?4, and returns the new token; no row means it is held.
	sqlAcquire = `INSERT INTO leases (name, holder, token, expires) VALUES (?1, ?2, 1, ?3)
	ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
		expires = excluded.expires
	WHERE leases.expires IS NULL OR leases.expires <= ?4
	RETURNING token`

	// sqlRenew extends lease ?1 of holder ?2 and token ?3 to ?4 if it is
	// still held at ?5.
	sqlRenew = `UPDATE leases SET expires = ?4
	WHERE name = ?1 AND holder = ?2 AND token = ?3 AND expires > ?5`

	// sqlRelease frees lease ?1 of holder ?2 and token ?3 if it is still
	// held at ?4. The row stays, keeping the token.
	sqlReleaseLease = `UPDATE leases SET holder = '', expires = NULL
	WHERE name = ?1 AND holder = ?2 AND token = ?3 AND expires > ?4`
)

// writeStmts are the statements prepared on the writer connection.
type writeStmts struct {
	begin, commit, rollback, savepoint, release, rollbackTo *sql.Stmt

	claimHosts, refusedHosts, insertBatch, insertJob *sql.Stmt

	jobForUpdate, updateJob, hostAfterJob, updateBatchCounts         *sql.Stmt
	batchByID, releasePendingHosts, cancelPendingJobs, requestCancel *sql.Stmt

	hostByName, setHost *sql.Stmt

	acquire, renew, releaseLease *sql.Stmt
}

// readStmts are the statements prepared on the read pool.
type readStmts struct {
	batchByID, jobsOfBatch, hostByName, activeCounts *sql.Stmt
}

// preparer is a *sql.Conn or *sql.DB.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// stmtList prepares statements and remembers them for closing.
type stmtList struct {
	p    preparer
	all  []*sql.Stmt
	err  error
	what string
}

func (l *stmtList) prepare(ctx context.Context, dst **sql.Stmt, query string) {
	if l.err != nil {
		return
	}
	s, err := l.p.PrepareContext(ctx, query)
	if err != nil {
		l.err = fmt.Errorf("prepare %s statement %.40q: %w", l.what, query, err)
		return
	}
	*dst = s
	l.all = append(l.all, s)
}

func (l *stmtList) close() error {
	var errs []error
	for _, s := range l.all {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

func prepareWrite(ctx context.Context, c *sql.Conn) (*writeStmts, *stmtList, error) {
	w := &writeStmts{}
	l := &stmtList{p: c, what: "write"}
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&w.begin, sqlBegin}, {&w.commit, sqlCommit}, {&w.rollback, sqlRollback},
		{&w.savepoint, sqlSavepoint}, {&w.release, sqlRelease}, {&w.rollbackTo, sqlRollbackTo},
		{&w.claimHosts, sqlClaimHosts}, {&w.refusedHosts, sqlRefusedHosts},
		{&w.insertBatch, sqlInsertBatch}, {&w.insertJob, sqlInsertJob},
		{&w.jobForUpdate, sqlJobForUpdate}, {&w.updateJob, sqlUpdateJob},
		{&w.hostAfterJob, sqlHostAfterJob}, {&w.updateBatchCounts, sqlUpdateBatchCounts},
		{&w.batchByID, sqlBatchByID}, {&w.releasePendingHosts, sqlReleasePendingHosts},
		{&w.cancelPendingJobs, sqlCancelPendingJobs}, {&w.requestCancel, sqlRequestCancel},
		{&w.hostByName, sqlHostByName}, {&w.setHost, sqlSetHost},
		{&w.acquire, sqlAcquire}, {&w.renew, sqlRenew}, {&w.releaseLease, sqlReleaseLease},
	} {
		l.prepare(ctx, p.dst, p.query)
	}
	if l.err != nil {
		_ = l.close()
		return nil, nil, l.err
	}
	return w, l, nil
}

func prepareRead(ctx context.Context, db *sql.DB) (*readStmts, *stmtList, error) {
	r := &readStmts{}
	l := &stmtList{p: db, what: "read"}
	l.prepare(ctx, &r.batchByID, sqlBatchByID)
	l.prepare(ctx, &r.jobsOfBatch, sqlJobsOfBatch)
	l.prepare(ctx, &r.hostByName, sqlHostByName)
	l.prepare(ctx, &r.activeCounts, sqlActiveCounts)
	if l.err != nil {
		_ = l.close()
		return nil, nil, l.err
	}
	return r, l, nil
}
