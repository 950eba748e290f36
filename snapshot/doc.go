// Package snapshot is the home of fleetkit's OS snapshots: point-in-time
// copies of package repositories that hosts are provisioned from. It is
// being built; today it holds the content-addressed storage that snapshots
// are made of, the [BlobStore] contract, the [Digest] that names a blob,
// the catalogue of snapshots and their retention.
//
// A snapshot's files go into a BlobStore keyed by their SHA-256 digest, so
// a package shared by many snapshots is stored once. Backends live in
// subpackages:
//
//   - snapshot/fsblob: a directory on a local file system.
//   - snapshot/memblob: in memory; the fake to use in tests.
//
// Every backend passes the conformance suite in snapshot/snapshottest.
// The subpackages snapshot/rpmver and snapshot/yumrepo read the repository
// metadata that snapshots will be built from.
//
// A [Manifest] lists what a snapshot contains: packages, boot files and
// metadata. [Manifest.Canonical] encodes it as one byte sequence per value,
// the only input [DecodeManifest] accepts, and a [KeyRing] seals that
// encoding with HMAC-SHA256 so a stored manifest can be checked
// ([KeyRing.Verify]) before hosts are provisioned from it. Errors wrap
// [ErrInvalidManifest], [ErrInvalidKey], [ErrKeyInUse], [ErrUnknownKey] or
// [ErrTampered] and never include key material; a KeyRing is immutable and
// safe for concurrent use, and its documentation describes key rotation.
//
// # The catalogue and retention
//
// A [Store] records every snapshot: its sealed manifest (canonical bytes
// and seal, immutable once sealed), its parent, whether it is pinned, its
// [State] and the history of who changed what and when. The state machine
// (building → sealed → validated | validation-failed → released →
// deprecated → purged, with the few other edges documented at [State]) is
// decided by [CheckStateChange] and its siblings inside each store's
// transaction, so every store accepts and refuses alike.
// store/memstore, store/sqlitestore and store/pgstore implement Store;
// snapshot/snapshottest.RunStore is its conformance suite.
//
// A [RetentionPolicy] keeps the newest released snapshots per OS release,
// expires deprecated ones after a TTL and never retires a pinned snapshot
// or one an active lifecycle batch names ([BatchesInUse]). [Plan] is the
// dry run; [Purge] applies it and then sweeps the BlobStore of blobs no
// live snapshot references, safely against builds running at the same
// time (see Purge for the rule builds follow), and reports the bytes
// reclaimed.
//
// # Errors
//
// Backends wrap [ErrInvalidDigest], [ErrDigestMismatch], [ErrSizeMismatch]
// and [ErrBlobNotFound] so that errors.Is works across every backend; a
// cancelled context yields an error wrapping ctx.Err(). Errors name the
// operation and the digest.
//
// Stores wrap [ErrInvalidSnapshot], [ErrSnapshotExists],
// [ErrInvalidTransition] and [ErrImmutable], and store.ErrNotFound and
// store.ErrClosed from package store; a refused request changes nothing.
// Plan and Purge report unusable parameters with [ErrInvalidPolicy].
//
// # Concurrency
//
// Every BlobStore is safe for concurrent use by many goroutines; fsblob is
// also safe for several processes sharing one directory. A Digest is a
// plain value. Every Store is safe for concurrent use, and two concurrent
// changes of one snapshot never both succeed from the same state. Purge
// may run on several nodes at once without harm; run it on one at a time
// under a store.Locker lease to avoid wasted work.
package snapshot
