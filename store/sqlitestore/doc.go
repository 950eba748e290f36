// Package sqlitestore is the embedded, single-node fleetkit backend: it
// keeps lifecycle state (lifecycle.Store), the snapshot catalogue
// (snapshot.Store) and leases (store.Locker) in one
// SQLite database file through modernc.org/sqlite, a pure Go driver, so a
// fleetkit program needs no database server and no cgo.
//
// Open a database file with [Open], or hand [New] a *sql.DB built with
// [DSN]. Importing the package also registers the "sqlite" scheme with
// store.Open:
//
//	import _ "github.com/fleetkit/fleetkit/store/sqlitestore"
//
//	b, err := store.Open(ctx, "sqlite:///var/lib/fleetkit/fleet.db")
//
// A URL names a file: sqlite:///absolute/path.db, or sqlite:relative/path.db
// for a path relative to the working directory. A URL with a host part
// (sqlite://name/...), query parameters, user information or a fragment is
// refused rather than half understood; sqlite://relative.db would otherwise
// read as a host name. In-memory databases are not supported: every
// connection of the pool would see its own.
//
// The schema is created and upgraded when the store opens, by the
// migrations embedded in the package (migrations/NNNN_name.sql), each
// applied in a transaction of its own and recorded in schema_migrations. A
// database whose schema is newer than the program is refused.
//
// Every connection uses the write-ahead log (readers never block the
// writer nor each other), waits busy_timeout for locks held by other
// processes, checks foreign keys, and syncs at synchronous=NORMAL: a commit
// is atomic and consistent at once and durable at the next checkpoint, so
// a power loss may lose the last commits but never corrupts the database.
// Times are stored as integer microseconds since the epoch and read back
// in UTC, exactly as the lifecycle package hands them over.
//
// # Concurrency
//
// A [Store] is safe for concurrent use by many goroutines, and several
// processes may open the same file: each write transaction starts with
// BEGIN IMMEDIATE, which takes SQLite's single write lock (waiting
// busy_timeout for it), so that an admission reads and claims its hosts
// with no other writer in between, in this process or another. Two
// CreateBatch calls therefore never both claim a host.
//
// Within a process, reads run in parallel on a pool of connections, each
// in its own snapshot, while all writes go to one goroutine that owns the
// writer connection and commits them in groups (group commit): it takes
// the writes queued at that moment, and those that arrive while they run,
// up to [Options].MaxGroup, runs each in its own SAVEPOINT of one
// transaction and commits them together. A write that fails, such as a
// batch rejected for overlap, rolls back to its savepoint and fails alone;
// the others commit. Each caller is answered after the COMMIT. Under load
// this spreads the fixed cost of a commit (the write lock, appending the
// pages to the WAL) over many writes; a lone write costs one plain
// transaction.
//
// A write whose context ends while it is queued is dropped and returns the
// context's error; once the writer has started it, it runs to completion
// (a handful of statements) and the caller waits for the outcome, so that
// a write is applied entirely or not at all.
//
// # Job queue
//
// The Store is a lifecycle.QueueStore. Pending jobs wait in the jobs
// table, read in queue order (the batch's QueueAt, copied to its jobs,
// then batch ID, then host position) from a partial index of the pending
// jobs; a second partial index holds the running jobs by lease expiry,
// datacenter and action, which serves both RescueJobs and the running
// counts that caps (lifecycle.Limits) are applied to. Every queue call
// that changes anything is a write, so it runs on the writer goroutine,
// in a group commit like any other write, and holds SQLite's write lock:
// claims by any process sharing the file are serialised, and the counts a
// claim reads cannot change before it commits. A claim reads the counts
// (only when a cap is set), reads the first candidates in queue order
// leaving out the datacenters and actions whose caps are reached, admits
// them with lifecycle.CapTracker, and moves each as UpdateJob would, under
// a lease whose fencing token comes from a counter in the database, so
// tokens grow across processes. Heartbeat, RecordStep and FinishJobs are
// fenced on (batch, host, token, running); a job that leaves running, by
// any path, loses its lease, so a worker that lost it records nothing
// more. RescueJobs returns jobs whose leases expired to the queue,
// keeping their place, or ends them cancelled.
//
// # Errors
//
// Errors say what was being done and to what, and wrap the sentinels
// callers branch on: store.ErrNotFound for a batch or job that does not
// exist, store.ErrClosed for calls after Close, store.ErrLocked and
// store.ErrNotHeld from the Locker methods, store.ErrInvalid for bad
// arguments and URLs. Admission errors are lifecycle's: an
// *lifecycle.OverlapError (lifecycle.ErrOverlap) and a
// *lifecycle.HostsError (lifecycle.ErrHostUnavailable), joined when both
// apply; refused state changes wrap lifecycle.ErrInvalidTransition. A
// malformed listing cursor, a batch whose ID exists already or whose jobs
// do not match its hosts wrap lifecycle.ErrInvalidBatch. Errors of SQLite
// itself (a full disk, a lock held past busy_timeout by another process)
// are returned wrapped, with their message.
package sqlitestore
