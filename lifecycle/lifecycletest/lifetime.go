package lifecycletest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// callEvery calls every Store method with ctx on batch b (and its host
// a1.dc1.example.com) and returns each method's error.
func callEvery(ctx context.Context, st lifecycle.Store, b *lifecycle.Batch) map[string]error {
	calls := map[string]error{}
	// A valid new batch on a free host: only ctx or Close can refuse it.
	id := lifecycle.NewID(b.CreatedAt.Add(1))
	fresh := &lifecycle.Batch{ID: id, Owner: b.Owner, Action: b.Action, Hosts: []string{"b1.dc2.example.com"},
		Priority: b.Priority, State: lifecycle.BatchPending, Counts: lifecycle.JobCounts{Pending: 1},
		CreatedAt: b.CreatedAt, UpdatedAt: b.CreatedAt,
		Jobs: []lifecycle.Job{{BatchID: id, Host: "b1.dc2.example.com", Action: b.Action, Priority: b.Priority,
			State: lifecycle.JobPending, CreatedAt: b.CreatedAt, UpdatedAt: b.CreatedAt}}}
	calls["CreateBatch"] = st.CreateBatch(ctx, fresh)
	_, calls["Batch"] = st.Batch(ctx, b.ID)
	_, calls["ListBatches"] = st.ListBatches(ctx, lifecycle.BatchFilter{})
	_, _, calls["CancelBatch"] = st.CancelBatch(ctx, b.ID, b.CreatedAt)
	_, calls["ListJobs"] = st.ListJobs(ctx, lifecycle.JobFilter{})
	_, calls["UpdateJob"] = st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: b.Hosts[0],
		From: lifecycle.JobPending, To: lifecycle.JobRunning, At: b.CreatedAt})
	_, calls["ActiveCounts"] = st.ActiveCounts(ctx)
	_, calls["Host"] = st.Host(ctx, b.Hosts[0])
	_, calls["SetHostState"] = st.SetHostState(ctx, lifecycle.HostTransition{Host: "b2.dc2.example.com",
		To: lifecycle.HostMaintenance, Reason: "x", At: b.CreatedAt})
	lease := lifecycle.JobLease{BatchID: b.ID, Host: b.Hosts[0], Token: 1}
	_, calls["ClaimJobs"] = st.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: "w", Max: 1, At: b.CreatedAt, LeaseUntil: b.CreatedAt.Add(time.Minute)})
	_, calls["Heartbeat"] = st.Heartbeat(ctx, lifecycle.HeartbeatRequest{Leases: []lifecycle.JobLease{lease}, Until: b.CreatedAt})
	calls["RecordStep"] = st.RecordStep(ctx, lease, lifecycle.Step{Name: "s", StartedAt: b.CreatedAt, FinishedAt: b.CreatedAt, Outcome: lifecycle.StepSucceeded})
	_, calls["FinishJobs"] = st.FinishJobs(ctx, []lifecycle.JobResult{{Lease: lease, To: lifecycle.JobSucceeded, At: b.CreatedAt}})
	_, calls["RescueJobs"] = st.RescueJobs(ctx, b.CreatedAt.Add(time.Hour), 0)
	_, calls["JobSteps"] = st.JobSteps(ctx, b.ID, b.Hosts[0])
	return calls
}

// testCancelledContext: a cancelled context fails every method with
// context.Canceled and changes nothing.
func testCancelledContext(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com")
	done, cancel := context.WithCancel(f.ctx)
	cancel()
	for name, err := range callEvery(done, f.st, b) {
		require.ErrorIs(t, err, context.Canceled, name)
	}
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err, "the store is still usable")
	require.Equal(t, lifecycle.BatchPending, got.State, "nothing changed")
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "b2.dc2.example.com").State)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "b1.dc2.example.com").State)
}

// testClosed: after Close (twice is fine), every method fails with an error
// wrapping store.ErrClosed. Stores without Close(ctx) skip it.
func testClosed(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	c, ok := f.st.(interface{ Close(context.Context) error })
	if !ok {
		t.Skipf("%T has no Close(context.Context) error", f.st)
	}
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com")
	require.NoError(t, c.Close(f.ctx))
	require.NoError(t, c.Close(f.ctx), "closing twice")
	for name, err := range callEvery(f.ctx, f.st, b) {
		require.ErrorIs(t, err, store.ErrClosed, name)
	}
}
