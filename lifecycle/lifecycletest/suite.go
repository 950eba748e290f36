package lifecycletest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// NewStore returns a fresh, empty store for one test. It registers any
// cleanup with t.
type NewStore func(t testing.TB) lifecycle.Store

// fixture is what each test starts from: a store, a service over it with a
// controllable clock, and a context.
type fixture struct {
	st  lifecycle.Store
	svc *lifecycle.Service
	ctx context.Context
	now time.Time
}

var dir = lifecycle.StaticDirectory{
	"a1.dc1.example.com": {Datacenter: "dc1", SKU: "r640"},
	"a2.dc1.example.com": {Datacenter: "dc1", SKU: "r640"},
	"a3.dc1.example.com": {Datacenter: "dc1", SKU: "r740"},
	"b1.dc2.example.com": {Datacenter: "dc2", SKU: "r740"},
	"b2.dc2.example.com": {Datacenter: "dc2", SKU: "r740"},
}

func setup(t *testing.T, newStore NewStore) *fixture {
	t.Helper()
	f := &fixture{st: newStore(t), ctx: context.Background(),
		now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	svc, err := lifecycle.New(f.st, &lifecycle.Config{
		Directory: dir,
		Now:       func() time.Time { return f.now },
	})
	require.NoError(t, err)
	f.svc = svc
	return f
}

// tick advances the fixture's clock.
func (f *fixture) tick() time.Time {
	f.now = f.now.Add(1500 * time.Microsecond)
	return f.now
}

func (f *fixture) submit(t *testing.T, owner string, a lifecycle.Action, hosts ...string) *lifecycle.Batch {
	t.Helper()
	f.tick()
	res, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: owner, Action: a, Hosts: hosts})
	require.NoError(t, err)
	return res.Batch
}

func (f *fixture) move(t *testing.T, b *lifecycle.Batch, host string, from, to lifecycle.JobState, msg string) *lifecycle.Job {
	t.Helper()
	j, err := f.st.UpdateJob(f.ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: host, From: from, To: to, Error: msg, At: f.tick()})
	require.NoError(t, err)
	return j
}

func (f *fixture) hostState(t *testing.T, name string) lifecycle.Host {
	t.Helper()
	h, err := f.st.Host(f.ctx, name)
	require.NoError(t, err)
	return h
}

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"NotFound", testNotFound},
		{"Overlap", testOverlap},
		{"UnavailableHosts", testUnavailable},
		{"FailedHostIsAdmissible", testFailedAdmissible},
		{"Cancel", testCancel},
		{"CancelRunning", testCancelRunning},
		{"JobLifecycle", testJobLifecycle},
		{"JobTransitionsRejected", testJobTransitions},
		{"Decommission", testDecommission},
		{"HostStateMachine", testHostStates},
		{"ListBatches", testListBatches},
		{"ListBatchesPaging", testListBatchesPaging},
		{"ListJobs", testListJobs},
		{"ActiveCounts", testActiveCounts},
		{"Stats", testStats},
		{"CancelledContext", testCancelledContext},
		{"Closed", testClosed},
		{"ConcurrentAdmission", testConcurrentAdmission},
	}
	tests = append(tests, queueTests...)
	tests = append(tests, poolTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func testCreateAndGet(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	prio := 7
	f.tick()
	res, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{
		Owner: "alice", Action: lifecycle.ActionReimage,
		Hosts:    []string{"A2.dc1.example.com", "a1.dc1.example.com.", "unknown.example.com"},
		Snapshot: "rhel9-2026.01", Params: map[string]string{"ticket": "OPS-1"}, Priority: &prio,
	})
	require.NoError(t, err)
	want := res.Batch
	require.True(t, lifecycle.ValidID(want.ID))
	require.Equal(t, []string{"a2.dc1.example.com", "a1.dc1.example.com", "unknown.example.com"}, want.Hosts)

	got, err := f.st.Batch(f.ctx, want.ID)
	require.NoError(t, err)
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, "alice", got.Owner)
	require.Equal(t, lifecycle.ActionReimage, got.Action)
	require.Equal(t, want.Hosts, got.Hosts)
	require.Equal(t, "rhel9-2026.01", got.Snapshot)
	require.Equal(t, map[string]string{"ticket": "OPS-1"}, got.Params)
	require.Equal(t, 7, got.Priority)
	require.Equal(t, lifecycle.BatchPending, got.State)
	require.Equal(t, lifecycle.JobCounts{Pending: 3}, got.Counts)
	require.True(t, got.CreatedAt.Equal(f.now), "CreatedAt %s, want %s", got.CreatedAt, f.now)
	require.True(t, got.FinishedAt.IsZero())
	require.True(t, got.CancelledAt.IsZero())
	require.Len(t, got.Jobs, 3)
	for i, j := range got.Jobs {
		require.Equal(t, want.ID, j.BatchID)
		require.Equal(t, want.Hosts[i], j.Host, "jobs come back in submission order")
		require.Equal(t, lifecycle.JobPending, j.State)
		require.Equal(t, lifecycle.ActionReimage, j.Action)
		require.Equal(t, 7, j.Priority)
		require.Equal(t, dir[j.Host].Datacenter, j.Datacenter)
		require.Equal(t, dir[j.Host].SKU, j.SKU)
		require.Zero(t, j.Attempts)
		require.True(t, j.StartedAt.IsZero())
	}
	h := f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, lifecycle.HostClaimed, h.State)
	require.Equal(t, want.ID, h.BatchID)

	// The returned batch is a copy: changing it changes nothing stored.
	got.Hosts[0] = "mutated"
	got.Jobs[0].Host = "mutated"
	again, err := f.st.Batch(f.ctx, want.ID)
	require.NoError(t, err)
	require.Equal(t, "a2.dc1.example.com", again.Hosts[0])
	require.Equal(t, "a2.dc1.example.com", again.Jobs[0].Host)
}

func testNotFound(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	missing := lifecycle.NewID(f.now)
	_, err := f.st.Batch(f.ctx, missing)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = f.st.CancelBatch(f.ctx, missing, f.now)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.st.UpdateJob(f.ctx, lifecycle.JobUpdate{BatchID: missing, Host: "x.example.com",
		From: lifecycle.JobPending, To: lifecycle.JobRunning, At: f.now})
	require.ErrorIs(t, err, store.ErrNotFound)
	b := f.submit(t, "bob", lifecycle.ActionReboot, "a1.dc1.example.com")
	_, err = f.st.UpdateJob(f.ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a2.dc1.example.com",
		From: lifecycle.JobPending, To: lifecycle.JobRunning, At: f.now})
	require.ErrorIs(t, err, store.ErrNotFound)
	h := f.hostState(t, "never-seen.example.com")
	require.Equal(t, lifecycle.HostReady, h.State)
	require.True(t, h.UpdatedAt.IsZero())
}

func testOverlap(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	a := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com")
	b := f.submit(t, "bob", lifecycle.ActionReboot, "b1.dc2.example.com")

	f.tick()
	_, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "carol", Action: lifecycle.ActionPowerOff,
		Hosts: []string{"a3.dc1.example.com", "b1.dc2.example.com", "a2.dc1.example.com"}})
	require.ErrorIs(t, err, lifecycle.ErrOverlap)
	var oe *lifecycle.OverlapError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, []lifecycle.Conflict{
		{Host: "a2.dc1.example.com", BatchID: a.ID},
		{Host: "b1.dc2.example.com", BatchID: b.ID},
	}, oe.Conflicts)
	require.Contains(t, err.Error(), "a2.dc1.example.com")

	// Nothing changed: the free host is still free and no batch was added.
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a3.dc1.example.com").State)
	page, err := f.st.ListBatches(f.ctx, lifecycle.BatchFilter{})
	require.NoError(t, err)
	require.Len(t, page.Batches, 2)
	require.Equal(t, a.ID, f.hostState(t, "a2.dc1.example.com").BatchID)

	// Direct store call with an overlapping batch is refused too.
	dup := &lifecycle.Batch{ID: lifecycle.NewID(f.tick()), Owner: "dave", Action: lifecycle.ActionReboot,
		Hosts: []string{"a1.dc1.example.com"}, CreatedAt: f.now, Counts: lifecycle.JobCounts{Pending: 1},
		Jobs: []lifecycle.Job{{Host: "a1.dc1.example.com", Action: lifecycle.ActionReboot, State: lifecycle.JobPending, CreatedAt: f.now, UpdatedAt: f.now}}}
	dup.Jobs[0].BatchID = dup.ID
	require.ErrorIs(t, f.st.CreateBatch(f.ctx, dup), lifecycle.ErrOverlap)
	_, err = f.st.Batch(f.ctx, dup.ID)
	require.ErrorIs(t, err, store.ErrNotFound)

	// A batch ID can be used once.
	again := *dup
	again.ID = b.ID
	again.Hosts = []string{"b2.dc2.example.com"}
	again.Jobs = []lifecycle.Job{{BatchID: b.ID, Host: "b2.dc2.example.com", Action: lifecycle.ActionReboot, State: lifecycle.JobPending, CreatedAt: f.now, UpdatedAt: f.now}}
	require.ErrorIs(t, f.st.CreateBatch(f.ctx, &again), lifecycle.ErrInvalidBatch)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "b2.dc2.example.com").State, "nothing changed")
}

func testUnavailable(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	_, err := f.svc.SetHostState(f.ctx, lifecycle.HostTransition{Host: "a1.dc1.example.com", To: lifecycle.HostMaintenance, Reason: "PSU swap"})
	require.NoError(t, err)
	_, err = f.svc.SetHostState(f.ctx, lifecycle.HostTransition{Host: "a2.dc1.example.com", To: lifecycle.HostDecommissioned, Reason: "EOL"})
	require.NoError(t, err)
	held := f.submit(t, "alice", lifecycle.ActionReboot, "b1.dc2.example.com")

	f.tick()
	_, err = f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReimage,
		Hosts: []string{"a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com", "b1.dc2.example.com"}})
	require.ErrorIs(t, err, lifecycle.ErrHostUnavailable)
	require.ErrorIs(t, err, lifecycle.ErrOverlap, "overlap and unavailability are both reported")
	var he *lifecycle.HostsError
	require.ErrorAs(t, err, &he)
	require.Len(t, he.Problems, 2)
	require.Equal(t, "a1.dc1.example.com", he.Problems[0].Host)
	require.Contains(t, he.Problems[0].Reason, "PSU swap")
	require.Equal(t, "a2.dc1.example.com", he.Problems[1].Host)
	require.Contains(t, he.Problems[1].Reason, "decommissioned")
	var oe *lifecycle.OverlapError
	require.ErrorAs(t, err, &oe)
	require.Equal(t, []lifecycle.Conflict{{Host: "b1.dc2.example.com", BatchID: held.ID}}, oe.Conflicts)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a3.dc1.example.com").State)
	require.Equal(t, lifecycle.HostMaintenance, f.hostState(t, "a1.dc1.example.com").State)
}

func testFailedAdmissible(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobFailed, "PXE timeout")
	h := f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, lifecycle.HostFailed, h.State)
	require.Empty(t, h.BatchID)
	retry := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com")
	h = f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, lifecycle.HostClaimed, h.State)
	require.Equal(t, retry.ID, h.BatchID)
}

func testCancel(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com")
	at := f.tick()
	got, cancelled, err := f.st.CancelBatch(f.ctx, b.ID, at)
	require.NoError(t, err)
	require.True(t, cancelled)
	require.Equal(t, lifecycle.BatchCancelled, got.State)
	require.Equal(t, lifecycle.JobCounts{Cancelled: 2}, got.Counts)
	require.True(t, got.CancelledAt.Equal(at))
	require.True(t, got.FinishedAt.Equal(at))
	for _, h := range b.Hosts {
		hs := f.hostState(t, h)
		require.Equal(t, lifecycle.HostReady, hs.State)
		require.Empty(t, hs.BatchID)
	}
	full, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	for _, j := range full.Jobs {
		require.Equal(t, lifecycle.JobCancelled, j.State)
		require.True(t, j.FinishedAt.Equal(at))
	}

	// Twice is fine and changes nothing.
	again, cancelled, err := f.st.CancelBatch(f.ctx, b.ID, f.tick())
	require.NoError(t, err)
	require.False(t, cancelled)
	require.True(t, again.CancelledAt.Equal(at))
	require.Equal(t, lifecycle.BatchCancelled, again.State)

	// The hosts are free again.
	f.submit(t, "bob", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")

	// Cancelling a finished batch changes nothing.
	done := f.submit(t, "carol", lifecycle.ActionPowerOn, "b1.dc2.example.com")
	f.move(t, done, "b1.dc2.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, done, "b1.dc2.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	c, cancelled, err := f.st.CancelBatch(f.ctx, done.ID, f.tick())
	require.NoError(t, err)
	require.False(t, cancelled, "a finished batch is not cancelled")
	require.Equal(t, lifecycle.BatchSucceeded, c.State)
	require.True(t, c.CancelledAt.IsZero())
}

func testCancelRunning(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "a3.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "a3.dc1.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	at := f.tick()
	got, cancelled, err := f.st.CancelBatch(f.ctx, b.ID, at)
	require.NoError(t, err)
	require.True(t, cancelled)
	require.Equal(t, lifecycle.BatchRunning, got.State, "a running job keeps the batch running")
	require.Equal(t, lifecycle.JobCounts{Running: 1, Cancelled: 1, Succeeded: 1}, got.Counts)
	require.True(t, got.CancelledAt.Equal(at))
	full, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.True(t, full.Jobs[0].CancelRequested, "running job is marked for its worker")
	require.Equal(t, lifecycle.JobRunning, full.Jobs[0].State)
	require.False(t, full.Jobs[1].CancelRequested)
	require.Equal(t, lifecycle.HostInProgress, f.hostState(t, "a1.dc1.example.com").State)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a2.dc1.example.com").State)

	// The worker notices and ends the job: the batch ends cancelled.
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobCancelled, "cancelled by owner")
	end, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchCancelled, end.State)
	require.True(t, end.FinishedAt.Equal(f.now))
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a1.dc1.example.com").State)
}

func testJobLifecycle(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com")
	start := f.now
	j := f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	require.Equal(t, 1, j.Attempts)
	require.True(t, j.StartedAt.Equal(f.now))
	started := f.now
	require.Equal(t, lifecycle.HostInProgress, f.hostState(t, "a1.dc1.example.com").State)
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchRunning, got.State)

	// A retry gives the job back and starts it again.
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobPending, "BMC timeout")
	require.Equal(t, lifecycle.HostClaimed, f.hostState(t, "a1.dc1.example.com").State)
	j = f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	require.Equal(t, 2, j.Attempts)
	require.True(t, j.StartedAt.Equal(started), "StartedAt is the first start")
	j = f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	require.True(t, j.FinishedAt.Equal(f.now))
	require.Equal(t, lifecycle.JobSucceeded, j.State)
	h := f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, lifecycle.HostReady, h.State)
	require.Empty(t, h.BatchID)

	f.move(t, b, "a2.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	j = f.move(t, b, "a2.dc1.example.com", lifecycle.JobRunning, lifecycle.JobFailed, "installer never called back")
	require.Equal(t, "installer never called back", j.Error)
	got, err = f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchPartiallyFailed, got.State)
	require.Equal(t, lifecycle.JobCounts{Succeeded: 1, Failed: 1}, got.Counts)
	require.True(t, got.FinishedAt.Equal(f.now))
	require.True(t, got.UpdatedAt.Equal(f.now))
	require.True(t, got.CreatedAt.Equal(start))

	// All failed → failed; all succeeded → succeeded.
	c := f.submit(t, "bob", lifecycle.ActionReboot, "b1.dc2.example.com")
	f.move(t, c, "b1.dc2.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, c, "b1.dc2.example.com", lifecycle.JobRunning, lifecycle.JobFailed, "x")
	got, err = f.st.Batch(f.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchFailed, got.State)
	d := f.submit(t, "bob", lifecycle.ActionReboot, "b2.dc2.example.com")
	f.move(t, d, "b2.dc2.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, d, "b2.dc2.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	got, err = f.st.Batch(f.ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchSucceeded, got.State)
}

func testJobTransitions(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com")
	bad := []struct{ from, to lifecycle.JobState }{
		{lifecycle.JobRunning, lifecycle.JobSucceeded}, // not running
		{lifecycle.JobPending, lifecycle.JobSucceeded}, // no such edge
		{lifecycle.JobPending, lifecycle.JobFailed},
		{lifecycle.JobPending, lifecycle.JobPending},
	}
	for _, tc := range bad {
		_, err := f.st.UpdateJob(f.ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a1.dc1.example.com", From: tc.from, To: tc.to, At: f.tick()})
		require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "%s → %s", tc.from, tc.to)
	}
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.JobPending, got.Jobs[0].State, "refused updates change nothing")
	require.Zero(t, got.Jobs[0].Attempts)
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	_, err = f.st.UpdateJob(f.ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a1.dc1.example.com",
		From: lifecycle.JobSucceeded, To: lifecycle.JobRunning, At: f.tick()})
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "an ended job stays ended")
}

func testDecommission(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionDecommission, "a1.dc1.example.com")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	require.Equal(t, lifecycle.HostDecommissioned, f.hostState(t, "a1.dc1.example.com").State)
	f.tick()
	_, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReimage, Hosts: []string{"a1.dc1.example.com"}})
	require.ErrorIs(t, err, lifecycle.ErrHostUnavailable)
	_, err = f.svc.SetHostState(f.ctx, lifecycle.HostTransition{Host: "a1.dc1.example.com", To: lifecycle.HostReady})
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "decommissioned is for good")
}

func testHostStates(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	set := func(host string, to lifecycle.HostState, reason string) (lifecycle.Host, error) {
		f.tick()
		return f.svc.SetHostState(f.ctx, lifecycle.HostTransition{Host: host, To: to, Reason: reason})
	}
	_, err := set("a1.dc1.example.com", lifecycle.HostMaintenance, "")
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "maintenance needs a reason")
	h, err := set("A1.dc1.example.com", lifecycle.HostMaintenance, "disk replacement")
	require.NoError(t, err)
	require.Equal(t, lifecycle.Host{Name: "a1.dc1.example.com", State: lifecycle.HostMaintenance, Reason: "disk replacement", UpdatedAt: f.now}, h)
	stored := f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, "disk replacement", stored.Reason)
	require.True(t, stored.UpdatedAt.Equal(f.now))
	changedAt := f.now
	h, err = set("a1.dc1.example.com", lifecycle.HostMaintenance, "disk replacement")
	require.NoError(t, err)
	require.True(t, h.UpdatedAt.Equal(changedAt), "the same state again changes nothing")
	h, err = set("a1.dc1.example.com", lifecycle.HostMaintenance, "disk and fan replacement")
	require.NoError(t, err)
	require.Equal(t, "disk and fan replacement", h.Reason, "maintenance takes a new reason")
	require.True(t, h.UpdatedAt.Equal(f.now))
	h, err = set("a1.dc1.example.com", lifecycle.HostReady, "ignored")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostReady, h.State)
	require.Empty(t, h.Reason, "only maintenance and decommissioned keep a reason")
	readyAt := f.now
	h, err = set("a1.dc1.example.com", lifecycle.HostReady, "")
	require.NoError(t, err)
	require.True(t, h.UpdatedAt.Equal(readyAt))
	stored = f.hostState(t, "a1.dc1.example.com")
	require.Equal(t, lifecycle.Host{Name: "a1.dc1.example.com", State: lifecycle.HostReady, UpdatedAt: readyAt}, stored)

	b := f.submit(t, "alice", lifecycle.ActionReboot, "a2.dc1.example.com")
	_, err = set("a2.dc1.example.com", lifecycle.HostMaintenance, "x")
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "a claimed host belongs to its batch")
	require.Contains(t, err.Error(), b.ID)
	_, err = set("a3.dc1.example.com", lifecycle.HostClaimed, "")
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition, "operators cannot claim")
	_, err = set("a3.dc1.example.com", lifecycle.HostState("broken"), "")
	require.ErrorIs(t, err, lifecycle.ErrInvalidTransition)
	require.Equal(t, lifecycle.HostClaimed, f.hostState(t, "a2.dc1.example.com").State)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a3.dc1.example.com").State)
}

func testListBatches(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	t0 := f.now
	a := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com")
	mid := f.now
	b := f.submit(t, "bob", lifecycle.ActionReboot, "b1.dc2.example.com")
	c := f.submit(t, "alice", lifecycle.ActionPowerOff, "a3.dc1.example.com")
	_, _, err := f.st.CancelBatch(f.ctx, a.ID, f.tick())
	require.NoError(t, err)
	d := f.submit(t, "carol", lifecycle.ActionReimage, "a1.dc1.example.com")

	ids := func(flt lifecycle.BatchFilter) []string {
		t.Helper()
		p, err := f.svc.ListBatches(f.ctx, flt)
		require.NoError(t, err)
		require.Empty(t, p.Next)
		var out []string
		for _, x := range p.Batches {
			require.Nil(t, x.Jobs, "listings carry no jobs")
			require.NotEmpty(t, x.Hosts)
			out = append(out, x.ID)
		}
		return out
	}
	require.Equal(t, []string{d.ID, c.ID, b.ID, a.ID}, ids(lifecycle.BatchFilter{}), "newest first")
	require.Equal(t, []string{c.ID, a.ID}, ids(lifecycle.BatchFilter{Owner: "alice"}))
	require.Equal(t, []string{d.ID, a.ID}, ids(lifecycle.BatchFilter{Host: "A1.dc1.example.com"}), "host history")
	require.Equal(t, []string{d.ID, a.ID}, ids(lifecycle.BatchFilter{Action: lifecycle.ActionReimage}))
	require.Equal(t, []string{a.ID}, ids(lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchCancelled}}))
	require.Equal(t, []string{d.ID, c.ID, b.ID}, ids(lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchPending, lifecycle.BatchRunning}}))
	require.Equal(t, []string{d.ID, c.ID, b.ID}, ids(lifecycle.BatchFilter{CreatedAfter: mid}))
	require.Equal(t, []string{a.ID}, ids(lifecycle.BatchFilter{CreatedAfter: t0, CreatedBefore: b.CreatedAt}))
	require.Empty(t, ids(lifecycle.BatchFilter{Owner: "nobody"}))
	require.Equal(t, []string{c.ID}, ids(lifecycle.BatchFilter{Owner: "alice", Action: lifecycle.ActionPowerOff, Host: "a3.dc1.example.com"}))

	p, err := f.st.ListBatches(f.ctx, lifecycle.BatchFilter{Owner: "alice"})
	require.NoError(t, err)
	require.Equal(t, a.Hosts, p.Batches[1].Hosts)
	require.Equal(t, lifecycle.BatchCancelled, p.Batches[1].State)
	require.Equal(t, lifecycle.JobCounts{Cancelled: 2}, p.Batches[1].Counts)

	_, err = f.svc.ListBatches(f.ctx, lifecycle.BatchFilter{Cursor: "garbage"})
	require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
	_, err = f.st.ListBatches(f.ctx, lifecycle.BatchFilter{Cursor: "garbage"})
	require.ErrorIs(t, err, lifecycle.ErrInvalidBatch, "stores check cursors too")
}

func testListBatchesPaging(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	var want []string
	for i := range 25 {
		owner := "alice"
		if i%3 == 0 {
			owner = "bob"
		}
		b := f.submit(t, owner, lifecycle.ActionReboot, fmt.Sprintf("h%02d.example.com", i), "shared.example.com")
		_, _, err := f.st.CancelBatch(f.ctx, b.ID, f.tick()) // release shared.example.com
		require.NoError(t, err)
		if owner == "alice" {
			want = append(want, b.ID)
		}
	}
	slices.Reverse(want)
	for _, limit := range []int{1, 4, 16, 17, 100} {
		var got []string
		flt := lifecycle.BatchFilter{Owner: "alice", Limit: limit}
		pages := 0
		for {
			p, err := f.svc.ListBatches(f.ctx, flt)
			require.NoError(t, err)
			require.LessOrEqual(t, len(p.Batches), limit)
			for _, b := range p.Batches {
				got = append(got, b.ID)
			}
			pages++
			if p.Next == "" {
				break
			}
			flt.Cursor = p.Next
		}
		require.Equal(t, want, got, "limit %d", limit)
		require.Equal(t, (len(want)+limit-1)/limit, pages, "limit %d: no empty trailing page", limit)
	}
	// History of a host across many batches, paged.
	var got []string
	flt := lifecycle.BatchFilter{Host: "shared.example.com", Limit: 10}
	for {
		p, err := f.svc.ListBatches(f.ctx, flt)
		require.NoError(t, err)
		for _, b := range p.Batches {
			got = append(got, b.ID)
		}
		if p.Next == "" {
			break
		}
		flt.Cursor = p.Next
	}
	require.Len(t, got, 25)
	require.True(t, slices.IsSortedFunc(got, func(x, y string) int { return -cmpString(x, y) }))
}

func cmpString(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

func testListJobs(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	a := f.submit(t, "alice", lifecycle.ActionReimage, "a2.dc1.example.com", "a1.dc1.example.com", "a3.dc1.example.com")
	b := f.submit(t, "bob", lifecycle.ActionReboot, "b1.dc2.example.com")
	f.move(t, a, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, a, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	cut := f.now
	f.move(t, b, "b1.dc2.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, b, "b1.dc2.example.com", lifecycle.JobRunning, lifecycle.JobFailed, "boom")

	list := func(flt lifecycle.JobFilter) []string {
		t.Helper()
		var out []string
		for {
			p, err := f.st.ListJobs(f.ctx, flt)
			require.NoError(t, err)
			for _, j := range p.Jobs {
				out = append(out, j.BatchID[:4]+":"+j.Host)
			}
			if p.Next == "" {
				return out
			}
			flt.Cursor = p.Next
		}
	}
	pa, pb := a.ID[:4], b.ID[:4]
	all := []string{pa + ":a1.dc1.example.com", pa + ":a2.dc1.example.com", pa + ":a3.dc1.example.com", pb + ":b1.dc2.example.com"}
	require.Equal(t, all, list(lifecycle.JobFilter{}), "ordered by batch, then host")
	require.Equal(t, all, list(lifecycle.JobFilter{Limit: 1}))
	require.Equal(t, all, list(lifecycle.JobFilter{Limit: 3}))
	require.Equal(t, all[:3], list(lifecycle.JobFilter{BatchID: a.ID}))
	require.Equal(t, all[3:], list(lifecycle.JobFilter{Host: "b1.dc2.example.com"}))
	require.Equal(t, all[3:], list(lifecycle.JobFilter{Action: lifecycle.ActionReboot}))
	require.Equal(t, []string{all[0], all[3]}, list(lifecycle.JobFilter{States: []lifecycle.JobState{lifecycle.JobSucceeded, lifecycle.JobFailed}}))
	require.Equal(t, all[3:], list(lifecycle.JobFilter{FinishedAfter: cut}))
	require.Empty(t, list(lifecycle.JobFilter{BatchID: lifecycle.NewID(f.now)}))
	_, err := f.st.ListJobs(f.ctx, lifecycle.JobFilter{Cursor: "nope"})
	require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
}

func testActiveCounts(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	a := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com", "b1.dc2.example.com")
	f.submit(t, "bob", lifecycle.ActionReboot, "a3.dc1.example.com", "elsewhere.example.com")
	done := f.submit(t, "carol", lifecycle.ActionReboot, "b2.dc2.example.com")
	f.move(t, a, "a1.dc1.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, a, "b1.dc2.example.com", lifecycle.JobPending, lifecycle.JobRunning, "")
	f.move(t, a, "b1.dc2.example.com", lifecycle.JobRunning, lifecycle.JobSucceeded, "")
	f.move(t, done, "b2.dc2.example.com", lifecycle.JobPending, lifecycle.JobCancelled, "")

	rows, err := f.st.ActiveCounts(f.ctx)
	require.NoError(t, err)
	got := map[string]lifecycle.ActiveCount{}
	for _, r := range rows {
		got[r.Datacenter+"/"+string(r.Action)] = r
	}
	require.Equal(t, map[string]lifecycle.ActiveCount{
		"/reboot":     {Datacenter: "", Action: lifecycle.ActionReboot, Pending: 1},
		"dc1/reboot":  {Datacenter: "dc1", Action: lifecycle.ActionReboot, Pending: 1},
		"dc1/reimage": {Datacenter: "dc1", Action: lifecycle.ActionReimage, Pending: 1, Running: 1},
	}, got)

	loads, err := f.svc.ActiveByDatacenter(f.ctx)
	require.NoError(t, err)
	require.Len(t, loads, 2)
	require.Equal(t, "dc1", loads[1].Datacenter)
	require.Equal(t, 2, loads[1].Pending)
	require.Equal(t, 1, loads[1].Running)
	require.Equal(t, map[lifecycle.Action]int{lifecycle.ActionReimage: 2, lifecycle.ActionReboot: 1}, loads[1].ByAction)
}

func testStats(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	run := func(a lifecycle.Action, host string, d time.Duration, end lifecycle.JobState) {
		t.Helper()
		b := f.submit(t, "alice", a, host)
		f.move(t, b, host, lifecycle.JobPending, lifecycle.JobRunning, "")
		f.now = f.now.Add(d)
		f.move(t, b, host, lifecycle.JobRunning, end, "")
	}
	run(lifecycle.ActionReimage, "a1.dc1.example.com", 10*time.Minute, lifecycle.JobSucceeded)
	run(lifecycle.ActionReimage, "a2.dc1.example.com", 20*time.Minute, lifecycle.JobSucceeded)
	run(lifecycle.ActionReimage, "a3.dc1.example.com", 30*time.Minute, lifecycle.JobFailed)
	run(lifecycle.ActionReimage, "b1.dc2.example.com", 40*time.Minute, lifecycle.JobSucceeded)
	run(lifecycle.ActionReboot, "b2.dc2.example.com", 2*time.Minute, lifecycle.JobSucceeded)
	c := f.submit(t, "bob", lifecycle.ActionReboot, "a1.dc1.example.com")
	_, err := f.svc.Cancel(f.ctx, c.ID)
	require.NoError(t, err)

	rows, err := f.svc.Stats(f.ctx, lifecycle.StatsParams{})
	require.NoError(t, err)
	tick := 1500 * time.Microsecond // each move advances the clock once
	require.Equal(t, []lifecycle.ActionStats{
		{Action: lifecycle.ActionReboot, AllSKUs: true, Jobs: 2, Succeeded: 1, Cancelled: 1, SuccessRate: 1, P50: 2*time.Minute + tick, P95: 2*time.Minute + tick},
		{Action: lifecycle.ActionReboot, SKU: "r640", Jobs: 1, Cancelled: 1},
		{Action: lifecycle.ActionReboot, SKU: "r740", Jobs: 1, Succeeded: 1, SuccessRate: 1, P50: 2*time.Minute + tick, P95: 2*time.Minute + tick},
		{Action: lifecycle.ActionReimage, AllSKUs: true, Jobs: 4, Succeeded: 3, Failed: 1, SuccessRate: 0.75, P50: 20*time.Minute + tick, P95: 40*time.Minute + tick},
		{Action: lifecycle.ActionReimage, SKU: "r640", Jobs: 2, Succeeded: 2, SuccessRate: 1, P50: 10*time.Minute + tick, P95: 20*time.Minute + tick},
		{Action: lifecycle.ActionReimage, SKU: "r740", Jobs: 2, Succeeded: 1, Failed: 1, SuccessRate: 0.5, P50: 30*time.Minute + tick, P95: 40*time.Minute + tick},
	}, rows)

	only, err := f.svc.Stats(f.ctx, lifecycle.StatsParams{Action: lifecycle.ActionReboot})
	require.NoError(t, err)
	require.Len(t, only, 3)
	none, err := f.svc.Stats(f.ctx, lifecycle.StatsParams{Since: f.now.Add(time.Hour)})
	require.NoError(t, err)
	require.Empty(t, none)
}
