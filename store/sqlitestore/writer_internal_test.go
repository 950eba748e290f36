package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestGroupLostFallsBackToOneByOne: when a request makes SQLite abandon
// the group's transaction, every request of the group runs again alone,
// and only the culprit fails.
func TestGroupLostFallsBackToOneByOne(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	s, err := Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close(ctx)

	// Hold the write lock from elsewhere so that the requests queue up
	// and run as one group.
	other, err := sql.Open("sqlite", DSN(path, time.Second))
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)

	insert := func(name string) op {
		return func(w *writer) error {
			_, err := w.conn.ExecContext(w.ctx, `INSERT INTO leases (name, holder, token) VALUES (?, 'x', 1)`, name)
			return err
		}
	}
	boom := errors.New("boom")
	ops := []op{
		insert("one"),
		func(w *writer) error {
			if _, err := w.conn.ExecContext(w.ctx, "ROLLBACK"); err != nil {
				return err
			}
			return boom
		},
		insert("three"),
	}
	errs := make([]error, len(ops))
	var wg sync.WaitGroup
	for i, fn := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.write(ctx, fn)
		}()
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	wg.Wait()

	require.NoError(t, errs[0])
	require.ErrorIs(t, errs[1], boom)
	require.NoError(t, errs[2])
	var names []string
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM leases ORDER BY name`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.Equal(t, []string{"one", "three"}, names)

	// The writer is healthy afterwards.
	require.NoError(t, s.write(ctx, insert("four")))
}
