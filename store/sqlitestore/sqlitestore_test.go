package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
)

// t0 is the time the tests' batches are created at.
var t0 = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

// newBatch returns a batch of action reboot over hosts, as a Service would
// hand it to the store, without jobs (the store makes them).
func newBatch(owner string, hosts ...string) *lifecycle.Batch {
	return &lifecycle.Batch{ID: lifecycle.NewID(t0), Owner: owner, Action: lifecycle.ActionReboot,
		Hosts: hosts, Priority: 60, CreatedAt: t0}
}

// holdWriteLock takes SQLite's write lock on the database at path from a
// connection of its own, until the returned function is called.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", sqlitestore.DSN(path, time.Second))
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			require.NoError(t, db.Close())
		})
	}
	t.Cleanup(release)
	return release
}

func TestOpenURL(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	b, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "abs.db"))
	require.NoError(t, err)
	require.IsType(t, &sqlitestore.Store{}, b)
	require.Implements(t, (*lifecycle.Store)(nil), b)
	require.NoError(t, b.Close(ctx))

	t.Chdir(dir)
	b, err = store.Open(ctx, "sqlite:relative.db")
	require.NoError(t, err, "a relative path")
	require.NoError(t, b.Close(ctx))
	require.FileExists(t, filepath.Join(dir, "relative.db"))

	for _, u := range []string{
		"sqlite://fleet.db",                  // a host, not a file
		"sqlite://localhost/tmp/fleet.db",    // hosts are not for files
		"sqlite:///tmp/fleet.db?mode=memory", // no parameters
		"sqlite://user:hunter2@/tmp/fleet.db",
		"sqlite:///tmp/fleet.db#frag",
		"sqlite://",
		"sqlite:///",
	} {
		_, err := store.Open(ctx, u)
		require.ErrorIs(t, err, store.ErrInvalid, u)
		require.NotContains(t, err.Error(), "hunter2")
	}
	_, err = store.Open(ctx, "sqlite://"+filepath.Join(dir, "no", "such", "dir", "x.db"))
	require.Error(t, err, "the directory must exist")
}

func TestOpenRefusesMemoryAndBadOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, p := range []string{"", ":memory:", "file::memory:?cache=shared"} {
		_, err := sqlitestore.Open(ctx, p, nil)
		require.ErrorIs(t, err, store.ErrInvalid, p)
	}
	path := filepath.Join(t.TempDir(), "fleet.db")
	for _, o := range []sqlitestore.Options{{MaxGroup: -1}, {ReadConns: -1}, {BusyTimeout: -time.Second}} {
		_, err := sqlitestore.Open(ctx, path, &o)
		require.ErrorIs(t, err, store.ErrInvalid, "%+v", o)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	db, err := sql.Open("sqlite", sqlitestore.DSN(path, 5*time.Second))
	require.NoError(t, err)
	defer db.Close()

	_, err = sqlitestore.New(ctx, nil, nil)
	require.ErrorIs(t, err, store.ErrInvalid)
	db.SetMaxOpenConns(1)
	_, err = sqlitestore.New(ctx, db, nil)
	require.ErrorIs(t, err, store.ErrInvalid, "one connection cannot serve the writer and the readers")

	db.SetMaxOpenConns(3)
	st, err := sqlitestore.New(ctx, db, nil)
	require.NoError(t, err)
	b := newBatch("alice", "a.example.com")
	require.NoError(t, st.CreateBatch(ctx, b))
	require.NoError(t, st.Close(ctx))
	require.NoError(t, db.PingContext(ctx), "Close leaves the caller's database open")
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.Equal(t, "wal", mode)
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT COUNT(*) FROM jobs").Scan(&n))
	require.Equal(t, 1, n)
}

func TestReopenKeepsStateAndTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	b := newBatch("alice", "a.example.com", "b.example.com")
	require.NoError(t, st.CreateBatch(ctx, b))
	l, err := st.Acquire(ctx, "rescue", time.Hour)
	require.NoError(t, err)
	require.NoError(t, st.Release(ctx, l))
	require.NoError(t, st.Close(ctx))

	st, err = sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close(ctx)
	v, err := st.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, migrationCount(t), v)
	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b.Hosts, got.Hosts)
	h, err := st.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostClaimed, h.State)
	l2, err := st.Acquire(ctx, "rescue", time.Hour)
	require.NoError(t, err)
	require.Greater(t, l2.Token, l.Token, "tokens keep increasing across restarts")
}

func TestNewerSchemaRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close(ctx))
	db, err := sql.Open("sqlite", sqlitestore.DSN(path, time.Second))
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 0)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = sqlitestore.Open(ctx, path, nil)
	require.ErrorContains(t, err, "newer")
}

// TestClosedSchemaVersion: SchemaVersion, which is not part of the
// lifecycle contract, also fails after Close (the conformance suites check
// every contract method).
func TestClosedSchemaVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "fleet.db"), nil)
	require.NoError(t, err)
	require.NoError(t, st.Close(ctx))
	_, err = st.SchemaVersion(ctx)
	require.ErrorIs(t, err, store.ErrClosed)
}

func TestCloseWhileWriting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := sqlitestore.Open(ctx, filepath.Join(t.TempDir(), "fleet.db"), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				errs <- st.CreateBatch(ctx, newBatch("w", fmt.Sprintf("h%d-%d.example.com", g, i)))
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, st.Close(ctx))
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			require.ErrorIs(t, err, store.ErrClosed, "a write racing Close either commits or fails with ErrClosed")
		}
	}
}

func TestCreateBatchOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)

	// A time in another zone, with nanoseconds, comes back as stored.
	b := newBatch("alice", "a.example.com", "b.example.com")
	b.CreatedAt = time.Date(2026, 5, 6, 9, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	b.Params = map[string]string{}
	require.NoError(t, st.CreateBatch(ctx, b))
	require.Equal(t, lifecycle.BatchPending, b.State)
	require.Equal(t, lifecycle.JobCounts{Pending: 2}, b.Counts)
	require.Equal(t, time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC), b.CreatedAt)
	require.Equal(t, b.CreatedAt, b.UpdatedAt)
	require.Len(t, b.Jobs, 2, "jobs made from the hosts")

	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b, got, "what CreateBatch leaves in b is what Batch reads back")
	require.NotNil(t, got.Params, "an empty map stays empty, not nil")

	// Jobs that differ in more than host, datacenter and sku.
	c := newBatch("bob", "c.example.com", "d.example.com")
	c.Jobs = []lifecycle.Job{
		{Host: "c.example.com", Action: lifecycle.ActionReboot, Priority: 1, Datacenter: "dc1", SKU: "r640"},
		{Host: "d.example.com", Action: lifecycle.ActionReboot, Priority: 2, CreatedAt: t0.Add(time.Second)},
	}
	require.NoError(t, st.CreateBatch(ctx, c))
	got, err = st.Batch(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.Jobs, got.Jobs)
	require.Equal(t, "dc1", got.Jobs[0].Datacenter)
	require.Equal(t, 2, got.Jobs[1].Priority)
	require.Nil(t, got.Params)
}

func TestCreateBatchLarge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)
	hosts := make([]string, 150) // three statements: 64 + 64 + 22 rows
	for i := range hosts {
		hosts[i] = fmt.Sprintf("n%03d.example.com", (i*37)%150) // not in name order
	}
	b := newBatch("alice", hosts...)
	require.NoError(t, st.CreateBatch(ctx, b))
	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, got.Jobs, 150)
	for i, j := range got.Jobs {
		require.Equal(t, hosts[i], j.Host, "jobs in submission order")
	}
	page, err := st.ListJobs(ctx, lifecycle.JobFilter{BatchID: b.ID, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 150)
	require.Equal(t, "n000.example.com", page.Jobs[0].Host, "listings in host order")
}

func TestCreateBatchInvalid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)
	a := newBatch("alice", "a.example.com")
	require.NoError(t, st.CreateBatch(ctx, a))

	dup := newBatch("bob", "b.example.com")
	dup.ID = a.ID
	require.ErrorIs(t, st.CreateBatch(ctx, dup), lifecycle.ErrInvalidBatch, "an ID is used once")
	h, err := st.Host(ctx, "b.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostReady, h.State, "a refused batch claims nothing")

	require.ErrorIs(t, st.CreateBatch(ctx, newBatch("bob", "c.example.com", "c.example.com")), lifecycle.ErrInvalidBatch)
	require.ErrorIs(t, st.CreateBatch(ctx, newBatch("bob")), lifecycle.ErrInvalidBatch)
	mismatch := newBatch("bob", "d.example.com")
	mismatch.Jobs = []lifecycle.Job{{Host: "e.example.com"}}
	require.ErrorIs(t, st.CreateBatch(ctx, mismatch), lifecycle.ErrInvalidBatch)

	for _, name := range []string{"c.example.com", "d.example.com", "e.example.com"} {
		h, err := st.Host(ctx, name)
		require.NoError(t, err)
		require.True(t, h.UpdatedAt.IsZero(), "%s untouched", name)
	}
	page, err := st.ListBatches(ctx, lifecycle.BatchFilter{})
	require.NoError(t, err)
	require.Len(t, page.Batches, 1)
}

func TestUpdateJobKeepsLastError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)
	b := newBatch("alice", "a.example.com")
	require.NoError(t, st.CreateBatch(ctx, b))
	move := func(from, to lifecycle.JobState, msg string, at time.Time) *lifecycle.Job {
		t.Helper()
		j, err := st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a.example.com", From: from, To: to, Error: msg, At: at})
		require.NoError(t, err)
		return j
	}
	first := t0.Add(time.Second)
	move(lifecycle.JobPending, lifecycle.JobRunning, "", first)
	j := move(lifecycle.JobRunning, lifecycle.JobPending, "BMC timeout", t0.Add(2*time.Second))
	require.Equal(t, "BMC timeout", j.Error)
	require.True(t, j.FinishedAt.IsZero())
	h, err := st.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.Host{Name: "a.example.com", State: lifecycle.HostClaimed, BatchID: b.ID, UpdatedAt: t0.Add(2 * time.Second)}, h)
	j = move(lifecycle.JobPending, lifecycle.JobRunning, "", t0.Add(3*time.Second))
	require.Equal(t, 2, j.Attempts)
	require.Equal(t, first, j.StartedAt, "StartedAt is the first start")
	require.Equal(t, "BMC timeout", j.Error, "the last error is kept")
	end := t0.Add(4 * time.Second)
	j = move(lifecycle.JobRunning, lifecycle.JobSucceeded, "", end)
	require.Equal(t, end, j.FinishedAt)
	require.Equal(t, end, j.UpdatedAt)
	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, *j, got.Jobs[0])
	require.Equal(t, end, got.FinishedAt)
}

func TestSetHostStateSameStateChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)
	set := func(to lifecycle.HostState, reason string, at time.Time) lifecycle.Host {
		t.Helper()
		h, err := st.SetHostState(ctx, lifecycle.HostTransition{Host: "a.example.com", To: to, Reason: reason, At: at})
		require.NoError(t, err)
		return h
	}
	h := set(lifecycle.HostReady, "", t0)
	require.True(t, h.UpdatedAt.IsZero(), "a host never seen is ready already")
	set(lifecycle.HostMaintenance, "PSU", t0)
	h = set(lifecycle.HostMaintenance, "PSU and fans", t0.Add(time.Second))
	require.Equal(t, "PSU and fans", h.Reason, "maintenance may change its reason")
	set(lifecycle.HostDecommissioned, "EOL", t0.Add(2*time.Second))
	h = set(lifecycle.HostDecommissioned, "", t0.Add(3*time.Second))
	require.Equal(t, lifecycle.Host{Name: "a.example.com", State: lifecycle.HostDecommissioned, Reason: "EOL", UpdatedAt: t0.Add(2 * time.Second)}, h)
	stored, err := st.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.Equal(t, h, stored)
}

// TestGroupCommitIsolation queues many writes behind a write lock held by
// another connection, so that the writer runs them in one transaction,
// and checks that the rejected ones roll back alone.
func TestGroupCommitIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close(ctx)
	_, err = st.SetHostState(ctx, lifecycle.HostTransition{Host: "maint.example.com", To: lifecycle.HostMaintenance, Reason: "fans", At: t0})
	require.NoError(t, err)
	running := newBatch("alice", "run.example.com")
	require.NoError(t, st.CreateBatch(ctx, running))
	groups0, _ := sqlitestore.GroupStats(st)

	release := holdWriteLock(t, path)
	const pairs = 10
	results := make([][2]error, pairs)
	batches := make([][2]*lifecycle.Batch, pairs)
	var unavailableErr, updateErr, badUpdateErr error
	var wg sync.WaitGroup
	for i := range pairs {
		for k := range 2 {
			// Both batches of a pair want shared-i; each has a host of
			// its own too.
			batches[i][k] = newBatch("bob", fmt.Sprintf("own-%d-%d.example.com", i, k), fmt.Sprintf("shared-%d.example.com", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i][k] = st.CreateBatch(ctx, batches[i][k])
			}()
		}
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		unavailableErr = st.CreateBatch(ctx, newBatch("carol", "free.example.com", "maint.example.com"))
	}()
	go func() {
		defer wg.Done()
		_, updateErr = st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: running.ID, Host: "run.example.com",
			From: lifecycle.JobPending, To: lifecycle.JobRunning, At: t0})
	}()
	go func() {
		defer wg.Done()
		_, badUpdateErr = st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: running.ID, Host: "run.example.com",
			From: lifecycle.JobRunning, To: lifecycle.JobFailed, At: t0})
	}()
	time.Sleep(300 * time.Millisecond) // let every write queue up
	release()
	wg.Wait()

	groups1, _ := sqlitestore.GroupStats(st)
	t.Logf("%d writes in %d group commits", 2*pairs+3, groups1-groups0)
	require.Less(t, groups1-groups0, int64(2*pairs+3), "the writes were grouped")

	for i := range pairs {
		won := -1
		for k := range 2 {
			if results[i][k] == nil {
				require.Equal(t, -1, won, "pair %d: both batches admitted", i)
				won = k
				continue
			}
			require.ErrorIs(t, results[i][k], lifecycle.ErrOverlap, "pair %d", i)
		}
		require.NotEqual(t, -1, won, "pair %d: one of the two is admitted", i)
		winner, loser := batches[i][won], batches[i][1-won]
		var oe *lifecycle.OverlapError
		require.ErrorAs(t, results[i][1-won], &oe)
		require.Equal(t, []lifecycle.Conflict{{Host: fmt.Sprintf("shared-%d.example.com", i), BatchID: winner.ID}}, oe.Conflicts)

		_, err := st.Batch(ctx, loser.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		own, err := st.Host(ctx, loser.Hosts[0])
		require.NoError(t, err)
		require.Equal(t, lifecycle.HostReady, own.State, "the loser's own host was released by its rollback")
		require.True(t, own.UpdatedAt.IsZero())
		got, err := st.Batch(ctx, winner.ID)
		require.NoError(t, err)
		require.Len(t, got.Jobs, 2)
		for _, name := range winner.Hosts {
			h, err := st.Host(ctx, name)
			require.NoError(t, err)
			require.Equal(t, winner.ID, h.BatchID)
		}
	}
	require.ErrorIs(t, unavailableErr, lifecycle.ErrHostUnavailable)
	free, err := st.Host(ctx, "free.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostReady, free.State)

	// The two updates of one job ran in some order: the start succeeded,
	// and the failure either followed it or was refused first.
	require.NoError(t, updateErr)
	got, err := st.Batch(ctx, running.ID)
	require.NoError(t, err)
	if badUpdateErr != nil {
		require.ErrorIs(t, badUpdateErr, lifecycle.ErrInvalidTransition)
		require.Equal(t, lifecycle.JobCounts{Running: 1}, got.Counts)
	} else {
		require.Equal(t, lifecycle.JobCounts{Failed: 1}, got.Counts)
	}
}

// TestQueuedWriteAbandoned: a write whose context ends while it waits for
// the write lock returns the context's error and is never applied.
func TestQueuedWriteAbandoned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close(ctx)

	release := holdWriteLock(t, path)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	b := newBatch("alice", "a.example.com")
	err = st.CreateBatch(short, b)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	release()

	// The next write goes through, and the abandoned one left no trace.
	require.NoError(t, st.CreateBatch(ctx, newBatch("bob", "b.example.com")))
	_, err = st.Batch(ctx, b.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
	h, err := st.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostReady, h.State)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, st.CreateBatch(cancelled, newBatch("carol", "c.example.com")), context.Canceled)
	_, err = st.Acquire(cancelled, "x", time.Second)
	require.ErrorIs(t, err, context.Canceled)
}

// TestTwoStoresOneFile admits batches through two Stores on one database
// file, as two processes would. Hosts are never released, so the admitted
// batches must hold pairwise disjoint hosts.
func TestTwoStoresOneFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	var stores [2]*sqlitestore.Store
	for i := range stores {
		st, err := sqlitestore.Open(ctx, path, nil)
		require.NoError(t, err)
		defer st.Close(ctx)
		stores[i] = st
	}
	const poolSize = 60
	var mu sync.Mutex
	owner := map[string]string{} // host → batch that admitted it
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := stores[g%2]
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for range 60 {
				n := 1 + rng.IntN(4)
				hosts := make([]string, n)
				for i, p := range rng.Perm(poolSize)[:n] {
					hosts[i] = fmt.Sprintf("p%02d.example.com", p)
				}
				b := newBatch(fmt.Sprintf("g%d", g), hosts...)
				err := st.CreateBatch(ctx, b)
				if errors.Is(err, lifecycle.ErrOverlap) {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, h := range hosts {
					if prev, dup := owner[h]; dup {
						mu.Unlock()
						errs <- fmt.Errorf("host %s admitted by %s and %s", h, prev, b.ID)
						return
					}
					owner[h] = b.ID
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NotEmpty(t, owner)
	for h, id := range owner {
		got, err := stores[1].Host(ctx, h)
		require.NoError(t, err)
		require.Equal(t, id, got.BatchID, h)
	}
}

func TestActiveCountsAndListings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := openTemp(t, nil)
	rows, err := st.ActiveCounts(ctx)
	require.NoError(t, err)
	require.Empty(t, rows)

	a := newBatch("alice", "a.example.com", "b.example.com")
	a.Jobs = []lifecycle.Job{
		{Host: "a.example.com", Action: lifecycle.ActionReboot, Priority: 60, Datacenter: "dc2"},
		{Host: "b.example.com", Action: lifecycle.ActionReboot, Priority: 60, Datacenter: "dc1"},
	}
	require.NoError(t, st.CreateBatch(ctx, a))
	b := newBatch("bob", "c.example.com")
	b.Action = lifecycle.ActionReimage
	require.NoError(t, st.CreateBatch(ctx, b))
	_, err = st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: a.ID, Host: "a.example.com", From: lifecycle.JobPending, To: lifecycle.JobRunning, At: t0})
	require.NoError(t, err)
	rows, err = st.ActiveCounts(ctx)
	require.NoError(t, err)
	require.Equal(t, []lifecycle.ActiveCount{
		{Datacenter: "", Action: lifecycle.ActionReimage, Pending: 1},
		{Datacenter: "dc1", Action: lifecycle.ActionReboot, Pending: 1},
		{Datacenter: "dc2", Action: lifecycle.ActionReboot, Running: 1},
	}, rows, "sorted by datacenter, then action")

	_, cancelled, err := st.CancelBatch(ctx, b.ID, t0.Add(time.Second))
	require.NoError(t, err)
	require.True(t, cancelled)
	rows, err = st.ActiveCounts(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 2)

	page, err := st.ListJobs(ctx, lifecycle.JobFilter{States: []lifecycle.JobState{lifecycle.JobCancelled}, FinishedAfter: t0})
	require.NoError(t, err)
	require.Len(t, page.Jobs, 1)
	require.Equal(t, b.ID, page.Jobs[0].BatchID)
	_, err = st.ListJobs(ctx, lifecycle.JobFilter{Cursor: lifecycle.NewID(t0) + "/"})
	require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
}

// TestCloseWithQueuedWrites: Close lets the write being run finish, fails
// the queued ones with ErrClosed, and when its context ends first returns
// that error and releases the database later.
func TestCloseWithQueuedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fleet.db")
	st, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)

	release := holdWriteLock(t, path)
	running, queued := newBatch("alice", "a.example.com"), newBatch("bob", "b.example.com")
	var runErr, queuedErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); runErr = st.CreateBatch(ctx, running) }()
	time.Sleep(50 * time.Millisecond) // the writer takes it and waits for the lock
	go func() { defer wg.Done(); queuedErr = st.CreateBatch(ctx, queued) }()
	time.Sleep(50 * time.Millisecond)

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, st.Close(short), context.DeadlineExceeded)
	release()
	wg.Wait()
	require.NoError(t, runErr, "the write in progress completes")
	require.ErrorIs(t, queuedErr, store.ErrClosed, "queued writes fail")

	again, err := sqlitestore.Open(ctx, path, nil)
	require.NoError(t, err)
	defer again.Close(ctx)
	_, err = again.Batch(ctx, running.ID)
	require.NoError(t, err)
	_, err = again.Batch(ctx, queued.ID)
	require.ErrorIs(t, err, store.ErrNotFound)
}
