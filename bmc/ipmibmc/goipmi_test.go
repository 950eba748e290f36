package ipmibmc_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
)

// goSimTarget is go-ipmi's BMC simulator as a target of the driver tests:
// one simulator, powered off again for each new driver.
func goSimTarget(t testing.TB) target {
	sim := startGoSim(t, nil)
	return target{
		newDriver: func(t testing.TB, o *ipmibmc.Options) *ipmibmc.Driver {
			require.NoError(t, sim.chassis.SetPower(context.Background(), false))
			return newTestDriver(t, sim.host, sim.port, sim.creds, o)
		},
		password:   sim.creds.Password,
		keepsUEFI:  true,
		selEntries: -1, // go-ipmi's server has no SEL commands
		coldReset:  true,
	}
}

// TestGoIPMISim runs the driver tests against go-ipmi's own BMC simulator
// (pkg/server), in process.
func TestGoIPMISim(t *testing.T) {
	t.Parallel()
	runDriverTests(t, goSimTarget(t))
}

// newSimDriver starts a simulator and returns an open driver for it.
func newSimDriver(t *testing.T, o *ipmibmc.Options) (*goSim, *ipmibmc.Driver) {
	t.Helper()
	sim := startGoSim(t, nil)
	d := newTestDriver(t, sim.host, sim.port, sim.creds, o)
	require.NoError(t, d.Open(t.Context()))
	return sim, d
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	creds := bmc.Credentials{Username: "admin", Password: "pw-XYZZY"}
	for _, tc := range []struct {
		name  string
		host  string
		port  int
		creds bmc.Credentials
		o     *ipmibmc.Options
	}{
		{name: "empty host", host: " ", creds: creds},
		{name: "URL", host: "https://bmc1", creds: creds},
		{name: "credentials in host", host: "admin:pw-XYZZY@bmc1", creds: creds},
		{name: "port in host", host: "bmc1:623", creds: creds},
		{name: "port", host: "bmc1", port: 70000, creds: creds},
		{name: "negative port", host: "bmc1", port: -1, creds: creds},
		{name: "empty user", host: "bmc1", creds: bmc.Credentials{Password: "pw-XYZZY"}},
		{name: "long user", host: "bmc1", creds: bmc.Credentials{Username: strings.Repeat("u", 17), Password: "pw-XYZZY"}},
		{name: "long password", host: "bmc1", creds: bmc.Credentials{Username: "admin", Password: "pw-XYZZY" + strings.Repeat("x", 13)}},
		{name: "long v1.5 password", host: "bmc1", creds: bmc.Credentials{Username: "admin", Password: "pw-XYZZY" + strings.Repeat("x", 9)}, o: &ipmibmc.Options{Interface: ipmibmc.InterfaceLan}},
		{name: "interface", host: "bmc1", creds: creds, o: &ipmibmc.Options{Interface: "open"}},
		{name: "cipher suite", host: "bmc1", creds: creds, o: &ipmibmc.Options{CipherSuite: 99}},
		{name: "cipher suite range", host: "bmc1", creds: creds, o: &ipmibmc.Options{CipherSuite: 300}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ipmibmc.New(tc.host, tc.port, tc.creds, tc.o)
			require.ErrorIs(t, err, bmc.ErrInvalidArgument)
			require.Nil(t, d)
			require.NotContains(t, err.Error(), "XYZZY")
		})
	}
	d, err := ipmibmc.New("bmc1.example", 0, creds, nil)
	require.NoError(t, err)
	require.Equal(t, `ipmi lanplus bmc1.example:623 as "admin" (cipher suite 3)`, d.String())
	d, err = ipmibmc.New("fd00::1", 6230, creds, &ipmibmc.Options{Interface: ipmibmc.InterfaceLan})
	require.NoError(t, err)
	require.Equal(t, `ipmi lan [fd00::1]:6230 as "admin"`, d.String())
	require.NotContains(t, fmtV(d), "XYZZY")
	require.NotContains(t, fmt.Sprintf("%#v", *d), "XYZZY")
}

func TestCipherSuite17(t *testing.T) {
	t.Parallel()
	_, d := newSimDriver(t, &ipmibmc.Options{CipherSuite: 17})
	ps, err := d.PowerState(t.Context())
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, ps)
}

func TestCipherSuiteNotOffered(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, &goSimConfig{cipherSuites: []types.CipherSuiteID{types.CipherSuiteID17}})
	d := newTestDriver(t, sim.host, sim.port, sim.creds, nil) // suite 3
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.False(t, bmc.IsTransient(err))
	require.ErrorContains(t, err, "Options.CipherSuite")
}

func TestUnknownUser(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, nil)
	d := newTestDriver(t, sim.host, sim.port, bmc.Credentials{Username: "nobody", Password: sim.creds.Password}, nil)
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.False(t, bmc.IsTransient(err))
}

// TestLanV15 opens an IPMI v1.5 session (-I lan).
func TestLanV15(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, &ipmibmc.Options{Interface: ipmibmc.InterfaceLan})
	ctx := t.Context()
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.True(t, sim.chassis.powered())
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}))
}

func TestIPv6(t *testing.T) {
	t.Parallel()
	l, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	_ = l.Close()
	sim := startGoSim(t, &goSimConfig{addr: "[::1]:0"})
	require.Equal(t, "::1", sim.host)
	d := newTestDriver(t, sim.host, sim.port, sim.creds, nil)
	require.NoError(t, d.Open(t.Context()))
	_, err = d.PowerState(t.Context())
	require.NoError(t, err)
}

// TestPowerActionsReachTheChassis checks which chassis control each action
// sends, on the simulator's counters.
func TestPowerActionsReachTheChassis(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	ctx := t.Context()
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.True(t, sim.chassis.powered())
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionCycle))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionReset))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionReset))
	cycles, resets, soft := sim.chassis.counts()
	require.Equal(t, []int{1, 2, 0}, []int{cycles, resets, soft})
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn), "no-op")
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionSoftOff))
	cycles, resets, soft = sim.chassis.counts()
	require.Equal(t, []int{1, 2, 1}, []int{cycles, resets, soft})
	require.False(t, sim.chassis.powered())
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionSoftOff), "no-op")
	cycles, resets, soft = sim.chassis.counts()
	require.Equal(t, []int{1, 2, 1}, []int{cycles, resets, soft}, "no-ops send nothing")
}

// TestBootFlagsWritten checks the boot flags the BMC holds after
// SetBootOverride, bit by bit.
func TestBootFlagsWritten(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	ctx := t.Context()
	require.Nil(t, sim.chassis.bootFlags(), "none yet")
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootDisk}))
	f := sim.chassis.bootFlags()
	require.NotNil(t, f)
	require.True(t, f.BootFlagsValid)
	require.False(t, f.Persist, "next boot only")
	require.Equal(t, types.BIOSBootTypeLegacy, f.BIOSBootType, "no mode and none before: legacy")
	require.Equal(t, types.BootDeviceSelectorForceHardDrive, f.BootDeviceSelector)

	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}))
	f = sim.chassis.bootFlags()
	require.Equal(t, types.BIOSBootTypeEFI, f.BIOSBootType)
	require.Equal(t, types.BootDeviceSelectorForcePXE, f.BootDeviceSelector)

	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootCD}))
	f = sim.chassis.bootFlags()
	require.Equal(t, types.BIOSBootTypeEFI, f.BIOSBootType, "no mode keeps the BMC's")
	require.Equal(t, types.BootDeviceSelectorForceCDROM, f.BootDeviceSelector)
}

// TestBootNotApplied: a BMC that accepts boot flags and forgets the device.
func TestBootNotApplied(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	sim.chassis.setRevert(true)
	err := d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI})
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.False(t, bmc.IsTransient(err))
	require.ErrorContains(t, err, "wrote pxe, uefi, next boot only, valid, the BMC reports no override, uefi, next boot only, valid")
	sim.chassis.setRevert(false)
	require.NoError(t, d.SetBootOverride(t.Context(), bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}))
}

// TestConsoleHealthDisabled: SOL switched off on the BMC, then on.
func TestConsoleHealthDisabled(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	sim.setSOL(t, false)
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.True(t, h.Reachable && h.Authenticated && h.Answering, "%+v", h)
	require.False(t, h.Enabled)
	require.ErrorContains(t, h.Err(), "console service disabled")
	require.Contains(t, h.Detail, "SOL Enable")
	sim.setSOL(t, true)
	h, err = d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.True(t, h.Usable(), "%+v", h)
}

// TestConsoleHealthSilentBMC: the session is open, then the BMC stops
// answering (it is gone from the network).
func TestConsoleHealthSilentBMC(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, nil)
	d := newTestDriver(t, sim.host, sim.port, sim.creds, &ipmibmc.Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, d.Open(t.Context()))
	sim.setLatency(time.Hour)
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	// go-ipmi's server answers the RMCP ping outside the command
	// registry, so the BMC still counts as reachable.
	require.True(t, h.Reachable, "%+v", h)
	require.False(t, h.Answering)
	require.False(t, h.Usable())
	require.Contains(t, h.Detail, "no usable answer")
	sim.setLatency(0)
}

// TestConsoleHealthUnreachable: after ResetBMC the BMC is gone for good;
// the check cannot open a new session and no ping is answered.
func TestConsoleHealthUnreachable(t *testing.T) {
	t.Parallel()
	// A proxy in front of a simulator, to take the BMC off the network.
	sim := startGoSim(t, nil)
	p := startUDPProxy(t, net.JoinHostPort(sim.host, fmt.Sprint(sim.port)))
	d := newTestDriver(t, "127.0.0.1", p.port, sim.creds, &ipmibmc.Options{Timeout: 100 * time.Millisecond})
	require.NoError(t, d.Open(t.Context()))
	require.NoError(t, d.ResetBMC(t.Context()))
	p.cut()
	h, err := d.ConsoleHealth(t.Context())
	require.NoError(t, err)
	require.False(t, h.Reachable, "%+v", h)
	require.False(t, h.Usable())
	require.ErrorContains(t, h.Err(), "BMC unreachable")
	require.Contains(t, h.Detail, "no answer from the BMC")
}

// TestTimeoutIsTransient: a BMC that never answers.
func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	for _, closed := range []bool{false, true} {
		t.Run(fmt.Sprintf("closed=%v", closed), func(t *testing.T) {
			t.Parallel()
			port := silentPort(t, closed)
			d := newTestDriver(t, "127.0.0.1", port, bmc.Credentials{Username: "admin", Password: "pw"},
				&ipmibmc.Options{Timeout: 50 * time.Millisecond, Retry: &bmc.RetryPolicy{MaxAttempts: 2, Initial: time.Millisecond}})
			start := time.Now()
			err := d.Open(t.Context())
			require.Error(t, err)
			require.True(t, bmc.IsTransient(err), "%v", err)
			require.ErrorContains(t, err, "no answer from the BMC")
			require.ErrorContains(t, err, "after 2 attempts", "retried per Options.Retry")
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
}

// silentPort returns a UDP port of loopback where nothing answers: a
// socket that reads and never writes, or (closed) none at all, so that
// the kernel refuses the datagrams.
func silentPort(t *testing.T, closed bool) int {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	port := c.LocalAddr().(*net.UDPAddr).Port
	if closed {
		require.NoError(t, c.Close())
		return port
	}
	t.Cleanup(func() { _ = c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := c.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return port
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, nil)
	d := newTestDriver(t, sim.host, sim.port, sim.creds, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := d.Open(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.False(t, bmc.IsTransient(err))

	require.NoError(t, d.Open(t.Context()))
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, d.SetPower(ctx, bmc.PowerActionOn), context.Canceled)
	require.False(t, sim.chassis.powered())

	// A deadline that expires while waiting for the power to settle.
	short, cancel2 := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel2()
	time.Sleep(2 * time.Millisecond)
	err = d.SetBootOverride(short, bmc.BootOverride{Device: bmc.BootPXE})
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestConcurrentUse: one driver, many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				var err error
				switch (i + j) % 4 {
				case 0:
					_, err = d.PowerState(ctx)
				case 1:
					err = d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI})
				case 2:
					var h bmc.ConsoleHealth
					h, err = d.ConsoleHealth(ctx)
					if err == nil {
						err = h.Err()
					}
				case 3:
					err = d.SetPower(ctx, bmc.PowerActionOn)
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	require.True(t, sim.chassis.powered())
}

// TestLockHonoursContext: a call waiting for its turn gives up with its
// ctx.
func TestLockHonoursContext(t *testing.T) {
	t.Parallel()
	// A BMC that never answers keeps Open busy for its whole timeout.
	port := silentPort(t, false)
	d := newTestDriver(t, "127.0.0.1", port, bmc.Credentials{Username: "admin", Password: "pw"},
		&ipmibmc.Options{Timeout: 300 * time.Millisecond, Retry: &bmc.RetryPolicy{MaxAttempts: 1}})
	started := make(chan struct{})
	go func() {
		close(started)
		_ = d.Open(context.Background())
	}()
	<-started
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 500*time.Millisecond, "gave up with its ctx, not after Open")
}

// TestNoSecretInLogs runs the driver through failures and successes with a
// debug logger and checks the password never shows.
func TestNoSecretInLogs(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, nil)
	var logs bmctest.LogBuffer
	ctx := t.Context()
	bad := newTestDriver(t, sim.host, sim.port, bmc.Credentials{Username: sim.creds.Username, Password: "Wr0ng-Pa55"}, &ipmibmc.Options{Logger: logs.Logger()})
	err := bad.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.NotContains(t, err.Error(), "Wr0ng-Pa55")
	_, _ = bad.ConsoleHealth(ctx)

	d := newTestDriver(t, sim.host, sim.port, sim.creds, &ipmibmc.Options{Logger: logs.Logger()})
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE}))
	require.NoError(t, d.ResetBMC(ctx))
	require.NoError(t, d.Close(ctx))
	out := logs.String()
	require.NotEmpty(t, out)
	for _, secret := range []string{sim.creds.Password, "Wr0ng-Pa55"} {
		require.NotContains(t, out, secret)
	}
	require.Contains(t, out, "session open")
}

// TestResetBMCGoSim: the BMC's Cold Reset reaches the BMC, which drops
// its sessions, and the driver carries on with a new session.
func TestResetBMCGoSim(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	ctx := t.Context()
	require.NoError(t, d.ResetBMC(ctx))
	require.Equal(t, 1, sim.resetCount())
	_, resets, _ := sim.chassis.counts()
	require.Zero(t, resets, "a BMC reset is not a reset of the host")
	// The BMC forgets the session while it restarts; the driver does not
	// use it again.
	require.Eventually(t, func() bool { return sim.sessionCount() == 0 }, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, 1, sim.sessionCount(), "a new session")
	h, err := d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, h.Usable())
}

// TestErrorsNameTheBMC: errors say what was done to which BMC.
func TestErrorsNameTheBMC(t *testing.T) {
	t.Parallel()
	sim, d := newSimDriver(t, nil)
	err := d.SetPower(t.Context(), bmc.PowerActionCycle)
	require.ErrorIs(t, err, bmc.ErrInvalidPowerAction)
	want := fmt.Sprintf(`ipmibmc: %s as "admin": power cycle: `, net.JoinHostPort(sim.host, fmt.Sprint(sim.port)))
	require.True(t, strings.HasPrefix(err.Error(), want), "%q does not start with %q", err, want)
	_, err = d.EventLog(t.Context())
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "Get SEL Info")
	require.True(t, errors.Is(err, bmc.ErrUnsupported) && !bmc.IsTransient(err))
}

// udpProxy relays datagrams between one client and a BMC, until cut.
type udpProxy struct {
	port int
	mu   sync.Mutex
	dead bool
}

func (p *udpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dead = true
}

func (p *udpProxy) isDead() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dead
}

// startUDPProxy relays to target from a port of loopback. Each client
// address gets an upstream socket of its own.
func startUDPProxy(t *testing.T, target string) *udpProxy {
	t.Helper()
	front, err := net.ListenPacket("udp4", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = front.Close() })
	p := &udpProxy{port: front.LocalAddr().(*net.UDPAddr).Port}
	var mu sync.Mutex
	ups := map[string]net.Conn{}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range ups {
			_ = c.Close()
		}
	})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := front.ReadFrom(buf)
			if err != nil {
				return
			}
			if p.isDead() {
				continue
			}
			mu.Lock()
			up, ok := ups[from.String()]
			if !ok {
				up, err = net.Dial("udp", target)
				if err != nil {
					mu.Unlock()
					continue
				}
				ups[from.String()] = up
				go func(up net.Conn, from net.Addr) {
					b := make([]byte, 4096)
					for {
						n, err := up.Read(b)
						if err != nil {
							return
						}
						if !p.isDead() {
							_, _ = front.WriteTo(b[:n], from)
						}
					}
				}(up, from)
			}
			mu.Unlock()
			_, _ = up.Write(buf[:n])
		}
	}()
	return p
}

// TestSessionLost: the BMC forgets the session (it restarted); the next
// call opens a new one and succeeds.
func TestSessionLost(t *testing.T) {
	t.Parallel()
	sim := startGoSim(t, nil)
	var logs bmctest.LogBuffer
	d := newTestDriver(t, sim.host, sim.port, sim.creds, &ipmibmc.Options{Timeout: 100 * time.Millisecond, Logger: logs.Logger()})
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, 1, sim.sessionCount())
	sim.forgetSessions()
	require.Zero(t, sim.sessionCount())
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOn, ps)
	require.Equal(t, 1, sim.sessionCount())
	require.Contains(t, logs.String(), "opening a new one")

	// A soft shutdown is not sent twice, even on a new session.
	sim.forgetSessions()
	err = d.SetPower(ctx, bmc.PowerActionSoftOff)
	require.NoError(t, err, "the state read gets no answer, so a new session reads it and sends the shutdown once")
	_, _, soft := sim.chassis.counts()
	require.Equal(t, 1, soft)
}
