// Package memstore is an in-memory fleetkit store: a full implementation of
// lifecycle.Store, snapshot.Store and store.Locker. It is the fake to use
// in tests of code built on fleetkit, and it passes the same conformance
// suites (lifecycle/lifecycletest, snapshot/snapshottest, store/storetest)
// as the SQLite and PostgreSQL backends; it is also a backend in its own
// right, for a single process that admits hundreds of thousands of batches
// a second.
//
// Nothing survives the process, and a Store is shared only by the
// goroutines of one process; use store/sqlitestore or store/pgstore for
// anything else. The URL memory:// opens a new, empty Store.
//
// # Design
//
// A Store holds millions of hosts and jobs in records without pointers,
// which the garbage collector does not scan, of a few dozen bytes each:
//
//   - Each host has a dense index, a record in fixed-size chunks, and its
//     name copied into a text arena. A hash index (extendible hashing over
//     8 KiB pages, which split one at a time as the store grows) finds a
//     host by name; another finds a batch by ID.
//   - A batch record holds the batch's fields and one small record per
//     job. A job's batch ID, action, priority and creation time are its
//     batch's, and its times, datacenter, SKU and error are kept only once
//     it has them. Every batch, job and host handed out is built afresh,
//     so callers may change what they get.
//   - A host's history is a chain through its jobs, newest first: the host
//     record names its latest job, and each job the same host's job in the
//     batch admitted before.
//   - Batches are kept in order of admission, and their seqs in order of
//     ID for listings and cursors; IDs are made in order, so a new batch
//     almost always goes last.
//   - Times keep their nanoseconds; a time in UTC or time.Local comes back
//     identical, one in any other location as the same instant in UTC.
//
// CreateBatch does all it can before it takes the lock: it copies the
// batch, hashes its host names, loads the index slots where their lookups
// start so that those lookups hit the CPU cache, and allocates the memory
// the store is about to grow into. Under the lock it looks the hosts up,
// decides, and links the jobs in.
//
// A Store holds up to 2³¹-1 hosts and as many batches.
//
// # Errors
//
// Missing records wrap store.ErrNotFound, lost leases store.ErrNotHeld,
// held leases store.ErrLocked, and every call after Close store.ErrClosed.
// CreateBatch refuses with lifecycle.ErrInvalidBatch a batch ID already
// used, and a batch that is not new as the contract describes it (one
// pending job per host, in host order, carrying the batch's ID, action,
// priority and creation time). Host names longer than 65,535 bytes are
// refused.
//
// # Concurrency
//
// A Store is safe for concurrent use. Every method runs under one mutex,
// so each is atomic, as the contracts require. The critical section of
// CreateBatch takes a microsecond or two for ten hosts, less than parking
// and waking a goroutine costs, so when GOMAXPROCS is above one the mutex
// is retried for about that long before a caller blocks on it.
package memstore
