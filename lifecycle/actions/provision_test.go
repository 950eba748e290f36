package actions_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
)

func TestReimage(t *testing.T) {
	t.Parallel()
	for _, from := range []bmc.PowerState{bmc.PowerOn, bmc.PowerOff} {
		t.Run("from-"+string(from), func(t *testing.T) {
			t.Parallel()
			b := setup(t, &fakeprov.Options{MinDuration: 5 * time.Millisecond, MaxDuration: 20 * time.Millisecond}, nil)
			fb := b.fleet.add("web01", from)
			steps, err := b.run(t, t.Context(), lifecycle.ActionReimage, "web01", nil)
			require.NoError(t, err)
			require.Equal(t, []string{"prepare-deploy", "set-pxe-boot", "power-cycle", "wait-deploy", "confirm-deployed"}, names(steps))
			require.Equal(t, actions.Steps(lifecycle.ActionReimage), names(steps))
			require.Equal(t, repeat(lifecycle.StepSucceeded, 5), outcomes(steps))

			// The PXE override was set (and read back) before the power
			// action, and consumed by the boot it started.
			power := "set-power:cycle"
			if from == bmc.PowerOff {
				power = "set-power:on"
			}
			require.Equal(t, []string{"set-boot:pxe", "get-boot:", power},
				opsOf(fb, fakebmc.OpSetBoot, fakebmc.OpGetBoot, fakebmc.OpSetPower))
			boot := fb.LastBoot()
			require.Equal(t, bmc.BootPXE, boot.Device)
			require.True(t, boot.Override)
			_, pending := fb.PendingBootOverride()
			require.False(t, pending)
			require.Equal(t, bmc.PowerOn, fb.PowerState())
			require.Zero(t, fb.Sessions())

			// The provisioner got the batch's snapshot and finished it.
			calls := b.prov.CallsFor("web01")
			require.Equal(t, fakeprov.MethodPrepare, calls[0].Method)
			require.Equal(t, actions.OpDeploy, calls[0].Operation)
			require.Equal(t, snapshot, calls[0].Snapshot)
			got, ok := b.prov.Installed("web01")
			require.True(t, ok)
			require.Equal(t, snapshot, got)
			require.Equal(t, 1, b.prov.Finished("web01"))
		})
	}
}

func TestReimageBootMode(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, func(c *actions.Config) { c.BootMode = bmc.BootUEFI })
	fb := b.fleet.add("web01", bmc.PowerOn)
	_, err := b.run(t, t.Context(), lifecycle.ActionReimage, "web01", nil)
	require.NoError(t, err)
	_, err = b.run(t, t.Context(), lifecycle.ActionReimage, "web01", map[string]string{actions.ParamBootMode: "legacy"})
	require.NoError(t, err)
	require.Equal(t, []string{"set-boot:pxe/uefi", "set-boot:pxe/legacy"}, opsOf(fb, fakebmc.OpSetBoot))
	require.Equal(t, bmc.BootLegacy, fb.LastBoot().Mode)
}

// Running a reimage twice is fine: the second installs again, from its own
// network boot.
func TestReimageTwice(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOff)
	for range 2 {
		_, err := b.run(t, t.Context(), lifecycle.ActionReimage, "web01", nil)
		require.NoError(t, err)
	}
	require.Equal(t, 2, b.prov.Finished("web01"))
	require.Equal(t, 2, fb.Boots())
	require.Equal(t, []string{"set-power:on", "set-power:cycle"}, opsOf(fb, fakebmc.OpSetPower))
}

// Without the PXE boot (a BMC that drops the override), the installer never
// starts: the driver notices at set-pxe-boot, before any power action.
func TestReimageBootNotApplied(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOn)
	fb.SetRevertBootOverride(true)
	steps, err := b.run(t, t.Context(), lifecycle.ActionReimage, "web01", nil)
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.False(t, lifecycle.IsPermanent(err), "some BMCs apply it on a retry")
	require.Equal(t, []string{"prepare-deploy", "set-pxe-boot"}, names(steps))
	require.Equal(t, []lifecycle.StepOutcome{lifecycle.StepSucceeded, lifecycle.StepFailed}, outcomes(steps))
	require.Empty(t, opsOf(fb, fakebmc.OpSetPower))
}

func TestWipeDisks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOn)
	_, err := b.run(t, t.Context(), lifecycle.ActionReimage, "web01", nil)
	require.NoError(t, err)

	steps, err := b.run(t, t.Context(), lifecycle.ActionWipeDisks, "web01", nil)
	require.NoError(t, err)
	require.Equal(t, []string{"prepare-wipe", "set-pxe-boot", "power-cycle", "wait-wipe", "power-off", "confirm-off"}, names(steps))
	require.Equal(t, actions.Steps(lifecycle.ActionWipeDisks), names(steps))
	require.Equal(t, repeat(lifecycle.StepSucceeded, 6), outcomes(steps))
	require.Equal(t, bmc.PowerOff, fb.PowerState())
	_, installed := b.prov.Installed("web01")
	require.False(t, installed, "wiped")
	st, err := b.prov.Status(t.Context(), "web01")
	require.NoError(t, err)
	require.Equal(t, actions.OpWipe, st.Operation)
	require.Equal(t, actions.StateDone, st.State)
	require.Equal(t, bmc.BootPXE, fb.LastBoot().Device)
}

func TestDecommission(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOn)
	for range 2 { // twice: idempotent
		steps, err := b.run(t, t.Context(), lifecycle.ActionDecommission, "web01", nil)
		require.NoError(t, err)
		require.Equal(t, []string{"prepare-wipe", "set-pxe-boot", "power-cycle", "wait-wipe", "power-off", "confirm-off", "release"}, names(steps))
		require.Equal(t, repeat(lifecycle.StepSucceeded, 7), outcomes(steps))
		require.Equal(t, bmc.PowerOff, fb.PowerState())
		calls := b.prov.CallsFor("web01")
		require.Equal(t, fakeprov.MethodRelease, calls[len(calls)-1].Method)
		st, err := b.prov.Status(t.Context(), "web01")
		require.NoError(t, err)
		require.Equal(t, actions.StateNone, st.State, "released")
	}
	require.Equal(t, 2, b.prov.Finished("web01"), "two wipes")
}

// Many jobs at once on one Runner: each host's steps run one at a time.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := setup(t, &fakeprov.Options{MinDuration: time.Millisecond, MaxDuration: 10 * time.Millisecond, Seed: 3}, nil)
	b.fleet.opts.Latency = time.Millisecond
	const n = 40
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = "node" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		b.fleet.add(hosts[i], bmc.PowerOn)
	}
	errs := make(chan error, n)
	for i, h := range hosts {
		a := lifecycle.Actions()[i%len(lifecycle.Actions())]
		go func() {
			snap := ""
			if a == lifecycle.ActionReimage {
				snap = snapshot
			}
			tk, _ := task(a, h, snap, nil)
			errs <- b.runner.Run(t.Context(), tk)
		}()
	}
	for range n {
		require.NoError(t, <-errs)
	}
	for _, h := range hosts {
		fb, _ := b.fleet.lookup(h)
		require.Zero(t, fb.OverlapCount(), h)
		require.Zero(t, fb.Sessions(), h)
	}
}
