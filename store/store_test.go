package store_test

import (
	"context"
	neturl "net/url"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/store"
)

func TestOpenErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, u := range []string{
		"nosuch://admin:hunter2@db.example.com/fleet",
		"//admin:hunter2@db.example.com/fleet",
		"host=db.example.com user=admin password=hunter2 dbname=fleet",
		"postgres://admin:hunter2@db.example.com:bad port/x",
	} {
		_, err := store.Open(ctx, u)
		require.Error(t, err, u)
		require.NotContains(t, err.Error(), "hunter2", u)
	}
	_, err := store.Open(ctx, "nosuch://x")
	require.ErrorIs(t, err, store.ErrUnknownScheme)
	require.Contains(t, err.Error(), "memory", "the error lists the registered schemes")
}

func TestRegisterRejectsDuplicates(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() {
		store.Register("memory", func(context.Context, *neturl.URL) (store.Backend, error) { return nil, nil })
	})
	require.Panics(t, func() { store.Register("", nil) })
}

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	fsys := fstest.MapFS{
		"m/0002_jobs.sql": {Data: []byte("CREATE TABLE jobs();")},
		"m/0001_init.sql": {Data: []byte("CREATE TABLE batches();")},
		"m/README.md":     {Data: []byte("ignored")},
		"bad/x_init.sql":  {Data: []byte("")},
		"gap/0001_a.sql":  {Data: []byte("")},
		"gap/0003_c.sql":  {Data: []byte("")},
		"dup/0001_a.sql":  {Data: []byte("")},
		"dup/0001_b.sql":  {Data: []byte("")},
	}
	ms, err := store.LoadMigrations(fsys, "m")
	require.NoError(t, err)
	require.Len(t, ms, 2)
	require.Equal(t, store.Migration{Version: 1, Name: "0001_init.sql", SQL: "CREATE TABLE batches();"}, ms[0])
	require.Equal(t, 2, ms[1].Version)
	for _, dir := range []string{"bad", "gap", "dup", "missing"} {
		_, err := store.LoadMigrations(fsys, dir)
		require.Error(t, err, dir)
	}
	p, err := store.Pending(ms, 1)
	require.NoError(t, err)
	require.Equal(t, ms[1:], p)
	p, err = store.Pending(ms, 2)
	require.NoError(t, err)
	require.Empty(t, p)
	_, err = store.Pending(ms, 3)
	require.ErrorContains(t, err, "newer")
}
