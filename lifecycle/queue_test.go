package lifecycle_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
)

func TestLimits(t *testing.T) {
	require.False(t, lifecycle.Limits{}.Caps())
	require.False(t, lifecycle.Limits{PerAction: map[lifecycle.Action]int{lifecycle.ActionReboot: 0}}.Caps())
	require.True(t, lifecycle.Limits{Global: 1}.Caps())
	require.True(t, lifecycle.Limits{PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 250}}.Caps())
	require.NoError(t, lifecycle.Limits{PerAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 3}}.Validate())
	require.Error(t, lifecycle.Limits{Global: -1}.Validate())
	require.Error(t, lifecycle.Limits{PerAction: map[lifecycle.Action]int{"melt": 3}}.Validate())
	require.Error(t, lifecycle.Limits{PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReboot: -2}}.Validate())
}

func TestCapTracker(t *testing.T) {
	l := lifecycle.Limits{Global: 4, PerDatacenter: 2, PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 1}}
	c := lifecycle.NewCapTracker(l, []lifecycle.RunningCount{{Datacenter: "dc1", Action: lifecycle.ActionReimage, Running: 1}})
	require.False(t, c.Admit("dc1", lifecycle.ActionReimage), "dc1's one reimage runs")
	require.True(t, c.Admit("dc1", lifecycle.ActionReboot))
	require.False(t, c.Admit("dc1", lifecycle.ActionReboot), "dc1 holds 2")
	require.True(t, c.Admit("dc2", lifecycle.ActionReimage))
	dcs, actions, pairs := c.Blocked()
	require.Equal(t, []string{"dc1"}, dcs)
	require.Empty(t, actions)
	require.Len(t, pairs, 2)
	require.True(t, c.Admit("dc2", lifecycle.ActionReboot))
	require.True(t, c.Full(), "4 of 4")
	require.False(t, c.Allows("dc3", lifecycle.ActionPowerOn))
}

func TestFinishedState(t *testing.T) {
	retry := lifecycle.JobResult{To: lifecycle.JobPending}
	require.Equal(t, lifecycle.JobPending, lifecycle.FinishedState(retry, false))
	require.Equal(t, lifecycle.JobCancelled, lifecycle.FinishedState(retry, true), "a retry of a cancelled batch's job ends it")
	require.Equal(t, lifecycle.JobSucceeded, lifecycle.FinishedState(lifecycle.JobResult{To: lifecycle.JobSucceeded}, true))
}

func TestRetryPolicyDelay(t *testing.T) {
	p := lifecycle.RetryPolicy{InitialInterval: 100e6, MaxInterval: 1e9, Multiplier: 2, RandomizationFactor: 0.01}
	d1, d3, d9 := p.Delay(1), p.Delay(3), p.Delay(9)
	require.InDelta(t, 100e6, float64(d1), 2e6)
	require.InDelta(t, 400e6, float64(d3), 8e6)
	require.InDelta(t, 1e9, float64(d9), 20e6, "capped at MaxInterval")
}
