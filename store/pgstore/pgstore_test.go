package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/pgstore"
)

// t0 is the time the tests start from: UTC, whole microseconds.
var t0 = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

// newBatch returns a batch as lifecycle.Service would hand it to the store.
func newBatch(at time.Time, owner string, a lifecycle.Action, hosts ...string) *lifecycle.Batch {
	b := &lifecycle.Batch{ID: lifecycle.NewID(at), Owner: owner, Action: a, Hosts: hosts, Priority: 5,
		State: lifecycle.BatchPending, Counts: lifecycle.JobCounts{Pending: len(hosts)}, CreatedAt: at, UpdatedAt: at}
	for _, h := range hosts {
		b.Jobs = append(b.Jobs, lifecycle.Job{BatchID: b.ID, Host: h, Action: a, Priority: 5,
			State: lifecycle.JobPending, CreatedAt: at, UpdatedAt: at})
	}
	return b
}

// schemaVersions returns the versions recorded in schema_migrations.
func schemaVersions(t *testing.T, url string) []int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return vs
}

// migrationCount counts the embedded migrations, from the source tree.
func migrationCount(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("migrations")
	require.NoError(t, err)
	n := 0
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	require.Positive(t, n)
	return n
}

// TestConcurrentOpen: several nodes opening one fresh database at once all
// succeed, and each migration is applied and recorded once.
func TestConcurrentOpen(t *testing.T) {
	url := testenv.Postgres(t)
	const nodes = 6
	stores := make([]*pgstore.Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = pgstore.Open(context.Background(), url, nil)
		})
	}
	close(start)
	wg.Wait()
	for i := range nodes {
		require.NoError(t, errs[i], "node %d", i)
		defer stores[i].Close(context.Background())
	}
	want := make([]int, migrationCount(t))
	for i := range want {
		want[i] = i + 1
	}
	require.Equal(t, want, schemaVersions(t, url))

	// Every node works on the shared schema: one admits, the others see it.
	ctx := context.Background()
	b := newBatch(t0, "alice", lifecycle.ActionReboot, "a.example.com")
	require.NoError(t, stores[0].CreateBatch(ctx, b))
	for i, s := range stores {
		got, err := s.Batch(ctx, b.ID)
		require.NoError(t, err, "node %d", i)
		require.Equal(t, b.Hosts, got.Hosts)
	}
}

// TestReopen: opening a database again applies nothing and keeps the data.
func TestReopen(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	s, err := pgstore.Open(ctx, url, nil)
	require.NoError(t, err)
	b := newBatch(t0, "alice", lifecycle.ActionReboot, "a.example.com")
	require.NoError(t, s.CreateBatch(ctx, b))
	require.NoError(t, s.Close(ctx))
	versions := schemaVersions(t, url)

	s = openStore(t, url, nil)
	require.Equal(t, versions, schemaVersions(t, url))
	got, err := s.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, b.ID, got.ID)
}

// TestNewerSchemaRefused: a database migrated by a newer fleetkit is not
// touched.
func TestNewerSchemaRefused(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	openStore(t, url, nil)
	c, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer c.Close(ctx)
	_, err = c.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')")
	require.NoError(t, err)

	_, err = pgstore.Open(ctx, url, nil)
	require.ErrorContains(t, err, "newer")
}

// TestCallerPool: New uses the caller's pool and Close leaves it open.
func TestCallerPool(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	defer pool.Close()
	s, err := pgstore.New(ctx, pool, nil)
	require.NoError(t, err)
	_, err = s.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.NoError(t, s.Close(ctx))
	require.NoError(t, pool.Ping(ctx), "the caller's pool is still open")
	_, err = s.Host(ctx, "a.example.com")
	require.ErrorIs(t, err, store.ErrClosed)

	_, err = pgstore.New(ctx, nil, nil)
	require.Error(t, err)
}

// TestSecretsNotInErrors: no error quotes the connection password.
func TestSecretsNotInErrors(t *testing.T) {
	const pw = "s3cr3t-Pa55"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, url := range []string{
		"postgres://fleet:" + pw + "@127.0.0.1:1/fleet?sslmode=disable&connect_timeout=5",
		"postgresql://fleet:" + pw + "@127.0.0.1:1/fleet?sslmode=disable&connect_timeout=5",
		"postgres://fleet:" + pw + "@127.0.0.1:1/fleet?sslmode=bogus",
		"postgres://fleet:" + pw + "@127.0.0.1:notaport/fleet",
		"host=127.0.0.1 port=1 user=fleet password=" + pw + " sslmode=disable connect_timeout=5",
		"host=127.0.0.1 port=1 user=fleet password=" + pw + " sslmode=bogus",
	} {
		_, err := pgstore.Open(ctx, url, nil)
		require.Error(t, err, url)
		require.NotContains(t, err.Error(), pw)
		if strings.HasPrefix(url, "postgres") {
			_, err = store.Open(ctx, url)
			require.Error(t, err, url)
			require.NotContains(t, err.Error(), pw)
		}
	}
}

// TestStoreOpen: store.Open opens pgstore for postgres:// and
// postgresql:// URLs.
func TestStoreOpen(t *testing.T) {
	url := testenv.Postgres(t)
	ctx := context.Background()
	for _, u := range []string{url, "postgresql" + strings.TrimPrefix(url, "postgres")} {
		st, b, err := lifecycle.OpenStore(ctx, u)
		require.NoError(t, err, u)
		require.IsType(t, &pgstore.Store{}, b)
		_, err = st.Host(ctx, "a.example.com")
		require.NoError(t, err)
		require.NoError(t, b.Close(ctx))
	}
}

// TestRoundTrip: what CreateBatch writes reads back exactly: params (nil,
// empty, set), times in UTC to the microsecond, jobs in submission order.
func TestRoundTrip(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	for i, params := range []map[string]string{nil, {}, {"ticket": "OPS-1", "quote": `"x"`}} {
		at := t0.Add(time.Duration(i) * time.Second)
		b := newBatch(at, "alice", lifecycle.ActionReimage,
			fmt.Sprintf("z%d.example.com", i), fmt.Sprintf("a%d.example.com", i), fmt.Sprintf("m%d.example.com", i))
		b.Params = params
		b.Snapshot = "rhel9"
		b.Jobs[1].Datacenter, b.Jobs[1].SKU = "dc1", "r640"
		require.NoError(t, s.CreateBatch(ctx, b))
		require.Equal(t, lifecycle.BatchPending, b.State)
		require.Equal(t, lifecycle.JobCounts{Pending: 3}, b.Counts)
		require.Equal(t, at, b.UpdatedAt)

		got, err := s.Batch(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, params, got.Params)
		require.Equal(t, at, got.CreatedAt, "UTC, same instant and location")
		require.Equal(t, at, got.UpdatedAt)
		require.Equal(t, b.Hosts, got.Hosts)
		require.Equal(t, "rhel9", got.Snapshot)
		require.Equal(t, 5, got.Priority)
		for k, j := range got.Jobs {
			want := b.Jobs[k]
			require.Equal(t, want, j, "job %d", k)
		}
		h, err := s.Host(ctx, b.Hosts[0])
		require.NoError(t, err)
		require.Equal(t, lifecycle.Host{Name: b.Hosts[0], State: lifecycle.HostClaimed, BatchID: b.ID, UpdatedAt: at}, h)
	}

	// Jobs may be left out of a direct call: the hosts are then unknown to
	// the directory.
	b := newBatch(t0.Add(time.Minute), "bob", lifecycle.ActionReboot, "nojobs.example.com")
	b.Jobs = nil
	require.NoError(t, s.CreateBatch(ctx, b))
	got, err := s.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, got.Jobs, 1)
	require.Equal(t, "nojobs.example.com", got.Jobs[0].Host)

	// Mismatched jobs are refused.
	bad := newBatch(t0.Add(2*time.Minute), "bob", lifecycle.ActionReboot, "x.example.com", "y.example.com")
	bad.Jobs = bad.Jobs[:1]
	require.ErrorIs(t, s.CreateBatch(ctx, bad), lifecycle.ErrInvalidBatch)
	require.Equal(t, lifecycle.HostReady, must(s.Host(ctx, "x.example.com")).State)
}

// TestDuplicateBatchID: a second batch with an existing ID is refused and
// claims nothing.
func TestDuplicateBatchID(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	b := newBatch(t0, "alice", lifecycle.ActionReboot, "a.example.com")
	require.NoError(t, s.CreateBatch(ctx, b))
	dup := newBatch(t0, "bob", lifecycle.ActionReboot, "b.example.com")
	dup.ID = b.ID
	err := s.CreateBatch(ctx, dup)
	require.ErrorContains(t, err, "exists")
	require.Equal(t, lifecycle.HostReady, must(s.Host(ctx, "b.example.com")).State)
	got, err := s.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "alice", got.Owner)
}

// TestLargeBatch: a batch of thousands of hosts is admitted, and a batch
// overlapping all of it is refused with every host named.
func TestLargeBatch(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	const n = 3000
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%05d.example.com", n-i) // reverse name order
	}
	b := newBatch(t0, "alice", lifecycle.ActionReimage, hosts...)
	require.NoError(t, s.CreateBatch(ctx, b))
	got, err := s.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Len(t, got.Jobs, n)
	require.Equal(t, hosts[0], got.Jobs[0].Host)
	require.Equal(t, hosts[n-1], got.Jobs[n-1].Host)

	_, err = s.SetHostState(ctx, lifecycle.HostTransition{Host: "m.example.com", To: lifecycle.HostMaintenance, Reason: "fan", At: t0})
	require.NoError(t, err)
	err = s.CreateBatch(ctx, newBatch(t0.Add(time.Second), "bob", lifecycle.ActionReboot, append([]string{"m.example.com", "free.example.com"}, hosts...)...))
	var oe *lifecycle.OverlapError
	require.ErrorAs(t, err, &oe)
	require.Len(t, oe.Conflicts, n)
	require.True(t, slices.IsSortedFunc(oe.Conflicts, func(a, b lifecycle.Conflict) int { return strings.Compare(a.Host, b.Host) }))
	for _, c := range oe.Conflicts {
		require.Equal(t, b.ID, c.BatchID)
	}
	var he *lifecycle.HostsError
	require.ErrorAs(t, err, &he)
	require.Equal(t, []lifecycle.HostProblem{{Host: "m.example.com", Reason: "in maintenance: fan", Source: "state"}}, he.Problems)
	require.Equal(t, lifecycle.HostReady, must(s.Host(ctx, "free.example.com")).State)

	// Cancelling releases every host.
	_, cancelled, err := s.CancelBatch(ctx, b.ID, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, cancelled)
	counts, err := s.ActiveCounts(ctx)
	require.NoError(t, err)
	require.Empty(t, counts)
	require.Equal(t, lifecycle.HostReady, must(s.Host(ctx, hosts[17])).State)
}

// TestTwoNodesAdmission: goroutines on two nodes (two pools on one
// database) race batches that share a hot host and list other shared hosts
// in opposite orders. Each round exactly one batch wins, the others are
// refused as overlapping, and no call fails otherwise (no deadlock).
func TestTwoNodesAdmission(t *testing.T) {
	url := testenv.Postgres(t)
	nodes := []*pgstore.Store{openStore(t, url, nil), openStore(t, url, nil)}
	ctx := context.Background()
	const rounds, racers = 15, 12
	for r := range rounds {
		at := t0.Add(time.Duration(r) * time.Second)
		var mu sync.Mutex
		var won []*lifecycle.Batch
		var wg sync.WaitGroup
		for g := range racers {
			wg.Go(func() {
				hosts := []string{"x.example.com", "y.example.com", "z.example.com"}
				if g%2 == 1 {
					slices.Reverse(hosts)
				}
				hosts = append(hosts, fmt.Sprintf("r%d-g%d.example.com", r, g))
				b := newBatch(at, fmt.Sprintf("g%d", g), lifecycle.ActionReboot, hosts...)
				err := nodes[g%2].CreateBatch(ctx, b)
				switch {
				case err == nil:
					mu.Lock()
					won = append(won, b)
					mu.Unlock()
				case errors.Is(err, lifecycle.ErrOverlap):
					var oe *lifecycle.OverlapError
					if !errors.As(err, &oe) || len(oe.Conflicts) != 3 {
						t.Errorf("round %d: refusal names the wrong hosts: %v", r, err)
					}
				default:
					t.Errorf("round %d: %v", r, err)
				}
			})
		}
		wg.Wait()
		require.Len(t, won, 1, "round %d: exactly one batch wins", r)
		for _, h := range []string{"x.example.com", "y.example.com", "z.example.com"} {
			require.Equal(t, won[0].ID, must(nodes[r%2].Host(ctx, h)).BatchID)
		}
		_, _, err := nodes[(r+1)%2].CancelBatch(ctx, won[0].ID, at)
		require.NoError(t, err)
	}
}

// TestCancelBatch: the cancelled flag and CancelledAt are set once.
func TestCancelBatch(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	b := newBatch(t0, "alice", lifecycle.ActionReboot, "a.example.com", "b.example.com")
	require.NoError(t, s.CreateBatch(ctx, b))
	_, err := s.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a.example.com",
		From: lifecycle.JobPending, To: lifecycle.JobRunning, At: t0.Add(time.Second)})
	require.NoError(t, err)

	at := t0.Add(2 * time.Second)
	got, cancelled, err := s.CancelBatch(ctx, b.ID, at)
	require.NoError(t, err)
	require.True(t, cancelled)
	require.Equal(t, at, got.CancelledAt)
	require.Equal(t, at, got.UpdatedAt)
	require.Nil(t, got.Jobs)
	require.Equal(t, lifecycle.BatchRunning, got.State)
	require.True(t, got.FinishedAt.IsZero())

	again, cancelled, err := s.CancelBatch(ctx, b.ID, at.Add(time.Second))
	require.NoError(t, err)
	require.False(t, cancelled, "already cancelled")
	require.Equal(t, got, again, "unchanged")

	end := at.Add(2 * time.Second)
	j, err := s.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a.example.com",
		From: lifecycle.JobRunning, To: lifecycle.JobCancelled, Error: "cancelled", At: end})
	require.NoError(t, err)
	require.True(t, j.CancelRequested)
	require.Equal(t, end, j.FinishedAt)
	final, err := s.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchCancelled, final.State)
	require.Equal(t, end, final.FinishedAt)
	require.Equal(t, at, final.CancelledAt)

	_, _, err = s.CancelBatch(ctx, lifecycle.NewID(t0), t0)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestRefusedTransitionChangesNothing: a refused host transition leaves no
// row behind for a host never seen.
func TestRefusedTransitionChangesNothing(t *testing.T) {
	s := newStore(t, nil)
	ctx := context.Background()
	_, err := s.SetHostState(ctx, lifecycle.HostTransition{Host: "new.example.com", To: lifecycle.HostMaintenance, At: t0})
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition)
	h, err := s.Host(ctx, "new.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.Host{Name: "new.example.com", State: lifecycle.HostReady}, h)

	h, err = s.SetHostState(ctx, lifecycle.HostTransition{Host: "new.example.com", To: lifecycle.HostDecommissioned, Reason: "EOL", At: t0})
	require.NoError(t, err)
	require.Equal(t, lifecycle.Host{Name: "new.example.com", State: lifecycle.HostDecommissioned, Reason: "EOL", UpdatedAt: t0}, h)
	require.Equal(t, h, must(s.Host(ctx, "new.example.com")))
}

// TestLeasesAcrossNodes: two nodes share leases through the database.
func TestLeasesAcrossNodes(t *testing.T) {
	url := testenv.Postgres(t)
	a, b := openStore(t, url, nil), openStore(t, url, nil)
	ctx := context.Background()
	la, err := a.Acquire(ctx, "rescue", time.Minute)
	require.NoError(t, err)
	require.Equal(t, time.UTC, la.Expires.Location())
	_, err = b.Acquire(ctx, "rescue", time.Minute)
	require.ErrorIs(t, err, store.ErrLocked)
	require.ErrorContains(t, err, "until")
	require.NoError(t, a.Release(ctx, la))
	lb, err := b.Acquire(ctx, "rescue", time.Minute)
	require.NoError(t, err)
	require.Equal(t, la.Token+1, lb.Token)
	_, err = a.Renew(ctx, la, time.Minute)
	require.ErrorIs(t, err, store.ErrNotHeld)
	_, err = a.Renew(ctx, lb, time.Minute)
	require.NoError(t, err, "a lease is a value: any node may renew it")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
