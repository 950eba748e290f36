// Package memstore is an in-memory fleetkit store: a full implementation of
// lifecycle.Store and store.Locker that keeps everything in maps behind one
// mutex. It is the fake to use in tests of code built on fleetkit, and it
// passes the same conformance suites (lifecycle/lifecycletest,
// store/storetest) as the SQLite and PostgreSQL backends.
//
// Nothing survives the process, and a Store is shared only by the
// goroutines of one process; use store/sqlitestore or store/pgstore for
// anything else. The URL memory:// opens a new, empty Store.
//
// # Errors
//
// Missing records wrap store.ErrNotFound, lost leases store.ErrNotHeld,
// held leases store.ErrLocked, and every call after Close store.ErrClosed.
//
// # Concurrency
//
// A Store is safe for concurrent use. Every method runs under one mutex, so
// each is atomic, as the contracts require.
package memstore
