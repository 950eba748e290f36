package sqlitestore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
)

// TestQueueMigrationKeepsBatches: a batch admitted before the queue's
// migration (version 3) is queued at its creation time afterwards, and its
// job can be claimed.
func TestQueueMigrationKeepsBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	db, err := sql.Open("sqlite", sqlitestore.DSN(path, time.Second))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL)`)
	require.NoError(t, err)
	for v, glob := range []string{"0001_*.sql", "0002_*.sql"} {
		names, err := filepath.Glob(filepath.Join("migrations", glob))
		require.NoError(t, err)
		require.Len(t, names, 1)
		text, err := os.ReadFile(names[0])
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, string(text))
		require.NoError(t, err, names[0])
		_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, ?, 0)`, v+1, filepath.Base(names[0]))
		require.NoError(t, err)
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	id := lifecycle.NewID(created)
	us := created.UnixMicro()
	_, err = db.ExecContext(ctx, `INSERT INTO hosts (name, state, batch_id, updated_at) VALUES ('h1.example.com', 'claimed', ?, ?)`, id, us)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO batches (id, owner, action, hosts, priority, state, pending, created_at, updated_at)
		VALUES (?, 'old', 'reboot', '["h1.example.com"]', 50, 'pending', 1, ?, ?)`, id, us, us)
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO jobs (batch_id, host, position, action, priority, datacenter, state, created_at, updated_at)
		VALUES (?, 'h1.example.com', 0, 'reboot', 50, 'dc1', 'pending', ?, ?)`, id, us, us)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	s := openAt(t, path)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, v, 3)
	b, err := s.Batch(ctx, id)
	require.NoError(t, err)
	require.True(t, b.QueueAt.Equal(created), "QueueAt %s", b.QueueAt)
	raw, err := sql.Open("sqlite", sqlitestore.DSN(path, time.Second))
	require.NoError(t, err)
	defer raw.Close()
	var batchAt, jobAt int64
	require.NoError(t, raw.QueryRowContext(ctx, `SELECT b.queue_at, j.queue_at FROM batches AS b JOIN jobs AS j ON j.batch_id = b.id`).
		Scan(&batchAt, &jobAt))
	require.Equal(t, []int64{us, us}, []int64{batchAt, jobAt}, "the migration queues old rows at their creation time")
	now := created.Add(time.Hour)
	cs, err := s.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: "w", Max: 5, At: now, LeaseUntil: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, "h1.example.com", cs[0].Job.Host)
	require.Equal(t, "dc1", cs[0].Job.Datacenter)
	require.Positive(t, cs[0].Lease.Token)
}

// openAt opens a Store on the database file at path, closed when t ends.
func openAt(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close(ctx)) })
	return st
}
