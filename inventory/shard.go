package inventory

import (
	"context"
	"crypto/md5"
	"time"
)

// Shard is one cache server: it stores the records of the hosts that
// publish to it and streams them back. Implementations: inventory/memshard
// (in memory) and inventory/redisshard (Redis); inventory/inventorytest is
// the conformance suite both pass.
//
// Implementations are safe for concurrent use.
type Shard interface {
	// Ping checks that the server answers. The caller bounds it with ctx.
	Ping(ctx context.Context) error
	// Publish replaces the set of objects of w.Host with w.Objects: a
	// record whose MD5 equals the stored one only has its expiry renewed,
	// a changed one is replaced atomically (a reader sees the old record
	// or the new, never a mix), objects of the host missing from w are
	// removed. Every record expires w.TTL after the publish. It returns
	// an error wrapping ErrUnsupported for read-only shards.
	Publish(ctx context.Context, w *HostWrite) (*WriteResult, error)
	// Scan calls fn with batches of the records whose name matches
	// p.Names and host matches p.Hosts, in (name, host) order, starting
	// after p.After. Records that expired are never returned. fn may keep
	// the batch. Scan stops at the first error, from fn or the server,
	// and returns it.
	Scan(ctx context.Context, p *ScanParams, fn func([]RawRecord) error) error
	// String names the server in reports ("redis 127.0.0.1:6379").
	String() string
}

// BatchShard is implemented by shards that publish many hosts in one go,
// in fewer round trips than one Publish each (Publisher.PublishMany uses
// it).
type BatchShard interface {
	Shard
	// PublishBatch is Publish for each of ws, in order; results match ws.
	// An error may leave some hosts published and others not.
	PublishBatch(ctx context.Context, ws []*HostWrite) ([]*WriteResult, error)
}

// DictShard is implemented by shards that keep compression dictionaries
// (both of this module's). A Publisher asks one server of the group for
// an object name's current dictionary and compresses against it, so that
// the records of one name share it.
type DictShard interface {
	Shard
	// CurrentDict returns the current dictionary of object name, or nil
	// when there is none.
	CurrentDict(ctx context.Context, name string) (*Dict, error)
}

// UnorderedShard is implemented by shards that cannot stream in (name,
// host) order nor resume after a key (the legacy sysops-api reader, which
// walks Redis with SCAN). The extractor then resumes a failed scan from
// the start on another server and drops the keys it already returned.
type UnorderedShard interface {
	Shard
	// Unordered reports true.
	Unordered() bool
}

// HostWrite is everything one host publishes to one shard.
type HostWrite struct {
	// Host is the normalized hostname.
	Host string
	// Objects are the host's objects, encoded; names are unique.
	Objects []EncodedObject
	// TTL is how long the records live without a new publish.
	TTL time.Duration
}

// EncodedObject is one object ready to store.
type EncodedObject struct {
	Name string
	// MD5 is the digest of the contents; an unchanged digest renews the
	// stored record instead of rewriting it.
	MD5 [md5.Size]byte
	// Record is the object encoded with EncodeRecord or EncodeRecordDict.
	Record []byte
	// Dict is the dictionary Record was compressed with, or nil. The
	// shard keeps it as long as the records that use it, and makes it the
	// object name's current dictionary (DictShard) when it has none.
	Dict *Dict
}

// WriteResult says what a publish did on one shard.
type WriteResult struct {
	// Written counts records stored anew, Renewed records whose expiry
	// only was renewed, Removed records of objects the host no longer has.
	Written, Renewed, Removed int
	// Bytes is the size of the records sent.
	Bytes int64
}

// Fetch says how much of each record a scan returns.
type Fetch uint8

const (
	// FetchNone returns keys only.
	FetchNone Fetch = iota
	// FetchHeader returns at least the metadata of each record (a prefix
	// of HeaderFetchSize bytes, or all of it).
	FetchHeader
	// FetchAll returns whole records.
	FetchAll
)

// ScanParams selects the records of a scan.
type ScanParams struct {
	// Names and Hosts select records by object name and host; a nil
	// pattern matches everything.
	Names, Hosts *Pattern
	// Fetch says how much of each record to return.
	Fetch Fetch
	// After, when set, resumes a scan: only keys that sort after it
	// (Key.Less) are returned. Unordered shards ignore it.
	After Key
	// BatchSize bounds the records per batch; 0 means the shard's choice.
	BatchSize int
}

// RawRecord is one stored record as a shard returns it.
type RawRecord struct {
	Key  Key
	Kind Kind
	// Value is the record in this package's format (nil with FetchNone);
	// with FetchHeader it may be a prefix.
	Value []byte
	// Legacy, for records of a sysops-api cache, holds the five list
	// elements instead of Value (nil with FetchNone).
	Legacy [][]byte
	// Dict is the dictionary Value was compressed with (FetchAll only),
	// nil when it uses none or the server lacks it.
	Dict *Dict
}
