package ipmibmc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
)

// target is a simulated BMC the driver tests run against.
type target struct {
	// newDriver returns a driver, not opened, for the target's system,
	// which is powered off; the driver is closed when the test ends.
	newDriver func(t testing.TB, o *ipmibmc.Options) *ipmibmc.Driver
	// password is the right one, which must never show.
	password string
	// keepsUEFI: the BMC keeps the UEFI bit of the boot flags.
	keepsUEFI bool
	// selEntries is how many entries the system event log holds; -1 when
	// the BMC has no SEL.
	selEntries int
	// coldReset: the BMC implements Cold Reset.
	coldReset bool
}

// testOptions fills in options that keep the tests quick, and a logger
// into the test's log.
func testOptions(t testing.TB, o *ipmibmc.Options) *ipmibmc.Options {
	var out ipmibmc.Options
	if o != nil {
		out = *o
	}
	if out.Timeout == 0 {
		out.Timeout = 500 * time.Millisecond
	}
	if out.Retry == nil {
		out.Retry = &bmc.RetryPolicy{MaxAttempts: 3, Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	if out.PollInterval == 0 {
		out.PollInterval = 20 * time.Millisecond
	}
	if out.PowerTimeout == 0 {
		out.PowerTimeout = 10 * time.Second
	}
	if _, bench := t.(*testing.B); out.Logger == nil && !bench {
		out.Logger = slog.New(slog.NewTextHandler(&syncWriter{w: tlogWriter{t}}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return &out
}

// tlogWriter writes log lines to the test's log.
type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  interface{ Write([]byte) (int, error) }
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// open returns an open driver of tgt.
func open(t testing.TB, tgt target, o *ipmibmc.Options) *ipmibmc.Driver {
	t.Helper()
	d := tgt.newDriver(t, o)
	require.NoError(t, d.Open(t.Context()))
	return d
}

// noSecret fails when s shows the password.
func noSecret(t testing.TB, tgt target, what, s string) {
	t.Helper()
	if strings.Contains(s, tgt.password) {
		t.Fatalf("%s shows the password: %s", what, s)
	}
}

// runDriverTests checks the driver against tgt. The subtests run one at a
// time: they share the target's machine.
func runDriverTests(t *testing.T, tgt target) {
	t.Run("OpenClose", func(t *testing.T) { testOpenClose(t, tgt) })
	t.Run("NotOpen", func(t *testing.T) { testNotOpen(t, tgt) })
	t.Run("BadPassword", func(t *testing.T) { testBadPassword(t, tgt) })
	t.Run("Power", func(t *testing.T) { testPower(t, tgt) })
	t.Run("BootOverride", func(t *testing.T) { testBootOverride(t, tgt) })
	t.Run("ConsoleHealth", func(t *testing.T) { testConsoleHealth(t, tgt) })
	t.Run("EventLog", func(t *testing.T) { testEventLog(t, tgt) })
	t.Run("ResetBMC", func(t *testing.T) { testResetBMC(t, tgt) })
}

func testOpenClose(t *testing.T, tgt target) {
	ctx := t.Context()
	d := tgt.newDriver(t, nil)
	require.Equal(t, "ipmi", d.Name())
	require.NoError(t, d.Close(ctx), "Close before Open")
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.Open(ctx), "Open twice is a no-op")
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, ps, "the target starts powered off")
	require.NoError(t, d.Close(ctx))
	require.NoError(t, d.Close(ctx), "Close twice")
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen, "after Close")

	// Open again after Close: a new session.
	require.NoError(t, d.Open(ctx))
	_, err = d.PowerState(ctx)
	require.NoError(t, err)

	// Close with a ctx that is done still closes the session.
	done, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, d.Close(done))
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	noSecret(t, tgt, "String", d.String())
	noSecret(t, tgt, "%v", fmtV(d))
}

func testNotOpen(t *testing.T, tgt target) {
	ctx := t.Context()
	d := tgt.newDriver(t, nil)
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.ErrorIs(t, d.SetPower(ctx, bmc.PowerActionOn), bmc.ErrNotOpen)
	require.ErrorIs(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE}), bmc.ErrNotOpen)
	_, err = d.EventLog(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.ErrorIs(t, d.ResetBMC(ctx), bmc.ErrNotOpen)
	_, err = d.ConsoleHealth(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.False(t, bmc.IsTransient(err))
}

func testBadPassword(t *testing.T, tgt target) {
	ctx := t.Context()
	good := tgt.newDriver(t, nil)
	bad := badPasswordOf(t, tgt, good)
	start := time.Now()
	err := bad.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.False(t, bmc.IsTransient(err), "a refused password is never retried")
	require.NotContains(t, err.Error(), "attempts", "not retried")
	require.Less(t, time.Since(start), 2*time.Second)
	noSecret(t, tgt, "the error", err.Error())
	noSecret(t, tgt, "the error", strings.ReplaceAll(err.Error(), " ", ""))
	_, err = bad.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen, "a failed Open leaves the driver closed")
	require.NoError(t, bad.Close(ctx), "Close after a failed Open")

	_, err = bad.ConsoleHealth(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen, "ConsoleHealth needs an open driver")
}

// badPasswordOf returns a driver like good with a wrong password.
func badPasswordOf(t testing.TB, tgt target, good *ipmibmc.Driver) *ipmibmc.Driver {
	t.Helper()
	host, port, creds := driverTarget(t, good)
	creds.Password = "wrong-" + tgt.password[:2]
	d, err := ipmibmc.New(host, port, creds, testOptions(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func testPower(t *testing.T, tgt target) {
	ctx := t.Context()
	d := open(t, tgt, nil)
	state := func() bmc.PowerState {
		t.Helper()
		ps, err := d.PowerState(ctx)
		require.NoError(t, err)
		return ps
	}
	// eventually waits for the state after actions SetPower does not wait
	// for (cycle may read off for a moment on a BMC that cycles slowly).
	eventually := func(want bmc.PowerState) {
		t.Helper()
		require.Eventually(t, func() bool { return state() == want }, 10*time.Second, 50*time.Millisecond, "power %s", want)
	}
	require.Equal(t, bmc.PowerOff, state())

	// Actions that make no sense while off.
	for _, a := range []bmc.PowerAction{bmc.PowerActionCycle, bmc.PowerActionReset} {
		err := d.SetPower(ctx, a)
		require.ErrorIs(t, err, bmc.ErrInvalidPowerAction, "%s while off", a)
		require.False(t, bmc.IsTransient(err))
	}
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOff), "off while off is a no-op")
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionSoftOff), "soft-off while off is a no-op")
	require.ErrorIs(t, d.SetPower(ctx, bmc.PowerAction("hibernate")), bmc.ErrInvalidPowerAction)

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, bmc.PowerOn, state(), "SetPower on waits until the BMC reports on")
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn), "on while on is a no-op")

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionCycle))
	eventually(bmc.PowerOn)
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionReset))
	eventually(bmc.PowerOn)

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionSoftOff))
	eventually(bmc.PowerOff)

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOff))
	require.Equal(t, bmc.PowerOff, state(), "SetPower off waits until the BMC reports off")
}

func testBootOverride(t *testing.T, tgt target) {
	ctx := t.Context()
	d := open(t, tgt, nil)
	for _, tc := range []struct {
		o      bmc.BootOverride
		failed bool // ErrBootNotApplied on a BMC that does not keep the UEFI bit
	}{
		{o: bmc.BootOverride{Device: bmc.BootPXE}},
		{o: bmc.BootOverride{Device: bmc.BootDisk, Mode: bmc.BootLegacy}},
		{o: bmc.BootOverride{Device: bmc.BootCD, Mode: bmc.BootLegacy}},
		{o: bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}, failed: !tgt.keepsUEFI},
		{o: bmc.BootOverride{Device: bmc.BootDisk}}, // keeps the mode the BMC has
		{o: bmc.BootOverride{Device: bmc.BootCD, Mode: bmc.BootUEFI}, failed: !tgt.keepsUEFI},
		{o: bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootLegacy}},
	} {
		err := d.SetBootOverride(ctx, tc.o)
		if tc.failed {
			require.ErrorIs(t, err, bmc.ErrBootNotApplied, "%+v: this BMC does not keep the UEFI bit", tc.o)
			require.ErrorContains(t, err, "another boot mode")
			require.False(t, bmc.IsTransient(err))
			continue
		}
		require.NoError(t, err, "%+v", tc.o)
	}
	for _, o := range []bmc.BootOverride{{Device: "floppy"}, {Device: bmc.BootPXE, Mode: "bios"}, {}} {
		require.ErrorIs(t, d.SetBootOverride(ctx, o), bmc.ErrInvalidArgument, "%+v", o)
	}
}

func testConsoleHealth(t *testing.T, tgt target) {
	ctx := t.Context()
	check := func(d *ipmibmc.Driver) {
		t.Helper()
		h, err := d.ConsoleHealth(ctx)
		require.NoError(t, err)
		require.Equal(t, "SOL", h.Console)
		require.True(t, h.Usable(), "%+v", h)
		require.NoError(t, h.Err())
		require.Empty(t, h.Detail)
		require.Positive(t, h.Latency)
	}
	d := tgt.newDriver(t, nil)
	_, err := d.ConsoleHealth(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.NoError(t, d.Open(ctx))
	check(d)

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.ConsoleHealth(done)
	require.ErrorIs(t, err, context.Canceled)
}

func testEventLog(t *testing.T, tgt target) {
	ctx := t.Context()
	d := open(t, tgt, nil)
	log, err := bmc.EventLog(ctx, d)
	if tgt.selEntries < 0 {
		require.ErrorIs(t, err, bmc.ErrUnsupported)
		require.Nil(t, log)
		return
	}
	require.NoError(t, err)
	require.Len(t, log, tgt.selEntries)
	ids := map[string]bool{}
	for _, e := range log {
		require.NotEmpty(t, e.ID)
		require.False(t, ids[e.ID], "duplicate ID %s", e.ID)
		ids[e.ID] = true
		require.Contains(t, []string{"OK", "Warning", "Critical"}, e.Severity)
		require.NotEmpty(t, e.Message)
	}
}

func testResetBMC(t *testing.T, tgt target) {
	ctx := t.Context()
	d := open(t, tgt, nil)
	err := bmc.ResetBMC(ctx, d)
	if !tgt.coldReset {
		require.ErrorIs(t, err, bmc.ErrUnsupported)
		require.False(t, bmc.IsTransient(err))
	} else {
		require.NoError(t, err)
	}
	// After a reset the session was dropped and the next call opens a
	// new one; after a refused one, the session carries on.
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, ps)
	require.NoError(t, d.Close(ctx))
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen, "Close after ResetBMC closes for good")
}

// driverTarget recovers host, port and credentials of d from its String
// and the target: tests keep them alongside instead.
func driverTarget(t testing.TB, d *ipmibmc.Driver) (string, int, bmc.Credentials) {
	t.Helper()
	v, ok := targets.Load(d)
	require.True(t, ok, "driver not made by newTestDriver")
	a := v.(addr)
	return a.host, a.port, a.creds
}

type addr struct {
	host  string
	port  int
	creds bmc.Credentials
}

var targets sync.Map // *ipmibmc.Driver → addr

// newTestDriver makes a driver with testOptions, remembered for
// driverTarget, closed when the test ends.
func newTestDriver(t testing.TB, host string, port int, creds bmc.Credentials, o *ipmibmc.Options) *ipmibmc.Driver {
	t.Helper()
	d, err := ipmibmc.New(host, port, creds, testOptions(t, o))
	require.NoError(t, err)
	targets.Store(d, addr{host, port, creds})
	t.Cleanup(func() {
		if err := d.Close(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("close %v: %v", d, err)
		}
		targets.Delete(d)
	})
	return d
}

// fmtV formats d with every verb that could show its fields.
func fmtV(d *ipmibmc.Driver) string {
	return fmt.Sprintf("%v %+v %#v %s", d, d, d, d)
}
