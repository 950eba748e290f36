package bmctest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

// Run runs the conformance suite against the drivers h returns. Each
// subtest gets a fresh driver (so a fresh system, powered off) and runs in
// parallel with the others.
func Run(t *testing.T, h Harness) {
	s := &suite{h: h}
	if ph, ok := h.(PasswordHarness); ok {
		s.secrets = append(s.secrets, ph.Password())
	}
	if bh, ok := h.(BadPasswordHarness); ok {
		s.secrets = append(s.secrets, bh.BadPassword())
	}
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"OpenClose", s.testOpenClose},
		{"NotOpen", s.testNotOpen},
		{"BadCredentials", s.testBadCredentials},
		{"Sessions", s.testSessions},
		{"Power/OffToOn", s.testOffToOn},
		{"Power/OnWhileOnIsNoop", s.testOnWhileOn},
		{"Power/OffWhileOffIsNoop", s.testOffWhileOff},
		{"Power/SoftOff", s.powerFromOn(bmc.PowerActionSoftOff, bmc.PowerOff)},
		{"Power/Off", s.powerFromOn(bmc.PowerActionOff, bmc.PowerOff)},
		{"Power/CycleWhileOn", s.powerFromOn(bmc.PowerActionCycle, bmc.PowerOn)},
		{"Power/ResetWhileOn", s.powerFromOn(bmc.PowerActionReset, bmc.PowerOn)},
		{"Power/CycleWhileOffIsInvalid", s.invalidWhileOff(bmc.PowerActionCycle)},
		{"Power/ResetWhileOffIsInvalid", s.invalidWhileOff(bmc.PowerActionReset)},
		{"Power/UnknownAction", s.testUnknownAction},
		{"Boot/PXEUEFI", s.bootOverride(bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI})},
		{"Boot/PXELegacy", s.bootOverride(bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootLegacy})},
		{"Boot/PXEKeepMode", s.bootOverride(bmc.BootOverride{Device: bmc.BootPXE})},
		{"Boot/Disk", s.bootOverride(bmc.BootOverride{Device: bmc.BootDisk, Mode: bmc.BootUEFI})},
		{"Boot/Invalid", s.testBootInvalid},
		{"Boot/Reverted", s.testBootReverted},
		{"Console/Healthy", s.testConsoleHealthy},
		{"Console/Disabled", s.testConsoleDisabled},
		{"Context/Cancelled", s.testCancelled},
		{"Context/DeadlineDuringOperation", s.testDeadline},
		{"Transient/Retried", s.testTransient},
		{"Optional/VirtualMedia", s.testVirtualMedia},
		{"Optional/EventLog", s.testEventLog},
		{"Optional/ResetBMC", s.testResetBMC},
		{"Secrets/String", s.testString},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t)
		})
	}
}

type suite struct {
	h       Harness
	secrets []string
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	t.Cleanup(cancel)
	return ctx
}

// driver returns a fresh driver that is closed when t ends.
func (s *suite) driver(t testing.TB) bmc.Driver {
	d := s.h.NewDriver(t)
	require.NotNil(t, d, "Harness.NewDriver")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		s.noSecret(t, d.Close(ctx))
	})
	return d
}

// open returns a fresh, opened driver.
func (s *suite) open(t testing.TB) (context.Context, bmc.Driver) {
	ctx := ctxFor(t)
	d := s.driver(t)
	require.NoError(t, s.noSecret(t, d.Open(ctx)), "Open")
	return ctx, d
}

// noSecret fails t when err shows a password, and returns err.
func (s *suite) noSecret(t testing.TB, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	for _, f := range []string{"%v", "%+v", "%#v"} {
		s.noSecretText(t, "an error (formatted with "+f+")", fmt.Sprintf(f, err))
	}
	return err
}

// noSecretText fails t when text shows a password.
func (s *suite) noSecretText(t testing.TB, what, text string) {
	t.Helper()
	for _, pw := range s.secrets {
		if pw != "" && strings.Contains(text, pw) {
			t.Fatalf("%s shows the password: %s", what, strings.ReplaceAll(text, pw, "<PASSWORD>"))
		}
	}
}

// capability returns h as a T, or skips t naming the interface.
func capability[T any](t testing.TB, h Harness) T {
	t.Helper()
	c, ok := h.(T)
	if !ok {
		var zero *T
		t.Skipf("the harness does not implement %T", zero)
	}
	return c
}

// waitPower polls PowerState until it reports want, for SettleTimeout.
func (s *suite) waitPower(t testing.TB, ctx context.Context, d bmc.Driver, want bmc.PowerState) {
	t.Helper()
	deadline := time.Now().Add(SettleTimeout)
	pause := 10 * time.Millisecond
	for {
		got, err := d.PowerState(ctx)
		require.NoError(t, s.noSecret(t, err), "PowerState")
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("PowerState is %q after %v, want %q", got, SettleTimeout, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for power %q: %v", want, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, 500*time.Millisecond)
	}
}

// setPower performs a and waits until the power reads want.
func (s *suite) setPower(t testing.TB, ctx context.Context, d bmc.Driver, a bmc.PowerAction, want bmc.PowerState) {
	t.Helper()
	require.NoError(t, s.noSecret(t, d.SetPower(ctx, a)), "SetPower(%s)", a)
	s.waitPower(t, ctx, d, want)
}

// requireNotOpen checks that every operation of d fails with ErrNotOpen.
func (s *suite) requireNotOpen(t testing.TB, ctx context.Context, d bmc.Driver, when string) {
	t.Helper()
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, s.noSecret(t, err), bmc.ErrNotOpen, "PowerState %s", when)
	require.ErrorIs(t, s.noSecret(t, d.SetPower(ctx, bmc.PowerActionOn)), bmc.ErrNotOpen, "SetPower %s", when)
	require.ErrorIs(t, s.noSecret(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE})), bmc.ErrNotOpen, "SetBootOverride %s", when)
	_, err = d.ConsoleHealth(ctx)
	require.ErrorIs(t, s.noSecret(t, err), bmc.ErrNotOpen, "ConsoleHealth %s", when)
}

func (s *suite) testOpenClose(t *testing.T) {
	ctx := ctxFor(t)
	d := s.driver(t)
	require.NotEmpty(t, d.Name(), "Name")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close before Open")
	require.NoError(t, s.noSecret(t, d.Open(ctx)), "Open")
	got, err := d.PowerState(ctx)
	require.NoError(t, s.noSecret(t, err), "PowerState")
	require.Equal(t, bmc.PowerOff, got, "a fresh system starts powered off")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close twice")
}

func (s *suite) testNotOpen(t *testing.T) {
	ctx := ctxFor(t)
	d := s.driver(t)
	s.requireNotOpen(t, ctx, d, "before Open")
	require.NoError(t, s.noSecret(t, d.Open(ctx)), "Open")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close")
	s.requireNotOpen(t, ctx, d, "after Close")
}

func (s *suite) testBadCredentials(t *testing.T) {
	ctx := ctxFor(t)
	d := s.h.NewDriverBadCredentials(t)
	require.NotNil(t, d, "Harness.NewDriverBadCredentials")
	err := s.noSecret(t, d.Open(ctx))
	require.ErrorIs(t, err, bmc.ErrAuth, "Open with bad credentials")
	require.False(t, bmc.IsTransient(err), "a refusal of credentials is not transient: %v", err)
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close after a failed Open")
	s.requireNotOpen(t, ctx, d, "after a failed Open")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close twice after a failed Open")
}

func (s *suite) testSessions(t *testing.T) {
	sc := capability[SessionCounter](t, s.h)
	ctx := ctxFor(t)
	d := s.driver(t)
	before := sc.Sessions(t, d)
	require.NoError(t, s.noSecret(t, d.Open(ctx)), "Open")
	require.Equal(t, before+1, sc.Sessions(t, d), "Open opens one session")
	_, err := d.PowerState(ctx)
	require.NoError(t, s.noSecret(t, err), "PowerState")
	require.Equal(t, before+1, sc.Sessions(t, d), "operations reuse the session")
	require.NoError(t, s.noSecret(t, d.Close(ctx)), "Close")
	require.Equal(t, before, sc.Sessions(t, d), "Close logs out")

	bad := s.h.NewDriverBadCredentials(t)
	before = sc.Sessions(t, bad)
	require.ErrorIs(t, s.noSecret(t, bad.Open(ctx)), bmc.ErrAuth)
	require.NoError(t, s.noSecret(t, bad.Close(ctx)))
	require.Equal(t, before, sc.Sessions(t, bad), "a refused Open leaves no session")
}

func (s *suite) testOffToOn(t *testing.T) {
	ctx, d := s.open(t)
	s.waitPower(t, ctx, d, bmc.PowerOff)
	s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
}

func (s *suite) testOnWhileOn(t *testing.T) {
	ctx, d := s.open(t)
	s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
	rc, counting := s.h.(RequestCounter)
	var before int
	if counting {
		before = rc.Requests(t, d)
	}
	require.NoError(t, s.noSecret(t, d.SetPower(ctx, bmc.PowerActionOn)), "on while on is a no-op")
	if counting { // a no-op may read the power, but sends no action
		require.LessOrEqual(t, rc.Requests(t, d)-before, 2, "on while on sends no power action")
	}
	s.waitPower(t, ctx, d, bmc.PowerOn)
}

func (s *suite) testOffWhileOff(t *testing.T) {
	ctx, d := s.open(t)
	s.waitPower(t, ctx, d, bmc.PowerOff)
	for _, a := range []bmc.PowerAction{bmc.PowerActionOff, bmc.PowerActionSoftOff} {
		require.NoError(t, s.noSecret(t, d.SetPower(ctx, a)), "%s while off is a no-op", a)
		s.waitPower(t, ctx, d, bmc.PowerOff)
	}
}

func (s *suite) powerFromOn(a bmc.PowerAction, want bmc.PowerState) func(t *testing.T) {
	return func(t *testing.T) {
		ctx, d := s.open(t)
		s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
		s.setPower(t, ctx, d, a, want)
		if want == bmc.PowerOff { // and it can come back
			s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
		}
	}
}

func (s *suite) invalidWhileOff(a bmc.PowerAction) func(t *testing.T) {
	return func(t *testing.T) {
		ctx, d := s.open(t)
		s.waitPower(t, ctx, d, bmc.PowerOff)
		err := s.noSecret(t, d.SetPower(ctx, a))
		require.ErrorIs(t, err, bmc.ErrInvalidPowerAction, "%s while off", a)
		require.False(t, bmc.IsTransient(err), "an invalid power action is not transient")
		got, err := d.PowerState(ctx)
		require.NoError(t, s.noSecret(t, err))
		require.Equal(t, bmc.PowerOff, got, "an invalid action leaves the system off")
	}
}

func (s *suite) testUnknownAction(t *testing.T) {
	ctx, d := s.open(t)
	rc, counting := s.h.(RequestCounter)
	var before int
	if counting {
		before = rc.Requests(t, d)
	}
	err := s.noSecret(t, d.SetPower(ctx, "explode"))
	require.ErrorIs(t, err, bmc.ErrInvalidPowerAction, "unknown action")
	if counting {
		require.Equal(t, before, rc.Requests(t, d), "an unknown action is refused without asking the BMC")
	}
	s.waitPower(t, ctx, d, bmc.PowerOff)
}

func (s *suite) bootOverride(o bmc.BootOverride) func(t *testing.T) {
	return func(t *testing.T) {
		ctx, d := s.open(t)
		err := s.noSecret(t, d.SetBootOverride(ctx, o))
		if o.Mode == bmc.BootLegacy && errors.Is(err, bmc.ErrUnsupported) {
			t.Skipf("legacy boot is not supported: %v", err)
		}
		require.NoError(t, err, "SetBootOverride(%+v)", o)
		br, ok := s.h.(BootRecorder)
		if !ok {
			return
		}
		s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
		dev, mode := br.LastBoot(t, d)
		require.Equal(t, o.Device, dev, "the next boot uses the override's device")
		if o.Mode != "" {
			require.Equal(t, o.Mode, mode, "the next boot uses the override's mode")
		}
		if o.Device != bmc.BootDisk { // the override is used once
			s.setPower(t, ctx, d, bmc.PowerActionCycle, bmc.PowerOn)
			dev, _ = br.LastBoot(t, d)
			require.NotEqual(t, o.Device, dev, "a one-time override is not used by the boot after next")
		}
	}
}

func (s *suite) testBootInvalid(t *testing.T) {
	ctx, d := s.open(t)
	rc, counting := s.h.(RequestCounter)
	var before int
	if counting {
		before = rc.Requests(t, d)
	}
	for _, o := range []bmc.BootOverride{
		{Device: "floppy"},
		{Device: "", Mode: bmc.BootUEFI},
		{Device: bmc.BootPXE, Mode: "bios"},
	} {
		err := s.noSecret(t, d.SetBootOverride(ctx, o))
		require.ErrorIs(t, err, bmc.ErrInvalidArgument, "SetBootOverride(%+v)", o)
		require.False(t, bmc.IsTransient(err))
	}
	if counting {
		require.Equal(t, before, rc.Requests(t, d), "an invalid boot override is refused without asking the BMC")
	}
}

func (s *suite) testBootReverted(t *testing.T) {
	rv := capability[BootOverrideReverter](t, s.h)
	ctx, d := s.open(t)
	rv.RevertBootOverrides(t, d)
	err := s.noSecret(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}))
	require.ErrorIs(t, err, bmc.ErrBootNotApplied, "a BMC that drops the override is caught by reading it back")
}

func (s *suite) testConsoleHealthy(t *testing.T) {
	ctx, d := s.open(t)
	h, err := d.ConsoleHealth(ctx)
	require.NoError(t, s.noSecret(t, err), "ConsoleHealth")
	require.True(t, h.Reachable, "reachable: %+v", h)
	require.True(t, h.Authenticated, "authenticated: %+v", h)
	require.True(t, h.Enabled, "enabled: %+v", h)
	require.True(t, h.Answering, "answering: %+v", h)
	require.True(t, h.Usable())
	require.NoError(t, h.Err())
	s.noSecretText(t, "ConsoleHealth", fmt.Sprintf("%+v", h))
}

func (s *suite) testConsoleDisabled(t *testing.T) {
	cs := capability[ConsoleSwitcher](t, s.h)
	ctx, d := s.open(t)
	cs.SetConsole(t, d, false)
	h, err := d.ConsoleHealth(ctx)
	require.NoError(t, s.noSecret(t, err), "an unusable console is a result, not an error")
	require.True(t, h.Reachable, "reachable: %+v", h)
	require.True(t, h.Authenticated, "authenticated: %+v", h)
	require.False(t, h.Enabled, "enabled: %+v", h)
	require.False(t, h.Usable())
	require.ErrorIs(t, h.Err(), bmc.ErrConsoleUnusable)
	require.ErrorContains(t, h.Err(), "console service disabled", "the failed step is named")
	s.noSecret(t, h.Err())
	s.noSecretText(t, "ConsoleHealth", fmt.Sprintf("%+v", h))

	cs.SetConsole(t, d, true)
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, s.noSecret(t, err))
	require.True(t, h.Usable(), "usable again once enabled: %+v", h)
}

// requirePrompt checks that call fails with ctx's error within Prompt.
func (s *suite) requirePrompt(t testing.TB, what string, call func() error) {
	t.Helper()
	start := time.Now()
	err := s.noSecret(t, call())
	took := time.Since(start)
	require.Error(t, err, "%s with ctx done", what)
	require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded),
		"%s with ctx done: the error wraps ctx's error: %v", what, err)
	require.Less(t, took, Prompt, "%s with ctx done fails promptly", what)
}

func (s *suite) testCancelled(t *testing.T) {
	done, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := s.driver(t)
	s.requirePrompt(t, "Open", func() error { return fresh.Open(done) })

	_, d := s.open(t)
	s.requirePrompt(t, "PowerState", func() error { _, err := d.PowerState(done); return err })
	s.requirePrompt(t, "SetPower", func() error { return d.SetPower(done, bmc.PowerActionOn) })
	s.requirePrompt(t, "SetBootOverride", func() error {
		return d.SetBootOverride(done, bmc.BootOverride{Device: bmc.BootPXE})
	})
	s.requirePrompt(t, "ConsoleHealth", func() error { _, err := d.ConsoleHealth(done); return err })
	s.noSecret(t, d.Close(done)) // may fail to log out; the cleanup closes again
}

func (s *suite) testDeadline(t *testing.T) {
	ls := capability[LatencySetter](t, s.h)
	ctx, d := s.open(t)
	ls.SetLatency(t, d, 30*time.Second)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	s.requirePrompt(t, "PowerState during a slow BMC answer", func() error { _, err := d.PowerState(short); return err })
	ls.SetLatency(t, d, 0)
}

func (s *suite) testTransient(t *testing.T) {
	fi := capability[FailureInjector](t, s.h)
	ctx, d := s.open(t)
	fi.FailNext(t, d, 1)
	got, err := d.PowerState(ctx)
	require.NoError(t, s.noSecret(t, err), "one transient failure is retried")
	require.Equal(t, bmc.PowerOff, got)
}

// optional checks that err is nil or wraps ErrUnsupported, and reports
// whether the capability is there.
func (s *suite) optional(t testing.TB, what string, err error) bool {
	t.Helper()
	if errors.Is(s.noSecret(t, err), bmc.ErrUnsupported) {
		return false
	}
	require.NoError(t, err, "%s either works or returns ErrUnsupported", what)
	return true
}

func (s *suite) testVirtualMedia(t *testing.T) {
	ctx, d := s.open(t)
	if !s.optional(t, "InsertMedia", bmc.InsertMedia(ctx, d, "http://images.example.invalid/fleetkit/boot.iso")) {
		t.Skip("no virtual media")
	}
	vm := d.(bmc.VirtualMedia)
	require.NoError(t, s.noSecret(t, vm.EjectMedia(ctx)), "EjectMedia")
}

func (s *suite) testEventLog(t *testing.T) {
	ctx, d := s.open(t)
	entries, err := bmc.EventLog(ctx, d)
	if !s.optional(t, "EventLog", err) {
		t.Skip("no event log")
	}
	for _, e := range entries {
		s.noSecretText(t, "an event log entry", e.Message)
	}
	s.setPower(t, ctx, d, bmc.PowerActionOn, bmc.PowerOn)
	_, err = bmc.EventLog(ctx, d)
	require.NoError(t, s.noSecret(t, err), "EventLog after a power action")
}

func (s *suite) testResetBMC(t *testing.T) {
	if _, unsafe := s.h.(BMCResetUnsafe); unsafe {
		t.Skip("the harness's simulator does not survive a BMC reset (BMCResetUnsafe)")
	}
	ctx, d := s.open(t)
	if !s.optional(t, "ResetBMC", bmc.ResetBMC(ctx, d)) {
		t.Skip("no BMC reset")
	}
}

func (s *suite) testString(t *testing.T) {
	if len(s.secrets) == 0 {
		t.Skip("the harness does not implement PasswordHarness")
	}
	_, d := s.open(t)
	bad := s.h.NewDriverBadCredentials(t)
	t.Cleanup(func() { _ = bad.Close(context.Background()) })
	for _, f := range []string{"%v", "%+v", "%s", "%#v"} {
		s.noSecretText(t, "the driver (formatted with "+f+")", fmt.Sprintf(f, d))
		s.noSecretText(t, "the driver with bad credentials (formatted with "+f+")", fmt.Sprintf(f, bad))
	}
}

// BenchmarkPowerState measures a driver's overhead per operation:
// PowerState on an opened driver, one goroutine, with allocations
// reported. Call it from a driver's benchmarks:
//
//	func BenchmarkPowerState(b *testing.B) { bmctest.BenchmarkPowerState(b, harness{}) }
func BenchmarkPowerState(b *testing.B, h Harness) {
	ctx := b.Context()
	d := h.NewDriver(b)
	if err := d.Open(ctx); err != nil {
		b.Fatalf("Open: %v", err)
	}
	b.Cleanup(func() { _ = d.Close(context.Background()) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.PowerState(ctx); err != nil {
			b.Fatalf("PowerState: %v", err)
		}
	}
}
