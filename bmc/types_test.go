package bmc_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

func TestCheckPowerAction(t *testing.T) {
	t.Parallel()
	type want struct {
		noop, invalid bool
	}
	tests := []struct {
		cur bmc.PowerState
		a   bmc.PowerAction
		w   want
	}{
		{bmc.PowerOn, bmc.PowerActionOn, want{noop: true}},
		{bmc.PowerOn, bmc.PowerActionOff, want{}},
		{bmc.PowerOn, bmc.PowerActionSoftOff, want{}},
		{bmc.PowerOn, bmc.PowerActionCycle, want{}},
		{bmc.PowerOn, bmc.PowerActionReset, want{}},
		{bmc.PowerOff, bmc.PowerActionOn, want{}},
		{bmc.PowerOff, bmc.PowerActionOff, want{noop: true}},
		{bmc.PowerOff, bmc.PowerActionSoftOff, want{noop: true}},
		{bmc.PowerOff, bmc.PowerActionCycle, want{invalid: true}},
		{bmc.PowerOff, bmc.PowerActionReset, want{invalid: true}},
		{bmc.PowerPoweringOn, bmc.PowerActionOff, want{}},
		{bmc.PowerPoweringOn, bmc.PowerActionCycle, want{invalid: true}},
		{bmc.PowerPoweringOff, bmc.PowerActionOn, want{invalid: true}},
		{bmc.PowerUnknown, bmc.PowerActionCycle, want{}},
		{bmc.PowerOn, "explode", want{invalid: true}},
	}
	for _, tc := range tests {
		noop, err := bmc.CheckPowerAction(tc.cur, tc.a)
		require.Equal(t, tc.w.noop, noop, "%s while %s", tc.a, tc.cur)
		if tc.w.invalid {
			require.ErrorIs(t, err, bmc.ErrInvalidPowerAction, "%s while %s", tc.a, tc.cur)
		} else {
			require.NoError(t, err, "%s while %s", tc.a, tc.cur)
		}
	}
}

func TestConsoleHealthErr(t *testing.T) {
	t.Parallel()
	ok := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Enabled: true, Answering: true, Console: "SOL"}
	require.True(t, ok.Usable())
	require.NoError(t, ok.Err())
	off := ok
	off.Enabled = false
	off.Detail = "SerialConsole.IPMI.ServiceEnabled is false"
	require.False(t, off.Usable())
	require.ErrorIs(t, off.Err(), bmc.ErrConsoleUnusable)
	require.EqualError(t, off.Err(), "remote console unusable: console service disabled: SerialConsole.IPMI.ServiceEnabled is false")
	require.ErrorContains(t, bmc.ConsoleHealth{}.Err(), "BMC unreachable")
}

func TestCredentialsNeverPrintPassword(t *testing.T) {
	t.Parallel()
	c := bmc.Credentials{Username: "admin", Password: "s3cr3t-pw"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(f, c)
		require.NotContains(t, out, "s3cr3t-pw", f)
		require.Contains(t, out, "admin", f)
	}
	out := fmt.Sprintf("%v", struct{ C bmc.Credentials }{c})
	require.NotContains(t, out, "s3cr3t-pw", "nested")
}

func TestBootOverrideValidate(t *testing.T) {
	t.Parallel()
	require.NoError(t, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}.Validate())
	require.NoError(t, bmc.BootOverride{Device: bmc.BootDisk}.Validate())
	require.ErrorIs(t, bmc.BootOverride{Device: "floppy"}.Validate(), bmc.ErrInvalidArgument)
	require.ErrorIs(t, bmc.BootOverride{Device: bmc.BootCD, Mode: "bios"}.Validate(), bmc.ErrInvalidArgument)
}
