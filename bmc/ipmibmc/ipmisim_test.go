package ipmibmc_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
	"github.com/fleetkit/fleetkit/internal/testenv"
)

// The tests of this file use OpenIPMI's ipmi_sim, which scripts/test.sh
// starts (configured from scripts/ipmisim/) and names in
// FLEETKIT_TEST_IPMI. There is one simulated machine: they do not run in
// parallel.
//
// What ipmi_sim cannot do, and the tests expect:
//   - Get System Boot Options reports the boot flags "valid" and UEFI bits
//     clear whatever was set (it keeps the device only), so its drivers
//     use Options.IgnoreBootValid, and a UEFI override fails with
//     bmc.ErrBootNotApplied;
//   - a power cycle is power off, then power on a second later: the state
//     reads off in between;
//   - SEL timestamps are its own, counted from its start (IPMI "pre-init"
//     time), so the entries have no date;
//   - it does not implement Cold Reset (completion code C1h), so ResetBMC
//     fails with bmc.ErrUnsupported;
//   - it offers RMCP+ cipher suites 0-3 only, and refuses others with a
//     two-byte Open Session answer that go-ipmi cannot decode (the driver
//     reports bmc.ErrUnsupported).

// ipmiSimTarget is ipmi_sim as a target of the driver tests.
func ipmiSimTarget(t testing.TB) target {
	host, port, creds := testenv.IPMI(t)
	return target{
		newDriver: func(t testing.TB, o *ipmibmc.Options) *ipmibmc.Driver {
			holdIPMISim(t)
			powerOffIPMISim(t, host, port, creds)
			opts := ipmibmc.Options{IgnoreBootValid: true}
			if o != nil {
				opts = *o
				opts.IgnoreBootValid = true
			}
			return newTestDriver(t, host, port, creds, &opts)
		},
		password:   creds.Password,
		keepsUEFI:  false,
		selEntries: 2,     // scripts/ipmisim/sim.emu
		coldReset:  false, // ipmi_sim answers Cold Reset with C1h
	}
}

// powerOffIPMISim brings the simulated machine to the state every test
// starts from: powered off.
func powerOffIPMISim(t testing.TB, host string, port int, creds bmc.Credentials) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := ipmibmc.New(host, port, creds, testOptions(t, nil))
	require.NoError(t, err)
	require.NoError(t, d.Open(ctx))
	defer func() { require.NoError(t, d.Close(ctx)) }()
	// (A power cycle that a test left in progress would power the machine
	// on a second after its power off; the tests wait for the cycle to end
	// instead.)
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOff))
}

// TestIPMISim runs the driver tests against OpenIPMI's ipmi_sim.
func TestIPMISim(t *testing.T) {
	runDriverTests(t, ipmiSimTarget(t))
}

// TestIPMISimBootValidBit: without Options.IgnoreBootValid, ipmi_sim's
// read-back (valid bit clear) fails the override.
func TestIPMISimBootValidBit(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	holdIPMISim(t)
	d := newTestDriver(t, host, port, creds, nil)
	require.NoError(t, d.Open(t.Context()))
	err := d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE})
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.ErrorContains(t, err, "flags not valid")
	require.ErrorContains(t, err, "the BMC reports pxe, legacy, next boot only, not valid")
}

// TestIPMISimEventLog reads the two entries of scripts/ipmisim/sim.emu.
func TestIPMISimEventLog(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	d := newTestDriver(t, host, port, creds, nil)
	require.NoError(t, d.Open(t.Context()))
	log, err := d.EventLog(t.Context())
	require.NoError(t, err)
	require.Len(t, log, 2)
	require.Equal(t, "1", log[0].ID)
	require.Contains(t, log[0].Message, "Temperature")
	require.Contains(t, log[0].Message, "Upper Critical - going high")
	require.Contains(t, log[0].Message, "Assertion")
	require.Equal(t, "Critical", log[0].Severity)
	require.Equal(t, "2", log[1].ID)
	require.Contains(t, log[1].Message, "Power Supply")
	require.Contains(t, log[1].Message, "Failure detected")
	require.Equal(t, "Critical", log[1].Severity)
	for _, e := range log {
		require.True(t, e.Time.IsZero(), "ipmi_sim stamps entries with pre-init time: %v", e.Time)
	}
}

// TestIPMISimLanV15 opens an IPMI v1.5 session (MD5) with ipmi_sim.
func TestIPMISimLanV15(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	holdIPMISim(t)
	d := newTestDriver(t, host, port, creds, &ipmibmc.Options{Interface: ipmibmc.InterfaceLan})
	require.NoError(t, d.Open(t.Context()))
	_, err := d.PowerState(t.Context())
	require.NoError(t, err)
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.True(t, h.Usable(), "%+v", h)
}

// TestIPMISimUnknownUser: ipmi_sim answers RAKP 1 with status 0x0d.
func TestIPMISimUnknownUser(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	creds.Username = "nobody"
	d := newTestDriver(t, host, port, creds, nil)
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.ErrorContains(t, err, "Unauthorized name")
	require.False(t, bmc.IsTransient(err))
}

// TestIPMISimCipherSuite17: ipmi_sim offers suites 0-3 only.
func TestIPMISimCipherSuite17(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	d := newTestDriver(t, host, port, creds, &ipmibmc.Options{CipherSuite: 17})
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "cipher suite")
	require.False(t, bmc.IsTransient(err))
}

// TestIPMISimCloseLogsOut counts ipmi_sim's sessions (Get Session Info)
// around Open and Close. Half-open sessions of refused logins, which
// ipmi_sim times out on its own, may end meanwhile: the count is tried a
// few times.
func TestIPMISimCloseLogsOut(t *testing.T) {
	h := newIPMISimHarness(t)
	holdIPMISim(t)
	ctx := t.Context()
	var got []int
	for try := 0; try < 3; try++ {
		d := newTestDriver(t, h.host, h.port, h.creds, nil)
		before := h.sessions(t)
		require.NoError(t, d.Open(ctx))
		opened := h.sessions(t)
		require.NoError(t, d.Close(ctx))
		closed := h.sessions(t)
		if opened == before+1 && closed == before {
			return
		}
		got = append(got, before, opened, closed)
	}
	t.Fatalf("sessions before Open, after Open, after Close: %v", got)
}
