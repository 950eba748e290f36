// Package redislock is a store.Locker on Redis, through go-redis v9: named
// leases with fencing tokens that any number of nodes share through one
// Redis server (or one Redis Cluster).
//
// Build a Locker over a client of your own:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis.example.com:6379"})
//	locker := redislock.New(rdb, nil)
//	lease, err := locker.Acquire(ctx, "rescue", 30*time.Second)
//
// # Keys
//
// Each name has two keys, both under Options.Prefix ("fleetkit:lock:" by
// default) and sharing a hash tag so that they live in one Cluster slot:
//
//   - the lock key, PREFIX{NAME}, a hash with the holder, the fencing
//     token and the expiry ("expires", Unix milliseconds), present while
//     the name is held (and until Redis expires it, below);
//   - the token counter, PREFIX{NAME}:token, which INCR advances on every
//     acquisition and which never expires, so tokens strictly increase
//     across acquisitions, releases and expiry.
//
// A name holding '{' or '}' uses a digest of the name as its hash tag
// instead (PREFIX{DIGEST}NAME), so that the tag is never cut short. Keep
// "{}" out of Prefix: it would make Redis Cluster hash each key whole and
// place a name's two keys in different slots.
//
// # Expiry
//
// Expiry is judged by Options.Now, not by Redis's clock: the caller's
// time is passed to each script, which compares it with the stored expiry.
// The nodes sharing a Redis must therefore keep their clocks synchronised
// (NTP) to well within the lease TTLs, as with store/pgstore.
//
// Redis's own key expiry is only a backstop that collects the lock keys of
// holders that died: each Acquire and Renew sets the lock key to expire,
// by Redis's clock, after the TTL plus Options.ExpiryMargin (one minute by
// default). The margin must exceed the clock skew between the nodes and
// the Redis server, or Redis could drop a lease its holder still holds. A
// lock key that Redis has not yet removed but whose expiry has passed is
// free: the next Acquire overwrites it.
//
// # Errors
//
// Acquire returns an error wrapping store.ErrLocked when another holder
// has an unexpired lease; Renew and Release return one wrapping
// store.ErrNotHeld when the lease lapsed, was released or was taken over,
// and then change nothing. Bad arguments (an empty name or one longer
// than 200 bytes, a TTL that is not positive) wrap store.ErrInvalid, as
// store.ValidateLeaseRequest reports them. A cancelled or expired context
// is returned as ctx.Err(), wrapped; other errors are go-redis's, wrapped
// with the operation and the lease. No error quotes a holder identifier
// or anything from the client's configuration.
//
// # Concurrency
//
// A Locker is safe for concurrent use by many goroutines, and any number
// of Lockers, in any number of processes, may share one Redis: Acquire,
// Renew and Release are each one Lua script (EVALSHA, falling back to
// EVAL), which Redis runs atomically, and a Locker keeps no state of its
// own between calls.
//
// The guarantees are those of the Redis primary that holds the keys.
// Replication is asynchronous: a failover can lose the last writes, and
// with them a held lease or the latest value of a token counter, so that
// two holders overlap or a token is handed out again. Where that matters,
// run Redis without failover, with appendonly persistence.
package redislock
