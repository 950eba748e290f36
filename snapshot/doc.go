// Package snapshot is the home of fleetkit's OS snapshots: point-in-time
// copies of package repositories that hosts are provisioned from. It is
// being built; today it holds the content-addressed storage that snapshots
// are made of, the [BlobStore] contract, and the [Digest] that names a blob.
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
// # Errors
//
// Backends wrap [ErrInvalidDigest], [ErrDigestMismatch], [ErrSizeMismatch]
// and [ErrBlobNotFound] so that errors.Is works across every backend; a
// cancelled context yields an error wrapping ctx.Err(). Errors name the
// operation and the digest.
//
// # Concurrency
//
// Every BlobStore is safe for concurrent use by many goroutines; fsblob is
// also safe for several processes sharing one directory. A Digest is a
// plain value.
package snapshot
