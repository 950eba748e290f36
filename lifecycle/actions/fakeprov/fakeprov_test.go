package fakeprov_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
	"github.com/fleetkit/fleetkit/store/storetest"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func deploy(host string) actions.Request {
	return actions.Request{Host: host, Operation: actions.OpDeploy, Snapshot: "snap-1"}
}

func TestLazyTimeWithFakeClock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := storetest.NewClock(t0)
	p := fakeprov.New(&fakeprov.Options{Now: clk.Now, MinDuration: 10 * time.Minute, MaxDuration: 10 * time.Minute})
	require.NoError(t, p.Prepare(ctx, deploy("web01")))
	st, err := p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateRunning, st.State, "no Booted hook: starts at Prepare")
	require.Equal(t, t0, st.UpdatedAt)

	clk.Advance(10*time.Minute - time.Nanosecond)
	st, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateRunning, st.State)
	_, ok := p.Installed("web01")
	require.False(t, ok)

	clk.Advance(time.Nanosecond)
	st, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateDone, st.State)
	require.Equal(t, t0.Add(10*time.Minute), st.UpdatedAt)
	snap, ok := p.Installed("web01")
	require.True(t, ok)
	require.Equal(t, "snap-1", snap)
	require.Equal(t, 1, p.Finished("web01"))

	// A wipe leaves nothing installed.
	require.NoError(t, p.Prepare(ctx, actions.Request{Host: "web01", Operation: actions.OpWipe}))
	clk.Advance(10 * time.Minute)
	st, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateDone, st.State)
	require.Equal(t, actions.OpWipe, st.Operation)
	_, ok = p.Installed("web01")
	require.False(t, ok)
	require.Equal(t, 2, p.Finished("web01"))
}

func TestBootedStartsOperation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := storetest.NewClock(t0)
	var boot time.Time
	p := fakeprov.New(&fakeprov.Options{Now: clk.Now, MinDuration: time.Minute,
		Booted: func(string) (time.Time, bool) { return boot, !boot.IsZero() }})
	// A boot before the Prepare does not start it.
	boot = t0.Add(-time.Second)
	require.NoError(t, p.Prepare(ctx, deploy("web01")))
	clk.Advance(time.Hour)
	st, err := p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StatePending, st.State)

	boot = clk.Now()
	clk.Advance(30 * time.Second)
	st, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateRunning, st.State)
	require.Equal(t, boot, st.UpdatedAt, "started at the boot")
	clk.Advance(30 * time.Second)
	st, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateDone, st.State)
}

// outcomes runs n deploys on a fake clock and returns their durations and
// states.
func outcomes(t *testing.T, o fakeprov.Options, n int) ([]time.Duration, []actions.Status) {
	ctx := t.Context()
	clk := storetest.NewClock(t0)
	o.Now = clk.Now
	p := fakeprov.New(&o)
	var durs []time.Duration
	var sts []actions.Status
	for range n {
		require.NoError(t, p.Prepare(ctx, deploy("web01")))
		start := clk.Now()
		for {
			st, err := p.Status(ctx, "web01")
			require.NoError(t, err)
			if st.State == actions.StateDone || st.State == actions.StateFailed {
				durs = append(durs, st.UpdatedAt.Sub(start))
				sts = append(sts, st)
				break
			}
			clk.Advance(time.Second)
		}
	}
	return durs, sts
}

func TestSeededLatencyAndFailures(t *testing.T) {
	t.Parallel()
	o := fakeprov.Options{MinDuration: 10 * time.Second, MaxDuration: 50 * time.Second,
		FailureRate: 0.2, PermanentFailureRate: 0.1, Seed: 99}
	d1, s1 := outcomes(t, o, 300)
	d2, s2 := outcomes(t, o, 300)
	require.Equal(t, d1, d2, "same seed, same durations")
	require.Equal(t, s1, s2, "same seed, same outcomes")

	distinct := make(map[time.Duration]bool)
	var failed, permanent int
	for i, d := range d1 {
		require.GreaterOrEqual(t, d, o.MinDuration)
		require.LessOrEqual(t, d, o.MaxDuration)
		distinct[d] = true
		switch {
		case s1[i].State == actions.StateFailed && s1[i].Permanent:
			permanent++
		case s1[i].State == actions.StateFailed:
			failed++
			require.NotEmpty(t, s1[i].Detail)
		}
	}
	require.Greater(t, len(distinct), 20, "durations are drawn, not fixed")
	// 300 draws: permanent ≈ 30, transient ≈ 0.9×0.2×300 = 54.
	require.InDelta(t, 30, permanent, 20)
	require.InDelta(t, 54, failed, 30)

	d3, _ := outcomes(t, fakeprov.Options{MinDuration: o.MinDuration, MaxDuration: o.MaxDuration, Seed: 100}, 300)
	require.NotEqual(t, d1, d3, "another seed, other durations")
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := fakeprov.New(nil)
	p.FailNext(1, false)
	p.FailNext(1, true)
	for _, want := range []struct {
		state     actions.State
		permanent bool
	}{{actions.StateFailed, false}, {actions.StateFailed, true}, {actions.StateDone, false}} {
		require.NoError(t, p.Prepare(ctx, deploy("web01")))
		st, err := p.Status(ctx, "web01")
		require.NoError(t, err)
		require.Equal(t, want.state, st.State)
		require.Equal(t, want.permanent, st.Permanent)
	}
}

func TestCallFailures(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := fakeprov.New(nil)
	p.FailNextCalls(1, nil)
	p.FailNextCalls(1, lifecycle.Permanent(errors.New("installer refuses the host")))
	err := p.Prepare(ctx, deploy("web01"))
	require.ErrorIs(t, err, fakeprov.ErrInjected)
	require.False(t, lifecycle.IsPermanent(err))
	err = p.Prepare(ctx, deploy("web01"))
	require.True(t, lifecycle.IsPermanent(err))
	require.Contains(t, err.Error(), "prepare web01")
	st, err := p.Status(ctx, "web01")
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "failed calls changed nothing")

	all := fakeprov.New(&fakeprov.Options{CallFailureRate: 1})
	require.ErrorIs(t, all.Release(ctx, "web01"), fakeprov.ErrInjected)
	none := fakeprov.New(&fakeprov.Options{CallFailureRate: 0})
	require.NoError(t, none.Release(ctx, "web01"))
}

func TestCallLatencyHonoursContext(t *testing.T) {
	t.Parallel()
	p := fakeprov.New(&fakeprov.Options{CallLatency: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.Prepare(ctx, deploy("web01"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 10*time.Second, "the call stopped with its ctx")
	calls := p.Calls()
	require.Len(t, calls, 1)
	require.ErrorIs(t, calls[0].Err, context.DeadlineExceeded)

	fast := fakeprov.New(&fakeprov.Options{CallLatency: 20 * time.Millisecond})
	start = time.Now()
	_, err = fast.Status(t.Context(), "web01")
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 20*time.Millisecond, "the call waited its latency")
}

func TestUnknownHostsAndSnapshots(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := fakeprov.New(&fakeprov.Options{Hosts: []string{"web01"}, Snapshots: []string{"snap-1"}})
	require.NoError(t, p.Prepare(ctx, deploy("web01")))
	require.ErrorIs(t, p.Prepare(ctx, deploy("web02")), actions.ErrUnknownHost)
	err := p.Prepare(ctx, actions.Request{Host: "web01", Operation: actions.OpDeploy, Snapshot: "snap-2"})
	require.ErrorIs(t, err, actions.ErrUnknownSnapshot)
	require.Contains(t, err.Error(), "snap-2")
	// A wipe needs no snapshot, so the list does not apply.
	require.NoError(t, p.Prepare(ctx, actions.Request{Host: "web01", Operation: actions.OpWipe}))
}

func TestCallRecord(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	clk := storetest.NewClock(t0)
	p := fakeprov.New(&fakeprov.Options{Now: clk.Now, CallHistory: 3})
	require.NoError(t, p.Prepare(ctx, deploy("web01")))
	clk.Advance(time.Second)
	_, err := p.Status(ctx, "web01")
	require.NoError(t, err)
	clk.Advance(time.Second)
	require.NoError(t, p.Release(ctx, "web02"))
	calls := p.Calls()
	require.Len(t, calls, 3)
	require.Equal(t, fakeprov.Call{Seq: 1, Method: fakeprov.MethodPrepare, Host: "web01", Operation: actions.OpDeploy,
		Snapshot: "snap-1", Start: t0, End: t0}, calls[0])
	require.Equal(t, fakeprov.MethodStatus, calls[1].Method)
	require.Equal(t, actions.StateDone, calls[1].State)
	require.Equal(t, t0.Add(time.Second), calls[1].Start)
	require.Equal(t, "web02", calls[2].Host)
	require.Equal(t, uint64(3), calls[2].Seq)
	require.Len(t, p.CallsFor("web01"), 2)

	// The history keeps the newest CallHistory calls.
	_, err = p.Status(ctx, "web01")
	require.NoError(t, err)
	calls = p.Calls()
	require.Len(t, calls, 3)
	require.Equal(t, uint64(2), calls[0].Seq)
	require.Equal(t, uint64(4), calls[2].Seq)

	quiet := fakeprov.New(&fakeprov.Options{CallHistory: -1})
	require.NoError(t, quiet.Release(ctx, "web01"))
	require.Empty(t, quiet.Calls())
}
