package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/lifecycletest"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
	"github.com/fleetkit/fleetkit/store/storetest"
)

// openTemp opens a Store on a fresh database file in t's temporary
// directory, closed when t ends.
func openTemp(t testing.TB, opts *sqlitestore.Options) *sqlitestore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "fleet.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close(ctx)) })
	return st
}

func newStore(t testing.TB) lifecycle.Store { return openTemp(t, nil) }

func TestLifecycleConformance(t *testing.T) {
	t.Parallel()
	lifecycletest.Run(t, newStore)
}

func TestLockerConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLocker(t, func(t testing.TB, now func() time.Time) store.Locker {
		return openTemp(t, &sqlitestore.Options{Now: now})
	})
}

func BenchmarkAdmission(b *testing.B) { lifecycletest.BenchmarkAdmission(b, newStore) }

func BenchmarkQueue(b *testing.B) { lifecycletest.BenchmarkQueueThroughput(b, newStore) }

// BenchmarkAdmissionNoGroupCommit is BenchmarkAdmission with a transaction
// per write (MaxGroup 1), to show what group commit buys.
func BenchmarkAdmissionNoGroupCommit(b *testing.B) {
	lifecycletest.BenchmarkAdmission(b, func(t testing.TB) lifecycle.Store {
		return openTemp(t, &sqlitestore.Options{MaxGroup: 1})
	})
}
