package pgstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// TestQueueMigrationKeepsBatches: a batch admitted before the queue's
// migration (version 3) is queued at its creation time afterwards, and its
// job can be claimed.
func TestQueueMigrationKeepsBatches(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `CREATE TABLE schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	for v, glob := range []string{"0001_*.sql", "0002_*.sql"} {
		names, err := filepath.Glob(filepath.Join("migrations", glob))
		require.NoError(t, err)
		require.Len(t, names, 1)
		sql, err := os.ReadFile(names[0])
		require.NoError(t, err)
		_, err = c.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol)
		require.NoError(t, err, names[0])
		_, err = c.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v+1, filepath.Base(names[0]))
		require.NoError(t, err)
	}
	created := time.Date(2026, 3, 4, 5, 6, 7, 8000, time.UTC)
	id := lifecycle.NewID(created)
	_, err = c.Exec(ctx, `SELECT * FROM admit_batch($1, 'old', 'reboot', ARRAY['h1.example.com'], ARRAY['h1.example.com'],
		ARRAY['dc1'], ARRAY[''], '', NULL, 50, $2, ARRAY['ready', 'failed'], 'claimed', 'pending', 'pending')`, id, created)
	require.NoError(t, err)

	s := openStore(t, url, nil)
	require.Equal(t, []int{1, 2, 3}, schemaVersions(t, url)[:3])
	b, err := s.Batch(ctx, id)
	require.NoError(t, err)
	require.True(t, b.QueueAt.Equal(created), "QueueAt %s", b.QueueAt)
	var batchAt, jobAt time.Time
	require.NoError(t, c.QueryRow(ctx, `SELECT b.queue_at, j.queue_at FROM batches AS b JOIN jobs AS j ON j.batch_id = b.id`).
		Scan(&batchAt, &jobAt))
	require.True(t, batchAt.Equal(created) && jobAt.Equal(created), "the migration queues old rows at their creation time: %s, %s", batchAt, jobAt)
	now := created.Add(time.Hour)
	cs, err := s.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: "w", Max: 5, At: now, LeaseUntil: now.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, "h1.example.com", cs[0].Job.Host)
	require.Equal(t, "dc1", cs[0].Job.Datacenter)
	require.Positive(t, cs[0].Lease.Token)
}
