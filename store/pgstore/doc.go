// Package pgstore is the PostgreSQL backend of fleetkit, through pgx v5: a
// lifecycle.Store, snapshot.Store and store.Locker that several active
// nodes share through one database.
//
// Build a Store over a pool of your own with [New], or let [Open] make one
// from a URL; importing the package also registers the postgres:// and
// postgresql:// schemes with store.Open:
//
//	import _ "github.com/fleetkit/fleetkit/store/pgstore"
//
//	b, err := store.Open(ctx, "postgres://fleet@db.example.com/fleet")
//
// The store keeps its tables in the connection's current schema (set
// search_path in the URL or the pool's configuration to choose another).
//
// # Schema
//
// The schema is embedded (migrations/*.sql) and brought up to date when a
// Store is made: each pending migration runs in a transaction of its own,
// under a transaction-scoped advisory lock, and is recorded in the
// schema_migrations table. Nodes that start at once against a fresh
// database therefore apply each migration once, one after the other. A
// database whose schema is newer than this package knows is refused.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines, and any number of
// Stores, in any number of processes, may share one database: every
// decision is taken inside a PostgreSQL transaction on row locks, never on
// state cached in the process.
//
// Admission takes no global lock. CreateBatch is one call of a PL/pgSQL
// function the schema defines, so it costs one round trip and one commit.
// The function claims all of a batch's hosts with one INSERT … ON CONFLICT
// DO UPDATE … WHERE the host is admissible, whose row locks serialise
// competing claims on the same host only; hosts are claimed in name order,
// so competing admissions cannot deadlock. When it claims fewer hosts than
// asked, it reads the hosts that refused the batch (still locked, so
// exactly those), undoes the claims, and returns them; the refusal is built
// from them in Go. Which host states are admissible, and what a claim
// writes, are passed in from the lifecycle package.
//
// The other writes (UpdateJob, CancelBatch, SetHostState) read the rows
// they change with FOR NO KEY UPDATE, decide in Go with the lifecycle
// package's state machine (lifecycle.CheckJobTransition,
// lifecycle.CheckHostTransition, lifecycle.HostAfterJob,
// lifecycle.JobCounts), and write, in one transaction of two round trips.
// Every transaction locks a batch before its jobs and jobs before hosts,
// hosts in name order, so none deadlocks another.
//
// Leases ([Store.Acquire], [Store.Renew], [Store.Release]) are one atomic
// statement each (a refused Acquire then reads the expiry for its
// message). Expiry is judged by Options.Now, passed to the database,
// not by the database server's clock: the nodes sharing a database must
// keep their clocks synchronised (NTP) to well within the lease TTLs.
//
// Times are kept as timestamptz, to the microsecond, and returned in UTC.
//
// # Job queue
//
// The Store is a lifecycle.QueueStore. Pending jobs wait in the jobs
// table, read in queue order (the batch's QueueAt, copied to its jobs,
// then batch ID, then host position) from a partial index of the pending
// jobs; a second partial index holds the running jobs by lease expiry,
// for RescueJobs. A claim is one transaction: it takes a
// transaction-scoped advisory lock, so that claims on every node are
// serialised and the caps (lifecycle.Limits) hold across nodes; counts
// the running jobs by datacenter and action (only when a cap is set);
// locks the batches of the first candidates, in ID order, then the
// candidates themselves FOR NO KEY UPDATE SKIP LOCKED, leaving out the
// datacenters and actions whose caps are reached; admits them in order
// with lifecycle.CapTracker; and moves each admitted job to running as
// UpdateJob would, under a lease whose fencing token comes from a
// sequence, so tokens grow across the database. Heartbeat, RecordStep
// and FinishJobs are fenced on (batch, host, token, running); a job that
// leaves running, by any path, loses its lease, so a worker that lost it
// records nothing more. RescueJobs returns jobs whose leases expired to
// the queue, keeping their place, or ends them cancelled.
//
// Claims and finishes are grouped (group commit): the ClaimJobs calls
// that wait while a claim transaction runs are served together by the
// next one, first come first served, and likewise the FinishJobs calls,
// so that under load one transaction, one commit and one lock of each
// batch row serve many workers. A claim costs two round trips (three with
// caps); a finish two, for all its results.
//
// # Errors
//
// A missing batch or job is reported with an error wrapping
// store.ErrNotFound; calls after Close wrap store.ErrClosed. Admission
// refusals are a *lifecycle.OverlapError (lifecycle.ErrOverlap) and a
// *lifecycle.HostsError (lifecycle.ErrHostUnavailable), joined when both
// apply; refused transitions wrap lifecycle.ErrInvalidTransition and
// change nothing. Acquire wraps store.ErrLocked, and Renew and Release
// store.ErrNotHeld. Other errors are the driver's, wrapped with the
// operation and the object. No error quotes a connection password.
package pgstore
