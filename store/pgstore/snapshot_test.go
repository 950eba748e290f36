package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
)

func TestSnapshotStoreConformance(t *testing.T) {
	snapshottest.RunStore(t, func(t testing.TB) snapshot.Store { return newStore(t, nil) })
}

func BenchmarkSealSnapshot(b *testing.B) {
	snapshottest.BenchmarkSealSnapshot(b, func(t testing.TB) snapshot.Store { return newStore(t, nil) })
}

func BenchmarkPlan(b *testing.B) {
	snapshottest.BenchmarkPlan(b, func(t testing.TB) snapshot.Store { return newStore(t, nil) })
}

// TestSealedManifestTrigger: the schema itself refuses to change a sealed
// manifest or its seal, whoever writes the database.
func TestSealedManifestTrigger(t *testing.T) {
	url := testenv.Postgres(t)
	st := openStore(t, url, nil)
	ctx := context.Background()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	_, err := st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: "s1", OSRelease: "rhel-9", By: "test", At: at})
	require.NoError(t, err)
	m := snapshottest.TestManifest("s1", "rhel-9", "", at, snapshot.BlobInfo{Digest: snapshot.DigestOf([]byte("s1")), Size: 7})
	sealed, err := snapshottest.TestKeyRing().SealManifest(m)
	require.NoError(t, err)
	c, err := m.Canonical()
	require.NoError(t, err)
	want, err := st.SealSnapshot(ctx, snapshot.SealParams{ID: "s1", Manifest: c, Seal: sealed.Seal, By: "test", At: at})
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, stmt := range []string{
		`UPDATE snapshots SET manifest = '\x00' WHERE id = 's1'`,
		`UPDATE snapshots SET manifest = NULL WHERE id = 's1'`,
		`UPDATE snapshots SET seal_key_id = 'other' WHERE id = 's1'`,
		`UPDATE snapshots SET seal_mac = '\x00' WHERE id = 's1'`,
	} {
		_, err := conn.Exec(ctx, stmt)
		require.ErrorContains(t, err, "immutable", stmt)
	}
	_, err = conn.Exec(ctx, `UPDATE snapshots SET pinned = true WHERE id = 's1'`)
	require.NoError(t, err, "other columns may change")
	got, err := st.Snapshot(ctx, "s1")
	require.NoError(t, err)
	require.Equal(t, want.Manifest, got.Manifest)
	require.Equal(t, want.Seal, got.Seal)
}
