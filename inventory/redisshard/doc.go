// Package redisshard stores the inventory cache in Redis, through
// github.com/redis/go-redis/v9. [New] takes a redis.UniversalClient, so a
// Redis Cluster can serve as one replica of a group; [Connector] opens a
// client per server address for an [inventory.Pool]. It passes the
// conformance suite of inventory/inventorytest.
//
// # Layout (format version 1)
//
//	fk1:n               zset: object name → latest expiry (Unix ms)
//	fk1:{name}:i        zset, all scores 0: hosts holding name, in lex order
//	fk1:{name}:e        zset: host → expiry of its record of name (Unix ms)
//	fk1:r:host#name     string: the record (inventory.EncodeRecord), with a TTL
//	fk1:h:host          hash: name → MD5 of the host's stored record
//	fk1:{name}:d:ID     string: a compression dictionary (inventory.Dict), TTL twice the records'
//	fk1:{name}:dc       string: the ID of the name's current dictionary (SET NX, same TTL)
//
// A scan reads the names index, then pages through each matching name's
// host index with ZRANGEBYLEX (a literal host prefix narrows the range)
// and fetches records with MGET (pipelined GETs on a cluster) or, for
// metadata only, GETRANGE of the header: it never walks the key space, so
// a server with millions of keys is never blocked. Publishing a host (or a
// batch of hosts, PublishBatch) takes two round trips: read the digests
// stored for it (and renew the dictionaries it uses), then one pipeline
// that stores the dictionaries the server lacks, writes changed records,
// renews unchanged ones, updates the indexes and removes vanished objects.
// One publish in 32 per name (Options.PruneEvery) also prunes expired
// index entries (a Lua script) and forgets names nobody published for a
// TTL; a record that expired between the round trips is written again.
// A scan reads each dictionary it meets once and hands it with the
// records. Index and dictionary keys of one name share a hash tag, so
// they live in one cluster slot.
//
// [NewLegacy] reads a sysops-api cache (database 1, keys host#path, lists
// of five bz2-compressed fields) with SCAN, never KEYS; it cannot publish.
//
// # Concurrency
//
// Shard and Legacy are safe for concurrent use.
package redisshard
