package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
)

func TestSnapshotStoreConformance(t *testing.T) {
	t.Parallel()
	snapshottest.RunStore(t, func(t testing.TB) snapshot.Store { return openTemp(t, nil) })
}

// sealOne records snapshot id and seals it with one made-up blob.
func sealOne(t testing.TB, st snapshot.Store, id string) *snapshot.Snapshot {
	t.Helper()
	ctx := context.Background()
	at := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	_, err := st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "test", At: at})
	require.NoError(t, err)
	m := snapshottest.TestManifest(id, "rhel-9", "", at, snapshot.BlobInfo{Digest: snapshot.DigestOf([]byte(id)), Size: 7})
	sealed, err := snapshottest.TestKeyRing().SealManifest(m)
	require.NoError(t, err)
	c, err := m.Canonical()
	require.NoError(t, err)
	s, err := st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: sealed.Seal, By: "test", At: at})
	require.NoError(t, err)
	return s
}

func BenchmarkSealSnapshot(b *testing.B) {
	snapshottest.BenchmarkSealSnapshot(b, func(t testing.TB) snapshot.Store { return openTemp(t, nil) })
}

func BenchmarkPlan(b *testing.B) {
	snapshottest.BenchmarkPlan(b, func(t testing.TB) snapshot.Store { return openTemp(t, nil) })
}

// TestSealedManifestTrigger: the schema itself refuses to change a sealed
// manifest or its seal, whoever writes the database; the snapshot survives
// a reopen intact.
func TestSealedManifestTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	want := sealOne(t, st, "s1")
	require.NoError(t, st.Close(ctx))

	db, err := sql.Open("sqlite", sqlitestore.DSN(path, time.Second))
	require.NoError(t, err)
	defer db.Close()
	for _, stmt := range []string{
		`UPDATE snapshots SET manifest = x'00' WHERE id = 's1'`,
		`UPDATE snapshots SET manifest = NULL WHERE id = 's1'`,
		`UPDATE snapshots SET seal_key_id = 'other' WHERE id = 's1'`,
		`UPDATE snapshots SET seal_mac = x'00' WHERE id = 's1'`,
	} {
		_, err := db.ExecContext(ctx, stmt)
		require.ErrorContains(t, err, "immutable", stmt)
	}
	_, err = db.ExecContext(ctx, `UPDATE snapshots SET pinned = 1 WHERE id = 's1'`)
	require.NoError(t, err, "other columns may change")

	st, err = sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close(ctx)
	got, err := st.Snapshot(ctx, "s1")
	require.NoError(t, err)
	require.Equal(t, want.Manifest, got.Manifest)
	require.Equal(t, want.Seal, got.Seal)
}

// migrationCount returns how many migrations the package embeds: the
// schema version of an up-to-date database.
func migrationCount(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("migrations")
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	return n
}
