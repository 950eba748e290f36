package memstore_test

import (
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/lifecycletest"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/memstore"
	"github.com/fleetkit/fleetkit/store/storetest"
)

func newStore(testing.TB) lifecycle.Store { return memstore.New(nil) }

func TestLifecycleConformance(t *testing.T) {
	t.Parallel()
	lifecycletest.Run(t, newStore)
}

func TestLockerConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLocker(t, func(_ testing.TB, now func() time.Time) store.Locker {
		return memstore.New(&memstore.Options{Now: now})
	})
}

func BenchmarkAdmission(b *testing.B) { lifecycletest.BenchmarkAdmission(b, newStore) }
