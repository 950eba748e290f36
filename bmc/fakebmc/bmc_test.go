package fakebmc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// clock is a manual clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func openDriver(t *testing.T, b *fakebmc.BMC) bmc.Driver {
	t.Helper()
	d := b.Driver()
	require.NoError(t, d.Open(t.Context()))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	require.Equal(t, bmc.PowerOff, b.PowerState())
	require.Equal(t, fakebmc.Boot{Device: bmc.BootDisk, Mode: bmc.BootUEFI}, b.LastBoot())
	d := fakebmc.NewDriver(b, bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword})
	require.Equal(t, "fake", d.Name())
	require.NoError(t, d.Open(t.Context()))
	require.NoError(t, d.Close(t.Context()))
	require.Equal(t, bmc.PowerOn, fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn}).PowerState())
}

func TestPowerStateMachine(t *testing.T) {
	t.Parallel()
	type step struct {
		a       bmc.PowerAction
		want    bmc.PowerState
		invalid bool
		boots   int // boots after the step
	}
	tests := []struct {
		name  string
		start bmc.PowerState
		steps []step
	}{
		{"on then off", bmc.PowerOff, []step{{bmc.PowerActionOn, bmc.PowerOn, false, 1}, {bmc.PowerActionOff, bmc.PowerOff, false, 1}}},
		{"on twice boots once", bmc.PowerOff, []step{{bmc.PowerActionOn, bmc.PowerOn, false, 1}, {bmc.PowerActionOn, bmc.PowerOn, false, 1}}},
		{"soft-off", bmc.PowerOn, []step{{bmc.PowerActionSoftOff, bmc.PowerOff, false, 0}}},
		{"soft-off while off", bmc.PowerOff, []step{{bmc.PowerActionSoftOff, bmc.PowerOff, false, 0}}},
		{"cycle while on boots", bmc.PowerOn, []step{{bmc.PowerActionCycle, bmc.PowerOn, false, 1}}},
		{"reset while on boots", bmc.PowerOn, []step{{bmc.PowerActionReset, bmc.PowerOn, false, 1}}},
		{"cycle while off", bmc.PowerOff, []step{{bmc.PowerActionCycle, bmc.PowerOff, true, 0}}},
		{"reset while off", bmc.PowerOff, []step{{bmc.PowerActionReset, bmc.PowerOff, true, 0}}},
		{"unknown action", bmc.PowerOn, []step{{"explode", bmc.PowerOn, true, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := fakebmc.New(&fakebmc.Options{InitialPower: tc.start})
			d := openDriver(t, b)
			for _, s := range tc.steps {
				err := d.SetPower(t.Context(), s.a)
				if s.invalid {
					require.ErrorIs(t, err, bmc.ErrInvalidPowerAction, "%s", s.a)
				} else {
					require.NoError(t, err, "%s", s.a)
				}
				require.Equal(t, s.want, b.PowerState(), "after %s", s.a)
				got, err := d.PowerState(t.Context())
				require.NoError(t, err)
				require.Equal(t, s.want, got)
				require.Equal(t, s.boots, b.Boots(), "boots after %s", s.a)
			}
		})
	}
}

func TestTransitions(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := fakebmc.New(&fakebmc.Options{TransitionTime: 10 * time.Second, Now: clk.Now})
	d := openDriver(t, b)
	ctx := t.Context()

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, bmc.PowerPoweringOn, b.PowerState())
	// While powering on, only off is allowed (CheckPowerAction).
	require.ErrorIs(t, d.SetPower(ctx, bmc.PowerActionCycle), bmc.ErrInvalidPowerAction)
	clk.Advance(10 * time.Second)
	require.Equal(t, bmc.PowerOn, b.PowerState())

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionSoftOff))
	require.Equal(t, bmc.PowerPoweringOff, b.PowerState())
	clk.Advance(9 * time.Second)
	got, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerPoweringOff, got)
	clk.Advance(time.Second)
	require.Equal(t, bmc.PowerOff, b.PowerState())

	// Off stops a machine stuck powering on, at once.
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOff))
	require.Equal(t, bmc.PowerOff, b.PowerState())
	clk.Advance(time.Minute)
	require.Equal(t, bmc.PowerOff, b.PowerState(), "the cancelled transition does not come back")
}

func TestBootOverrideConsumedOnce(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := fakebmc.New(&fakebmc.Options{Now: clk.Now, BootMode: bmc.BootLegacy})
	d := openDriver(t, b)
	ctx := t.Context()

	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}))
	o, ok := b.PendingBootOverride()
	require.True(t, ok)
	require.Equal(t, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}, o)

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, fakebmc.Boot{Device: bmc.BootPXE, Mode: bmc.BootUEFI, Override: true, Time: clk.Now()}, b.LastBoot())
	_, ok = b.PendingBootOverride()
	require.False(t, ok, "consumed by the boot")

	clk.Advance(time.Minute)
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionReset))
	require.Equal(t, fakebmc.Boot{Device: bmc.BootDisk, Mode: bmc.BootLegacy, Time: clk.Now()}, b.LastBoot(), "the next boot is the system's own")

	// An override without a mode keeps the system's mode.
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootCD}))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionCycle))
	require.Equal(t, fakebmc.Boot{Device: bmc.BootCD, Mode: bmc.BootLegacy, Override: true, Time: clk.Now()}, b.LastBoot())
	require.Equal(t, 3, b.Boots())
}

func TestBootOverrideReverted(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{RevertBootOverride: true})
	d := openDriver(t, b)
	err := d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE})
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.ErrorContains(t, err, "BMC reports none")
	b.SetRevertBootOverride(false)
	require.NoError(t, d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE}))
}

func TestBootOverrideInvalidTouchesNothing(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{UEFIOnly: true})
	d := openDriver(t, b)
	n := b.OpCount()
	require.ErrorIs(t, d.SetBootOverride(t.Context(), bmc.BootOverride{Device: "floppy"}), bmc.ErrInvalidArgument)
	require.Equal(t, n, b.OpCount())
	require.ErrorIs(t, d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootLegacy}), bmc.ErrUnsupported)
}

func TestFailNext(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{Retry: &bmc.RetryPolicy{MaxAttempts: 1}})
	d := openDriver(t, b)
	ctx := t.Context()

	b.FailNext(2, nil)
	for range 2 {
		_, err := d.PowerState(ctx)
		require.ErrorIs(t, err, fakebmc.ErrInjected)
		require.True(t, bmc.IsTransient(err))
	}
	_, err := d.PowerState(ctx)
	require.NoError(t, err, "only the next 2 fail")

	boom := errors.New("boom")
	b.FailNext(1, boom)
	require.ErrorIs(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE}), boom)

	ops := b.Ops()
	require.ErrorIs(t, ops[len(ops)-1].Err, boom, "failures are recorded")
}

func TestFailNextRetried(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil) // default retry policy: 3 attempts
	d := openDriver(t, b)
	b.FailNext(2, nil)
	require.NoError(t, d.SetPower(t.Context(), bmc.PowerActionOn), "two transient failures are retried")
	require.Equal(t, bmc.PowerOn, b.PowerState())

	b.FailNext(3, nil)
	_, err := d.PowerState(t.Context())
	require.ErrorIs(t, err, fakebmc.ErrInjected)
	require.ErrorContains(t, err, "after 3 attempts")

	b.FailNext(5, fmt.Errorf("denied: %w", bmc.ErrAuth))
	_, err = d.PowerState(t.Context())
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.NotContains(t, err.Error(), "attempts", "permanent failures are not retried")
	b.FailNext(0, nil)
}

func TestFailureRate(t *testing.T) {
	t.Parallel()
	// A deterministic "random" source: fail, pass, pass, fail, …
	var mu sync.Mutex
	draws := []float64{0.1, 0.9, 0.9}
	i := 0
	rnd := func() float64 {
		mu.Lock()
		defer mu.Unlock()
		v := draws[i%len(draws)]
		i++
		return v
	}
	b := fakebmc.New(&fakebmc.Options{FailureRate: 0.5, Rand: rnd, Retry: &bmc.RetryPolicy{MaxAttempts: 1}})
	d := b.Driver()
	require.ErrorIs(t, d.Open(t.Context()), fakebmc.ErrInjected, "draw 0.1 < 0.5 fails")
	require.NoError(t, d.Open(t.Context()))
	_, err := d.PowerState(t.Context())
	require.NoError(t, err)
	_, err = d.PowerState(t.Context())
	require.ErrorIs(t, err, fakebmc.ErrInjected)
	require.NoError(t, d.Close(t.Context()), "logging out never fails")
	require.Zero(t, b.Sessions())

	b.SetFailureRate(0)
	require.NoError(t, d.Open(t.Context()))
	require.NoError(t, d.Close(t.Context()))
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	d := openDriver(t, b)
	b.SetReachable(false)
	_, err := d.PowerState(t.Context())
	require.ErrorIs(t, err, fakebmc.ErrUnreachable)
	require.True(t, bmc.IsTransient(err))
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err, "an unreachable BMC is a result of the check")
	require.False(t, h.Reachable)
	require.ErrorContains(t, h.Err(), "BMC unreachable")
	require.NoError(t, d.Close(t.Context()))
	require.Zero(t, b.Sessions(), "logging out works even when unreachable")
	b.SetReachable(true)
	require.NoError(t, d.Open(t.Context()))
}

func TestConsoleHealth(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{ConsoleSilent: true})
	d := openDriver(t, b)
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.True(t, h.Reachable && h.Authenticated && h.Enabled)
	require.False(t, h.Answering)
	require.ErrorContains(t, h.Err(), "console service not answering")

	b.SetConsole(false, false)
	h, err = d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.ErrorContains(t, h.Err(), "console service disabled")

	b.SetConsole(true, true)
	h, err = d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.True(t, h.Usable())
	require.Equal(t, "SOL", h.Console)
}

func TestSessions(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	ctx := t.Context()
	d1, d2 := b.Driver(), b.Driver()
	require.NoError(t, d1.Open(ctx))
	require.NoError(t, d1.Open(ctx), "Open twice keeps one session")
	require.NoError(t, d2.Open(ctx))
	require.Equal(t, 2, b.Sessions())
	require.NoError(t, d1.Close(ctx))
	require.NoError(t, d1.Close(ctx))
	require.Equal(t, 1, b.Sessions())

	// Close logs out even when ctx is done.
	done, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, d2.Close(done))
	require.Zero(t, b.Sessions())

	bad := fakebmc.NewDriver(b, bmc.Credentials{Username: "admin", Password: "s3cr3t-Wrong-pw"})
	err := bad.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.NotContains(t, err.Error(), "s3cr3t-Wrong-pw")
	require.Zero(t, b.Sessions())
}

func TestLatencyHonoursContext(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	d := openDriver(t, b)
	b.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
	b.SetLatency(0)
}

func TestOpsAndOverlaps(t *testing.T) {
	t.Parallel()
	clk := newClock()
	b := fakebmc.New(&fakebmc.Options{Host: "web01", Now: clk.Now})
	d := openDriver(t, b)
	ctx := t.Context()

	clk.Advance(time.Second)
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	ops := b.Ops()
	require.Len(t, ops, 3) // open, power-state, set-power
	require.Equal(t, []fakebmc.OpKind{fakebmc.OpOpen, fakebmc.OpPowerState, fakebmc.OpSetPower},
		[]fakebmc.OpKind{ops[0].Kind, ops[1].Kind, ops[2].Kind})
	require.Equal(t, "web01", ops[2].Host)
	require.Equal(t, "on", ops[2].Detail)
	require.Equal(t, clk.Now(), ops[2].Start)
	require.Equal(t, uint64(3), ops[2].Seq)
	require.Empty(t, b.Overlaps(), "one driver at a time never overlaps")

	// Two drivers at once on one slow BMC do overlap.
	b.SetLatency(200 * time.Millisecond)
	other := openDriver(t, b)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, dr := range []bmc.Driver{d, other} {
		wg.Go(func() { _, errs[i] = dr.PowerState(ctx) })
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	overlaps := b.Overlaps()
	require.Len(t, overlaps, 1)
	require.Equal(t, 1, b.OverlapCount())
	require.Equal(t, fakebmc.OpPowerState, overlaps[0].First.Kind)
	require.Equal(t, fakebmc.OpPowerState, overlaps[0].Second.Kind)
	require.Less(t, overlaps[0].First.Seq, overlaps[0].Second.Seq)
	require.False(t, overlaps[0].First.End.IsZero(), "completed ops carry their end")

	b.ResetOps()
	require.Empty(t, b.Ops())
	require.Empty(t, b.Overlaps())
}

func TestOpHistoryBounded(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{OpHistory: 10})
	d := openDriver(t, b)
	for range 100 {
		_, err := d.PowerState(t.Context())
		require.NoError(t, err)
	}
	ops := b.Ops()
	require.LessOrEqual(t, len(ops), 20)
	require.GreaterOrEqual(t, len(ops), 10)
	require.Equal(t, uint64(101), ops[len(ops)-1].Seq, "the newest are kept")
	require.Equal(t, 101, b.OpCount())

	none := fakebmc.New(&fakebmc.Options{OpHistory: -1})
	d = openDriver(t, none)
	_, err := d.PowerState(t.Context())
	require.NoError(t, err)
	require.Empty(t, none.Ops())
}

func TestEventLogAndCapabilities(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	d := openDriver(t, b)
	ctx := t.Context()
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn)) // no-op: no entry
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionCycle))
	require.NoError(t, bmc.ResetBMC(ctx, d))
	entries, err := bmc.EventLog(ctx, d)
	require.NoError(t, err)
	require.Len(t, entries, 3)
	require.Contains(t, entries[0].Message, "power action on")
	require.Contains(t, entries[1].Message, "power action cycle")
	require.Equal(t, "BMC reset", entries[2].Message)
	require.Equal(t, []string{"1", "2", "3"}, []string{entries[0].ID, entries[1].ID, entries[2].ID})
	require.Equal(t, 1, b.BMCResets())
	require.Equal(t, entries, b.EventLog())

	require.ErrorIs(t, bmc.InsertMedia(ctx, d, "ftp://x/y.iso"), bmc.ErrInvalidArgument)
	require.NoError(t, bmc.InsertMedia(ctx, d, "https://user:s3cr3t@images.example/boot.iso"))
	require.Equal(t, "https://user:s3cr3t@images.example/boot.iso", b.Media())
	ops := b.Ops()
	require.NotContains(t, ops[len(ops)-1].Detail, "s3cr3t", "media URLs are recorded redacted")
	require.NoError(t, d.(bmc.VirtualMedia).EjectMedia(ctx))
	require.Empty(t, b.Media())
}

func TestEventLogBounded(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn, OpHistory: -1})
	d := openDriver(t, b)
	for range fakebmc.MaxEventLog + 10 {
		require.NoError(t, d.SetPower(t.Context(), bmc.PowerActionReset))
	}
	log := b.EventLog()
	require.Len(t, log, fakebmc.MaxEventLog)
	require.Equal(t, "11", log[0].ID)
}

func TestNotOpen(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	d := b.Driver()
	ctx := t.Context()
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	_, err = bmc.EventLog(ctx, d)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.ErrorIs(t, bmc.ResetBMC(ctx, d), bmc.ErrNotOpen)
	require.ErrorIs(t, bmc.InsertMedia(ctx, d, "http://x/y.iso"), bmc.ErrNotOpen)
	require.Zero(t, b.OpCount(), "a driver that is not open asks the BMC nothing")
}

func TestStringHidesPassword(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{Host: "web01", Credentials: testCreds})
	d := b.Driver()
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		require.NotContains(t, fmt.Sprintf(f, b), testPassword, f)
		require.NotContains(t, fmt.Sprintf(f, d), testPassword, f)
	}
	require.Equal(t, `fakebmc driver for "web01" (user "admin")`, fmt.Sprint(d))
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{FailureRate: 0.1, OpHistory: 100})
	ctx := t.Context()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			d := b.Driver()
			if d.Open(ctx) != nil {
				return
			}
			defer func() { _ = d.Close(ctx) }()
			for i := range 50 {
				_ = d.SetPower(ctx, bmc.PowerActions()[i%5])
				_, _ = d.PowerState(ctx)
				_ = d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE})
				_, _ = d.ConsoleHealth(ctx)
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for range 50 {
				_ = b.Ops()
				_ = b.Overlaps()
				_ = b.PowerState()
				b.SetConsole(true, true)
			}
		})
	}
	wg.Wait()
	require.Zero(t, b.Sessions())
}

func TestOverlapsBounded(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{Latency: 200 * time.Millisecond, OpHistory: -1})
	const n = 60 // 60*59/2 = 1770 pairs
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			d := b.Driver()
			_ = d.Open(t.Context()) // the logins overlap
			_ = d.Close(context.Background())
		})
	}
	wg.Wait()
	require.Len(t, b.Overlaps(), fakebmc.MaxOverlaps)
	require.Greater(t, b.OverlapCount(), fakebmc.MaxOverlaps)
	for _, p := range b.Overlaps() {
		require.Less(t, p.First.Seq, p.Second.Seq)
		require.NotZero(t, p.First.Seq)
	}
}
