// Package store holds what every fleetkit storage backend shares: the
// [Locker] lease contract, the sentinel errors callers branch on, and
// [Open], which chooses a registered backend by URL scheme.
//
// The domain packages declare the storage they need in their own words
// (lifecycle.Store, snapshot.Store). Backends live in subpackages and
// implement those interfaces together with [Locker]:
//
//   - store/memstore: in memory; the fake to use in tests (memory://).
//   - store/sqlitestore: SQLite through modernc.org/sqlite, the embedded
//     default for one node (sqlite:///path/fleet.db).
//   - store/pgstore: PostgreSQL through pgx, for several active nodes on one
//     database (postgres://…).
//
// A backend registers its schemes in its package init, so a program imports
// the backends it wants for their side effect, as with database/sql:
//
//	import _ "github.com/fleetkit/fleetkit/store/sqlitestore"
//
// # Errors
//
// Backends wrap [ErrNotFound], [ErrLocked], [ErrNotHeld] and [ErrClosed] so
// that errors.Is works across every backend; the conformance suite in
// store/storetest checks that they do.
//
// # Concurrency
//
// Every Backend and Locker is safe for concurrent use, by many goroutines
// and, for the shared backends, by many processes.
package store
