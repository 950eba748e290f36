package memblob_test

import (
	"testing"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
)

func newStore(testing.TB) snapshot.BlobStore { return memblob.New(nil) }

func TestBlobStoreConformance(t *testing.T) {
	t.Parallel()
	snapshottest.RunBlobStore(t, newStore)
}

func BenchmarkPut(b *testing.B) { snapshottest.BenchmarkPut(b, newStore) }
