package lifecycletest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// queueTests are the QueueStore tests, run by Run.
var queueTests = []struct {
	name string
	fn   func(*testing.T, NewStore)
}{
	{"QueueOrder", testQueueOrder},
	{"QueueAgeing", testQueueAgeing},
	{"ClaimMovesJob", testClaimMovesJob},
	{"ClaimLimits", testClaimLimits},
	{"ClaimInvalid", testClaimInvalid},
	{"Heartbeat", testHeartbeat},
	{"Steps", testSteps},
	{"FinishJobs", testFinishJobs},
	{"RetryKeepsPlace", testRetryKeepsPlace},
	{"RetryOfCancelledBatch", testRetryOfCancelledBatch},
	{"Rescue", testRescue},
	{"ConcurrentClaims", testConcurrentClaims},
}

func queueOf(t *testing.T, st lifecycle.Store) lifecycle.QueueStore {
	t.Helper()
	return st
}

// claim claims up to max jobs for worker with a lease of a minute.
func (f *fixture) claim(t *testing.T, worker string, max int, l lifecycle.Limits) []lifecycle.Claim {
	t.Helper()
	at := f.tick()
	cs, err := queueOf(t, f.st).ClaimJobs(f.ctx, lifecycle.ClaimRequest{Worker: worker, Max: max, At: at,
		LeaseUntil: at.Add(time.Minute), Limits: l})
	require.NoError(t, err)
	return cs
}

func claimedHosts(cs []lifecycle.Claim) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Job.Host
	}
	return out
}

func (f *fixture) finish(t *testing.T, rs ...lifecycle.JobResult) []lifecycle.Finished {
	t.Helper()
	for i := range rs {
		if rs[i].At.IsZero() {
			rs[i].At = f.tick()
		}
	}
	out, err := queueOf(t, f.st).FinishJobs(f.ctx, rs)
	require.NoError(t, err)
	require.Len(t, out, len(rs))
	return out
}

func (f *fixture) submitPrio(t *testing.T, a lifecycle.Action, prio int, hosts ...string) *lifecycle.Batch {
	t.Helper()
	f.tick()
	res, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "q", Action: a, Hosts: hosts, Priority: &prio})
	require.NoError(t, err)
	return res.Batch
}

// testQueueOrder: highest priority first, first come first served within a
// priority, host submission order within a batch; QueueAt round-trips.
func testQueueOrder(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	low := f.submitPrio(t, lifecycle.ActionPowerOff, 10, "b1.dc2.example.com")
	high1 := f.submitPrio(t, lifecycle.ActionReimage, 100, "a2.dc1.example.com", "a1.dc1.example.com")
	high2 := f.submitPrio(t, lifecycle.ActionReimage, 100, "a3.dc1.example.com")
	mid := f.submitPrio(t, lifecycle.ActionReboot, 60, "b2.dc2.example.com")
	got, err := f.st.Batch(f.ctx, high1.ID)
	require.NoError(t, err)
	require.True(t, got.QueueAt.Equal(high1.QueueAt), "QueueAt round-trips: %s vs %s", got.QueueAt, high1.QueueAt)
	require.True(t, high1.QueueAt.Before(low.QueueAt))

	var order []string
	for {
		cs := f.claim(t, "w1", 1, lifecycle.Limits{})
		if len(cs) == 0 {
			break
		}
		order = append(order, cs[0].Job.Host)
	}
	require.Equal(t, []string{"a2.dc1.example.com", "a1.dc1.example.com", "a3.dc1.example.com",
		"b2.dc2.example.com", "b1.dc2.example.com"}, order)
	require.Less(t, high2.QueueAt, mid.QueueAt)

	// Claiming several at once keeps the same order.
	g := setup(t, newStore)
	g.submitPrio(t, lifecycle.ActionPowerOff, 10, "b1.dc2.example.com")
	g.submitPrio(t, lifecycle.ActionReimage, 100, "a2.dc1.example.com", "a1.dc1.example.com")
	cs := g.claim(t, "w1", 2, lifecycle.Limits{})
	require.Equal(t, []string{"a2.dc1.example.com", "a1.dc1.example.com"}, claimedHosts(cs))
}

// testQueueAgeing: a low priority that waited longer than its priority gap
// times Ageing runs before a newer high priority.
func testQueueAgeing(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	old := f.submitPrio(t, lifecycle.ActionPowerOff, 10, "b1.dc2.example.com")
	f.now = f.now.Add(91 * 10 * time.Second) // 90 points at the default 10s, and then some
	f.submitPrio(t, lifecycle.ActionReimage, 100, "a1.dc1.example.com")
	cs := f.claim(t, "w1", 1, lifecycle.Limits{})
	require.Equal(t, []string{"b1.dc2.example.com"}, claimedHosts(cs), "the old low priority batch %s aged past the new one", old.ID)
}

func testClaimMovesJob(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com", "a2.dc1.example.com")
	f.tick()
	res, err := f.svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReimage,
		Hosts: []string{"b1.dc2.example.com"}, Snapshot: "rhel9-1", Params: map[string]string{"k": "v"}})
	require.NoError(t, err)
	cs := f.claim(t, "w1", 10, lifecycle.Limits{})
	require.Len(t, cs, 3)
	tokens := map[int64]bool{}
	for _, c := range cs {
		require.Equal(t, lifecycle.JobRunning, c.Job.State)
		require.Equal(t, 1, c.Job.Attempts)
		require.True(t, c.Job.StartedAt.Equal(f.now))
		require.Equal(t, c.Job.BatchID, c.Lease.BatchID)
		require.Equal(t, c.Job.Host, c.Lease.Host)
		require.False(t, tokens[c.Lease.Token], "tokens are distinct")
		tokens[c.Lease.Token] = true
		require.Equal(t, lifecycle.HostInProgress, f.hostState(t, c.Job.Host).State)
	}
	require.Equal(t, "rhel9-1", cs[2].Snapshot)
	require.Equal(t, map[string]string{"k": "v"}, cs[2].Params)
	require.Equal(t, "dc2", cs[2].Job.Datacenter)
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchRunning, got.State)
	require.Equal(t, lifecycle.JobCounts{Running: 2}, got.Counts)
	require.Empty(t, f.claim(t, "w2", 10, lifecycle.Limits{}), "nothing left to claim")
	require.Equal(t, res.Batch.ID, cs[2].Job.BatchID)
}

// testClaimLimits: caps hold over every worker, and a capped datacenter or
// action does not block the jobs behind it.
func testClaimLimits(t *testing.T, newStore NewStore) {
	t.Run("Global", func(t *testing.T) {
		f := setup(t, newStore)
		f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com", "b1.dc2.example.com")
		l := lifecycle.Limits{Global: 2}
		require.Len(t, f.claim(t, "w1", 1, l), 1)
		require.Len(t, f.claim(t, "w2", 5, l), 1, "the cap counts the other worker's job")
		require.Empty(t, f.claim(t, "w3", 5, l))
	})
	t.Run("PerDatacenter", func(t *testing.T) {
		f := setup(t, newStore)
		f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com", "b1.dc2.example.com")
		cs := f.claim(t, "w1", 5, lifecycle.Limits{PerDatacenter: 1})
		require.ElementsMatch(t, []string{"a1.dc1.example.com", "b1.dc2.example.com"}, claimedHosts(cs),
			"dc1's cap does not hold back dc2")
		require.Empty(t, f.claim(t, "w2", 5, lifecycle.Limits{PerDatacenter: 1}))
		require.Len(t, f.claim(t, "w2", 5, lifecycle.Limits{PerDatacenter: 2}), 1)
	})
	t.Run("PerAction", func(t *testing.T) {
		f := setup(t, newStore)
		f.submitPrio(t, lifecycle.ActionReimage, 100, "a1.dc1.example.com", "a2.dc1.example.com")
		f.submitPrio(t, lifecycle.ActionReboot, 50, "b1.dc2.example.com")
		cs := f.claim(t, "w1", 5, lifecycle.Limits{PerAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 1}})
		require.Equal(t, []string{"a1.dc1.example.com", "b1.dc2.example.com"}, claimedHosts(cs))
	})
	t.Run("PerDatacenterAction", func(t *testing.T) {
		f := setup(t, newStore)
		f.submitPrio(t, lifecycle.ActionReimage, 100, "a1.dc1.example.com", "a2.dc1.example.com", "b1.dc2.example.com", "b2.dc2.example.com")
		f.submitPrio(t, lifecycle.ActionReboot, 50, "a3.dc1.example.com")
		l := lifecycle.Limits{PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 1}}
		cs := f.claim(t, "w1", 10, l)
		require.Equal(t, []string{"a1.dc1.example.com", "b1.dc2.example.com", "a3.dc1.example.com"}, claimedHosts(cs))
		// Ending a reimage in dc1 frees one slot there.
		f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobSucceeded})
		cs = f.claim(t, "w2", 10, l)
		require.Equal(t, []string{"a2.dc1.example.com"}, claimedHosts(cs))
	})
}

func testClaimInvalid(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com")
	q := queueOf(t, f.st)
	for _, r := range []lifecycle.ClaimRequest{
		{Worker: "", Max: 1, At: f.now, LeaseUntil: f.now.Add(time.Minute)},
		{Worker: "w", Max: 0, At: f.now, LeaseUntil: f.now.Add(time.Minute)},
	} {
		_, err := q.ClaimJobs(f.ctx, r)
		require.ErrorIs(t, err, store.ErrInvalid, "%+v", r)
	}
	got, err := f.st.ListJobs(f.ctx, lifecycle.JobFilter{States: []lifecycle.JobState{lifecycle.JobPending}})
	require.NoError(t, err)
	require.Len(t, got.Jobs, 1, "refused claims change nothing")
}

func testHeartbeat(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")
	cs := f.claim(t, "w1", 2, lifecycle.Limits{})
	require.Len(t, cs, 2)
	q := queueOf(t, f.st)
	stale := cs[1].Lease
	stale.Token-- // never issued for this job, or an older one
	states, err := q.Heartbeat(f.ctx, lifecycle.HeartbeatRequest{
		Leases: []lifecycle.JobLease{cs[0].Lease, stale, {BatchID: "nope", Host: "x", Token: 1}},
		Until:  f.tick().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []lifecycle.LeaseState{lifecycle.LeaseHeld, lifecycle.LeaseLost, lifecycle.LeaseLost}, states)

	_, cancelled, err := f.st.CancelBatch(f.ctx, b.ID, f.tick())
	require.NoError(t, err)
	require.True(t, cancelled)
	states, err = q.Heartbeat(f.ctx, lifecycle.HeartbeatRequest{Leases: []lifecycle.JobLease{cs[0].Lease, cs[1].Lease},
		Until: f.tick().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []lifecycle.LeaseState{lifecycle.LeaseCancelRequested, lifecycle.LeaseCancelRequested}, states)

	// A finished job's lease is gone.
	fin := f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobCancelled, Error: "cancelled"})
	require.Equal(t, []lifecycle.Finished{{State: lifecycle.JobCancelled}}, fin, "the batch has a running job left")
	states, err = q.Heartbeat(f.ctx, lifecycle.HeartbeatRequest{Leases: []lifecycle.JobLease{cs[0].Lease}, Until: f.tick()})
	require.NoError(t, err)
	require.Equal(t, []lifecycle.LeaseState{lifecycle.LeaseLost}, states)
	require.Equal(t, "cancel-requested", lifecycle.LeaseCancelRequested.String())
}

func testSteps(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReimage, "a1.dc1.example.com")
	cs := f.claim(t, "w1", 1, lifecycle.Limits{})
	require.Len(t, cs, 1)
	q := queueOf(t, f.st)
	t0 := f.tick()
	steps := []lifecycle.Step{
		{Name: "set-pxe-boot", Attempt: 1, StartedAt: t0, FinishedAt: f.tick(), Outcome: lifecycle.StepSucceeded},
		{Name: "power-cycle", Attempt: 1, StartedAt: f.now, FinishedAt: f.tick(), Outcome: lifecycle.StepFailed, Error: "BMC said 503"},
	}
	for _, s := range steps {
		require.NoError(t, q.RecordStep(f.ctx, cs[0].Lease, s))
	}
	stale := cs[0].Lease
	stale.Token++
	err := q.RecordStep(f.ctx, stale, lifecycle.Step{Name: "late", Attempt: 1, StartedAt: f.now, FinishedAt: f.now, Outcome: lifecycle.StepSucceeded})
	require.ErrorIs(t, err, lifecycle.ErrLeaseLost)
	got, err := q.JobSteps(f.ctx, b.ID, "a1.dc1.example.com")
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i := range steps {
		require.Equal(t, steps[i].Name, got[i].Name)
		require.Equal(t, steps[i].Attempt, got[i].Attempt)
		require.Equal(t, steps[i].Outcome, got[i].Outcome)
		require.Equal(t, steps[i].Error, got[i].Error)
		require.True(t, steps[i].StartedAt.Equal(got[i].StartedAt))
		require.True(t, steps[i].FinishedAt.Equal(got[i].FinishedAt))
	}
	_, err = q.JobSteps(f.ctx, b.ID, "zz.example.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = q.JobSteps(f.ctx, "nope", "a1.dc1.example.com")
	require.ErrorIs(t, err, store.ErrNotFound)
	none, err := q.JobSteps(f.ctx, b.ID, "a1.dc1.example.com")
	require.NoError(t, err)
	require.Len(t, none, 2)
}

func testFinishJobs(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com")
	cs := f.claim(t, "w1", 3, lifecycle.Limits{})
	require.Len(t, cs, 3)
	stale := cs[2].Lease
	stale.Token += 1000
	errs := f.finish(t,
		lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobSucceeded},
		lifecycle.JobResult{Lease: cs[1].Lease, To: lifecycle.JobFailed, Error: "disk on fire"},
		lifecycle.JobResult{Lease: stale, To: lifecycle.JobSucceeded},
	)
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobSucceeded}, errs[0])
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobFailed}, errs[1])
	require.ErrorIs(t, errs[2].Err, lifecycle.ErrLeaseLost)
	require.False(t, errs[2].BatchEnded)
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.JobCounts{Succeeded: 1, Failed: 1, Running: 1}, got.Counts)
	require.Equal(t, "disk on fire", got.Jobs[1].Error)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a1.dc1.example.com").State)
	require.Equal(t, lifecycle.HostFailed, f.hostState(t, "a2.dc1.example.com").State)
	require.Equal(t, lifecycle.HostInProgress, f.hostState(t, "a3.dc1.example.com").State, "the refused result changed nothing")

	// A second result on the same lease is refused: the job is over.
	errs = f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobFailed})
	require.ErrorIs(t, errs[0].Err, lifecycle.ErrLeaseLost)
	// A result that is no job state edge is refused.
	errs = f.finish(t, lifecycle.JobResult{Lease: cs[2].Lease, To: lifecycle.JobRunning})
	require.ErrorIs(t, errs[0].Err, lifecycle.ErrInvalidTransition)
	errs = f.finish(t, lifecycle.JobResult{Lease: cs[2].Lease, To: lifecycle.JobSucceeded})
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobSucceeded, BatchEnded: true, BatchState: lifecycle.BatchPartiallyFailed}, errs[0],
		"the last job's result ends the batch")
	got, err = f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchPartiallyFailed, got.State)
	require.True(t, got.FinishedAt.Equal(f.now))
}

// testRetryKeepsPlace: a job given back waits until RetryAt, then runs
// before jobs queued after it.
func testRetryKeepsPlace(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com")
	cs := f.claim(t, "w1", 1, lifecycle.Limits{})
	require.Len(t, cs, 1)
	retryAt := f.now.Add(time.Minute)
	errs := f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobPending, Error: "BMC timeout", RetryAt: retryAt})
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobPending}, errs[0])
	j, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.JobPending, j.Jobs[0].State)
	require.Equal(t, "BMC timeout", j.Jobs[0].Error)
	require.Equal(t, lifecycle.HostClaimed, f.hostState(t, "a1.dc1.example.com").State)
	f.submit(t, "a", lifecycle.ActionReboot, "a2.dc1.example.com") // same priority, queued later
	cs = f.claim(t, "w1", 1, lifecycle.Limits{})
	require.Equal(t, []string{"a2.dc1.example.com"}, claimedHosts(cs), "the retry waits for RetryAt")
	f.now = retryAt
	f.submit(t, "a", lifecycle.ActionReboot, "a3.dc1.example.com")
	cs = f.claim(t, "w1", 2, lifecycle.Limits{})
	require.Equal(t, []string{"a1.dc1.example.com", "a3.dc1.example.com"}, claimedHosts(cs), "the retry keeps its place")
	require.Equal(t, 2, cs[0].Job.Attempts)
}

// testRetryOfCancelledBatch: a running job of a cancelled batch that its
// worker gives back ends cancelled, and the batch ends.
func testRetryOfCancelledBatch(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com")
	cs := f.claim(t, "w1", 1, lifecycle.Limits{})
	_, _, err := f.st.CancelBatch(f.ctx, b.ID, f.tick())
	require.NoError(t, err)
	errs := f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobPending, Error: "BMC timeout", RetryAt: f.now})
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobCancelled, BatchEnded: true, BatchState: lifecycle.BatchCancelled}, errs[0])
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.BatchCancelled, got.State)
	require.Equal(t, lifecycle.JobCancelled, got.Jobs[0].State)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a1.dc1.example.com").State)
	require.Empty(t, f.claim(t, "w1", 1, lifecycle.Limits{}))
}

func testRescue(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com")
	q := queueOf(t, f.st)
	at := f.tick()
	short, err := q.ClaimJobs(f.ctx, lifecycle.ClaimRequest{Worker: "dead", Max: 2, At: at, LeaseUntil: at.Add(time.Second)})
	require.NoError(t, err)
	require.Len(t, short, 2)
	long := f.claim(t, "alive", 1, lifecycle.Limits{})
	require.Len(t, long, 1)
	_, _, err = f.st.CancelBatch(f.ctx, b.ID, f.tick()) // marks all three
	require.NoError(t, err)

	rescued, err := q.RescueJobs(f.ctx, at.Add(2*time.Second), 0)
	require.NoError(t, err)
	require.Len(t, rescued, 2)
	for _, j := range rescued {
		require.Equal(t, lifecycle.JobCancelled, j.State, "a cancelled batch's rescued jobs end")
		require.Contains(t, j.Error, "dead")
	}
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a1.dc1.example.com").State)
	states, err := q.Heartbeat(f.ctx, lifecycle.HeartbeatRequest{Leases: []lifecycle.JobLease{short[0].Lease, long[0].Lease}, Until: at.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, []lifecycle.LeaseState{lifecycle.LeaseLost, lifecycle.LeaseCancelRequested}, states)

	// Not cancelled: back to the queue, the old lease refused, a new claim
	// gets a newer token.
	c := f.submit(t, "a", lifecycle.ActionReboot, "b1.dc2.example.com", "b2.dc2.example.com")
	at = f.tick()
	dead, err := q.ClaimJobs(f.ctx, lifecycle.ClaimRequest{Worker: "dead2", Max: 2, At: at, LeaseUntil: at.Add(time.Second)})
	require.NoError(t, err)
	require.Len(t, dead, 2)
	rescued, err = q.RescueJobs(f.ctx, at.Add(500*time.Millisecond), 0)
	require.NoError(t, err)
	require.Empty(t, rescued, "leases not yet expired")
	rescued, err = q.RescueJobs(f.ctx, at.Add(2*time.Second), 1)
	require.NoError(t, err)
	require.Len(t, rescued, 1, "at most max")
	rescued2, err := q.RescueJobs(f.ctx, at.Add(2*time.Second), 0)
	require.NoError(t, err)
	require.Len(t, rescued2, 1)
	require.Equal(t, lifecycle.JobPending, rescued[0].State)
	require.Equal(t, lifecycle.HostClaimed, f.hostState(t, rescued[0].Host).State)
	require.ErrorIs(t, q.RecordStep(f.ctx, dead[0].Lease, lifecycle.Step{Name: "x", StartedAt: at, FinishedAt: at, Outcome: lifecycle.StepSucceeded}), lifecycle.ErrLeaseLost)
	errs := f.finish(t, lifecycle.JobResult{Lease: dead[0].Lease, To: lifecycle.JobSucceeded})
	require.ErrorIs(t, errs[0].Err, lifecycle.ErrLeaseLost, "a late result after a rescue is refused")
	f.now = at.Add(3 * time.Second)
	again := f.claim(t, "w2", 5, lifecycle.Limits{})
	require.Len(t, again, 2)
	for _, a := range again {
		require.Equal(t, 2, a.Job.Attempts)
		for _, d := range dead {
			require.Greater(t, a.Lease.Token, d.Lease.Token, "fencing tokens grow")
		}
	}
	got, err := f.st.Batch(f.ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.JobCounts{Running: 2}, got.Counts)
}

// testConcurrentClaims: workers claiming and finishing at once never claim
// a job twice and never exceed the caps.
func testConcurrentClaims(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	const batches, hostsPer, workers = 20, 10, 8
	dir := lifecycle.StaticDirectory{}
	var all []string
	for i := range batches {
		for k := range hostsPer {
			h := fmt.Sprintf("h%02d-%02d.dc%d.example.com", i, k, k%2)
			dir[h] = lifecycle.HostInfo{Datacenter: fmt.Sprintf("dc%d", k%2)}
			all = append(all, h)
		}
	}
	svc, err := lifecycle.New(f.st, &lifecycle.Config{Directory: dir})
	require.NoError(t, err)
	for i := range batches {
		_, err := svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "c", Action: lifecycle.ActionReboot, Hosts: all[i*hostsPer : (i+1)*hostsPer]})
		require.NoError(t, err)
	}
	q := queueOf(t, f.st)
	limits := lifecycle.Limits{Global: 7, PerDatacenter: 4}
	var (
		mu       sync.Mutex
		running  = map[string]string{} // host → datacenter
		done     = map[string]bool{}
		maxTotal int
		maxDC    = map[string]int{}
		failures []string
	)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			worker := fmt.Sprintf("w%d", w)
			for {
				now := time.Now().UTC()
				cs, err := q.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: worker, Max: 3, At: now, LeaseUntil: now.Add(time.Minute), Limits: limits})
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					return
				}
				mu.Lock()
				for _, c := range cs {
					if _, dup := running[c.Job.Host]; dup || done[c.Job.Host] {
						failures = append(failures, "claimed twice: "+c.Job.Host)
					}
					running[c.Job.Host] = c.Job.Datacenter
				}
				total, byDC := len(running), map[string]int{}
				for _, dc := range running {
					byDC[dc]++
				}
				maxTotal = max(maxTotal, total)
				for dc, n := range byDC {
					maxDC[dc] = max(maxDC[dc], n)
				}
				finished := len(done)
				mu.Unlock()
				if len(cs) == 0 {
					if finished == len(all) {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				rs := make([]lifecycle.JobResult, len(cs))
				mu.Lock()
				for i, c := range cs {
					rs[i] = lifecycle.JobResult{Lease: c.Lease, To: lifecycle.JobSucceeded, At: time.Now().UTC()}
					// Forget the job before it ends in the store, so that a
					// claim racing the finish cannot be counted over the cap.
					delete(running, c.Job.Host)
					done[c.Job.Host] = true
				}
				mu.Unlock()
				fin, err := q.FinishJobs(ctx, rs)
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				}
				for _, e := range fin {
					if e.Err != nil {
						failures = append(failures, e.Err.Error())
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, failures)
	require.Len(t, done, len(all))
	require.LessOrEqual(t, maxTotal, limits.Global)
	for dc, n := range maxDC {
		require.LessOrEqual(t, n, limits.PerDatacenter, dc)
	}
	page, err := f.st.ListJobs(f.ctx, lifecycle.JobFilter{States: []lifecycle.JobState{lifecycle.JobSucceeded}, Limit: lifecycle.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, page.Jobs, len(all))
	require.True(t, slices.IsSortedFunc(page.Jobs, func(a, b lifecycle.Job) int { return cmpString(a.BatchID, b.BatchID) }))
}
