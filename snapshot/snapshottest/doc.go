// Package snapshottest is the conformance suite for snapshot.BlobStore.
// Every backend's tests run it:
//
//	func TestBlobStoreConformance(t *testing.T) {
//		snapshottest.RunBlobStore(t, func(t testing.TB) snapshot.BlobStore {
//			return memblob.New(nil)
//		})
//	}
//
//	func BenchmarkPut(b *testing.B) {
//		snapshottest.BenchmarkPut(b, func(t testing.TB) snapshot.BlobStore {
//			return memblob.New(nil)
//		})
//	}
//
// The suite checks each clause of the BlobStore contract with errors.Is,
// including concurrent Puts (run it with -race).
package snapshottest
