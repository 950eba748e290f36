package lifecycletest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
)

func init() {
	queueTests = append(queueTests, struct {
		name string
		fn   func(*testing.T, NewStore)
	}{"UpdateJobKeepsQueue", testUpdateJobKeepsQueue})
}

// testUpdateJobKeepsQueue: a claimed job moved by UpdateJob loses its
// lease (its worker can record nothing more), and a job put back to
// pending by UpdateJob can be claimed again at once, under a newer token.
func testUpdateJobKeepsQueue(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "a", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")
	q := queueOf(t, f.st)
	cs := f.claim(t, "w1", 2, lifecycle.Limits{})
	require.Len(t, cs, 2)

	f.move(t, b, "a1.dc1.example.com", lifecycle.JobRunning, lifecycle.JobPending, "given back")
	f.move(t, b, "a2.dc1.example.com", lifecycle.JobRunning, lifecycle.JobFailed, "ended by hand")
	states, err := q.Heartbeat(f.ctx, lifecycle.HeartbeatRequest{Leases: []lifecycle.JobLease{cs[0].Lease, cs[1].Lease},
		Until: f.tick().Add(time.Minute)})
	require.NoError(t, err)
	require.Equal(t, []lifecycle.LeaseState{lifecycle.LeaseLost, lifecycle.LeaseLost}, states)
	require.ErrorIs(t, q.RecordStep(f.ctx, cs[0].Lease, lifecycle.Step{Name: "late", Attempt: 1, StartedAt: f.now,
		FinishedAt: f.now, Outcome: lifecycle.StepSucceeded}), lifecycle.ErrLeaseLost)
	fin := f.finish(t, lifecycle.JobResult{Lease: cs[0].Lease, To: lifecycle.JobSucceeded},
		lifecycle.JobResult{Lease: cs[1].Lease, To: lifecycle.JobSucceeded})
	require.ErrorIs(t, fin[0].Err, lifecycle.ErrLeaseLost)
	require.ErrorIs(t, fin[1].Err, lifecycle.ErrLeaseLost)

	again := f.claim(t, "w2", 2, lifecycle.Limits{})
	require.Equal(t, []string{"a1.dc1.example.com"}, claimedHosts(again), "claimable at once")
	require.Equal(t, 2, again[0].Job.Attempts)
	require.Greater(t, again[0].Lease.Token, max(cs[0].Lease.Token, cs[1].Lease.Token))
	fin = f.finish(t, lifecycle.JobResult{Lease: again[0].Lease, To: lifecycle.JobSucceeded})
	require.Equal(t, lifecycle.Finished{State: lifecycle.JobSucceeded, BatchEnded: true, BatchState: lifecycle.BatchPartiallyFailed}, fin[0])
	got, err := f.st.Batch(f.ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, "given back", got.Jobs[0].Error, "the last error is kept")
}
