// Package snapshottest holds the conformance suites of package snapshot:
// RunBlobStore for snapshot.BlobStore and RunStore for snapshot.Store.
// Every backend's tests run the suite of what it implements:
//
//	func TestBlobStoreConformance(t *testing.T) {
//		snapshottest.RunBlobStore(t, func(t testing.TB) snapshot.BlobStore {
//			return memblob.New(nil)
//		})
//	}
//
//	func TestSnapshotStoreConformance(t *testing.T) {
//		snapshottest.RunStore(t, func(t testing.TB) snapshot.Store {
//			return memstore.New(nil)
//		})
//	}
//
//	func BenchmarkPut(b *testing.B) {
//		snapshottest.BenchmarkPut(b, func(t testing.TB) snapshot.BlobStore {
//			return memblob.New(nil)
//		})
//	}
//
// The suites check each clause of the contracts with errors.Is. RunStore
// covers every edge of the snapshot state machine, allowed and refused;
// the immutability of sealed manifests; listing and paging; the blobs
// live snapshots reference; concurrent changes of one snapshot (exactly
// one wins) and concurrent seals; retention (Plan and Purge) over the
// store, including a build registering while the blob sweep runs; and
// every method under a cancelled context and after Close. Run them with
// -race.
package snapshottest
