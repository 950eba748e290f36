package actions_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
)

func TestPowerActions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action lifecycle.Action
		from   bmc.PowerState
		// sent is the power action the BMC received ("" for a no-op).
		sent  bmc.PowerAction
		want  bmc.PowerState
		steps []string
	}{
		{lifecycle.ActionPowerOn, bmc.PowerOff, bmc.PowerActionOn, bmc.PowerOn, []string{"power-on", "confirm-on"}},
		{lifecycle.ActionPowerOn, bmc.PowerOn, "", bmc.PowerOn, []string{"power-on", "confirm-on"}},
		{lifecycle.ActionPowerOff, bmc.PowerOn, bmc.PowerActionOff, bmc.PowerOff, []string{"power-off", "confirm-off"}},
		{lifecycle.ActionPowerOff, bmc.PowerOff, "", bmc.PowerOff, []string{"power-off", "confirm-off"}},
		{lifecycle.ActionPowerCycle, bmc.PowerOn, bmc.PowerActionCycle, bmc.PowerOn, []string{"power-cycle", "confirm-on"}},
		// A host that is off is powered on, not refused.
		{lifecycle.ActionPowerCycle, bmc.PowerOff, bmc.PowerActionOn, bmc.PowerOn, []string{"power-cycle", "confirm-on"}},
		{lifecycle.ActionReboot, bmc.PowerOn, bmc.PowerActionReset, bmc.PowerOn, []string{"reboot", "confirm-on"}},
		{lifecycle.ActionReboot, bmc.PowerOff, bmc.PowerActionOn, bmc.PowerOn, []string{"reboot", "confirm-on"}},
	} {
		t.Run(string(tc.action)+"/from-"+string(tc.from), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, nil)
			fb := b.fleet.add("web01", tc.from)
			steps, err := b.run(t, t.Context(), tc.action, "web01", nil)
			require.NoError(t, err)
			require.Equal(t, tc.steps, names(steps))
			require.Equal(t, actions.Steps(tc.action), names(steps))
			require.Equal(t, repeat(lifecycle.StepSucceeded, len(steps)), outcomes(steps))
			for _, s := range steps {
				require.Equal(t, 1, s.Attempt)
				require.False(t, s.FinishedAt.Before(s.StartedAt))
			}
			require.Equal(t, tc.want, fb.PowerState())
			var sent []string
			if tc.sent != "" {
				sent = []string{"set-power:" + string(tc.sent)}
			}
			require.Equal(t, sent, opsOf(fb, fakebmc.OpSetPower))
			require.Zero(t, fb.Sessions(), "every session was closed")
			require.Zero(t, fb.OverlapCount())
		})
	}
}

// A power action waits for a transition in progress to settle, then acts
// on the settled state; the confirmation waits for the new transition.
func TestPowerSettlesFirst(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	b.fleet.opts.TransitionTime = 40 * time.Millisecond
	fb := b.fleet.add("web01", bmc.PowerOff)
	d := fb.Driver()
	require.NoError(t, d.Open(t.Context()))
	require.NoError(t, d.SetPower(t.Context(), bmc.PowerActionOn))
	require.NoError(t, d.Close(t.Context()))
	require.Equal(t, bmc.PowerPoweringOn, fb.PowerState())

	steps, err := b.run(t, t.Context(), lifecycle.ActionPowerCycle, "web01", nil)
	require.NoError(t, err)
	require.Equal(t, repeat(lifecycle.StepSucceeded, 2), outcomes(steps))
	// on (by the test), then cycle once it settled on.
	require.Equal(t, []string{"set-power:on", "set-power:cycle"}, opsOf(fb, fakebmc.OpSetPower))
	require.Equal(t, bmc.PowerOn, fb.PowerState())
	require.Equal(t, 2, fb.Boots())
}

// A power state that never settles fails the step after PowerTimeout, to
// be retried.
func TestPowerNeverSettles(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *actions.Config) { c.PowerTimeout = 30 * time.Millisecond })
	b.fleet.opts.TransitionTime = time.Hour
	fb := b.fleet.add("web01", bmc.PowerOn)

	// Powering off never reaches off: confirm-off fails.
	steps, err := b.run(t, t.Context(), lifecycle.ActionPowerOff, "web01", nil)
	require.NoError(t, err, "a force off has no transition")
	require.Len(t, steps, 2)

	fb.SetPowerState(bmc.PowerOff)
	steps, err = b.run(t, t.Context(), lifecycle.ActionPowerOn, "web01", nil)
	require.Error(t, err)
	require.False(t, lifecycle.IsPermanent(err))
	require.Contains(t, err.Error(), "confirm power on")
	require.Equal(t, []lifecycle.StepOutcome{lifecycle.StepSucceeded, lifecycle.StepFailed}, outcomes(steps))

	// The next power action finds it still powering on.
	steps, err = b.run(t, t.Context(), lifecycle.ActionReboot, "web01", nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "power still powering-on")
	require.Equal(t, []string{"reboot"}, names(steps))
	require.Equal(t, lifecycle.StepFailed, steps[0].Outcome)
}

// Running an action twice is fine: the second power-on sends nothing.
func TestPowerIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOff)
	for range 2 {
		_, err := b.run(t, t.Context(), lifecycle.ActionPowerOn, "web01", nil)
		require.NoError(t, err)
		_, err = b.run(t, t.Context(), lifecycle.ActionPowerOn, "web01", nil)
		require.NoError(t, err)
		_, err = b.run(t, t.Context(), lifecycle.ActionPowerOff, "web01", nil)
		require.NoError(t, err)
		_, err = b.run(t, t.Context(), lifecycle.ActionPowerOff, "web01", nil)
		require.NoError(t, err)
	}
	require.Equal(t, []string{"set-power:on", "set-power:off", "set-power:on", "set-power:off"}, opsOf(fb, fakebmc.OpSetPower))
}
