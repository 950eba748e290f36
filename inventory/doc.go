// Package inventory is the fleet state cache: every host publishes files
// and command outputs (sysctl -a, package lists, mount tables, …) with
// their metadata to the cache servers of its replica group, and anyone
// can ask a question of the whole fleet and get the answer in seconds,
// without logging in to a machine. It is modelled on LinkedIn's
// sysops-api, whose caches it can also read.
//
// # Publishing
//
// [Collect] reads a host's objects: files from a directory of symlinks
// and command outputs from a JSON file of name → output, each with its
// MD5 digest, file metadata, line/word/character counts and collection
// time. A [Publisher] writes them to every server of the host's [Group]
// in parallel, each write bounded by a timeout; an object whose digest is
// unchanged only has its expiry renewed, a changed one is replaced
// atomically, objects the host no longer has are removed, and everything
// expires after a TTL (6 h by default) so that dead hosts age out. A
// failing server is reported and skipped; the publish succeeds when
// MinReplicas servers took it. Oversized objects are replaced by a marker
// that keeps their metadata.
//
// # Finding servers
//
// A [Directory] resolves a [Scope] (local, site, global) to replica
// groups: [Topology] from a JSON or YAML file, [DNSDirectory] from DNS TXT
// records. A [Pool] opens one [Shard] per server and, for each group,
// picks a server at random that answers a health check within a short
// deadline, trying the others when it does not.
//
// # Extracting
//
// An [Extractor] runs a [Query] (object-name and host globs, fields to
// fetch, a substring or regular-expression line filter) across all
// chosen servers in parallel and streams the results as they arrive
// through an iterator ([Extraction.All]); decoding and filtering run on
// all cores. A server that fails mid-extract is replaced by another of
// its group and the scan resumes after the last key received, so the
// result stays complete; the failover is reported with the results
// ([Extraction.Problems]), as are undecodable records, which never end
// the extraction. [CountLines] aggregates identical lines across hosts
// (uniq -c, most common first) and [Compare] says whether every host has
// the same value and which differ.
//
// # Storage format
//
// Records are versioned ([FormatVersion]): a small binary header (MD5,
// times, counts, file metadata) followed by the contents, zstd-compressed
// against a dictionary shared by the records of the object name ([Dict]:
// the first host's output, since fleet-wide outputs are mostly the same
// lines; a 52 KB sysctl -a is stored in about 100 bytes and decompresses
// several times faster). The metadata comes first so that a query for
// metadata reads only [HeaderFetchSize] bytes per record. Shards keep an index by object name,
// so a search never walks the key space: see inventory/redisshard for the
// Redis layout. [DecodeLegacy] and redisshard.NewLegacy read sysops-api's
// format (database 1, key host#path, a list of five bz2-compressed
// fields).
//
// # Errors
//
// Bad input wraps [ErrInvalid] and changes nothing; undecodable records
// wrap [ErrMalformed] (in a [*RecordError]); a group with no live server
// wraps [ErrNoServer] and names the group; a publish that reached too few
// servers wraps [ErrTooFewReplicas] and its report names the servers that
// missed it; read-only shards return [ErrUnsupported].
//
// # Concurrency
//
// Publisher, Extractor, Pool and every Shard are safe for concurrent use.
// An Extraction is iterated once, by one goroutine; its Progress and
// Problems may be read from others meanwhile.
package inventory
