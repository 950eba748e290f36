package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/lifecycletest"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/pgstore"
	"github.com/fleetkit/fleetkit/store/storetest"
)

// newStore opens a Store on a fresh database of the test server, closed
// when the test ends.
func newStore(t testing.TB, opts *pgstore.Options) *pgstore.Store {
	t.Helper()
	return openStore(t, testenv.Postgres(t), opts)
}

// openStore opens a Store (a node) on the database at url, closed when the
// test ends.
func openStore(t testing.TB, url string, opts *pgstore.Options) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, url, opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, s.Close(ctx))
	})
	return s
}

func TestLifecycleConformance(t *testing.T) {
	lifecycletest.Run(t, func(t testing.TB) lifecycle.Store { return newStore(t, nil) })
}

func TestLockerConformance(t *testing.T) {
	storetest.RunLocker(t, func(t testing.TB, now func() time.Time) store.Locker {
		return newStore(t, &pgstore.Options{Now: now})
	})
}

func BenchmarkAdmission(b *testing.B) {
	lifecycletest.BenchmarkAdmission(b, func(t testing.TB) lifecycle.Store { return newStore(t, nil) })
}

func BenchmarkQueue(b *testing.B) {
	lifecycletest.BenchmarkQueueThroughput(b, func(t testing.TB) lifecycle.Store { return newStore(t, nil) })
}
