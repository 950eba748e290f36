package memstore_test

import (
	"testing"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func TestSnapshotStoreConformance(t *testing.T) {
	t.Parallel()
	snapshottest.RunStore(t, func(testing.TB) snapshot.Store { return memstore.New(nil) })
}

func BenchmarkSealSnapshot(b *testing.B) {
	snapshottest.BenchmarkSealSnapshot(b, func(testing.TB) snapshot.Store { return memstore.New(nil) })
}

func BenchmarkPlan(b *testing.B) {
	snapshottest.BenchmarkPlan(b, func(testing.TB) snapshot.Store { return memstore.New(nil) })
}
