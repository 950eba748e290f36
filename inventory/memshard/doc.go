// Package memshard is an in-memory [inventory.Shard]: the fake to use in
// tests, and a cache for a single process. It passes the same conformance
// suite (inventory/inventorytest) as inventory/redisshard, and can
// simulate a dead server ([Shard.SetUnavailable]).
//
// # Concurrency
//
// A Shard is safe for concurrent use.
package memshard
