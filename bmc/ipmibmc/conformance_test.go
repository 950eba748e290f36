package ipmibmc_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
	"github.com/fleetkit/fleetkit/internal/testenv"
)

// goSimHarness gives every driver a go-ipmi simulator of its own, with all
// of bmctest's optional capabilities but virtual media (IPMI has none).
type goSimHarness struct {
	sims sync.Map // bmc.Driver → *goSim
}

const goSimBadPassword = "pw-Badger-0913"

var (
	_ bmctest.Harness              = (*goSimHarness)(nil)
	_ bmctest.PasswordHarness      = (*goSimHarness)(nil)
	_ bmctest.BadPasswordHarness   = (*goSimHarness)(nil)
	_ bmctest.BootOverrideReverter = (*goSimHarness)(nil)
	_ bmctest.ConsoleSwitcher      = (*goSimHarness)(nil)
	_ bmctest.LatencySetter        = (*goSimHarness)(nil)
	_ bmctest.FailureInjector      = (*goSimHarness)(nil)
	_ bmctest.SessionCounter       = (*goSimHarness)(nil)
	_ bmctest.RequestCounter       = (*goSimHarness)(nil)
	_ bmctest.BootRecorder         = (*goSimHarness)(nil)
)

func (h *goSimHarness) driver(t testing.TB, password string) bmc.Driver {
	sim := startGoSim(t, nil)
	creds := sim.creds
	creds.Password = password
	d := newTestDriver(t, sim.host, sim.port, creds, nil)
	h.sims.Store(d, sim)
	t.Cleanup(func() { h.sims.Delete(d) })
	return d
}

func (h *goSimHarness) sim(t testing.TB, d bmc.Driver) *goSim {
	t.Helper()
	s, ok := h.sims.Load(d)
	require.True(t, ok, "not a driver of this harness")
	return s.(*goSim)
}

func (h *goSimHarness) NewDriver(t testing.TB) bmc.Driver { return h.driver(t, goSimPassword) }
func (h *goSimHarness) NewDriverBadCredentials(t testing.TB) bmc.Driver {
	return h.driver(t, goSimBadPassword)
}
func (h *goSimHarness) Password() string    { return goSimPassword }
func (h *goSimHarness) BadPassword() string { return goSimBadPassword }

func (h *goSimHarness) RevertBootOverrides(t testing.TB, d bmc.Driver) {
	h.sim(t, d).chassis.setRevert(true)
}

func (h *goSimHarness) SetConsole(t testing.TB, d bmc.Driver, enabled bool) {
	h.sim(t, d).setSOL(t, enabled)
}

func (h *goSimHarness) SetLatency(t testing.TB, d bmc.Driver, latency time.Duration) {
	h.sim(t, d).setLatency(latency)
}

func (h *goSimHarness) FailNext(t testing.TB, d bmc.Driver, n int) { h.sim(t, d).setFailNext(n) }

func (h *goSimHarness) Sessions(t testing.TB, d bmc.Driver) int {
	s := h.sim(t, d)
	// Close Session answers before the store lets go of the session.
	time.Sleep(20 * time.Millisecond)
	return s.sessionCount()
}

func (h *goSimHarness) Requests(t testing.TB, d bmc.Driver) int { return h.sim(t, d).requestCount() }

func (h *goSimHarness) LastBoot(t testing.TB, d bmc.Driver) (bmc.BootDevice, bmc.BootMode) {
	return h.sim(t, d).chassis.lastBoot()
}

// TestConformanceGoIPMISim runs bmctest against go-ipmi's simulator.
func TestConformanceGoIPMISim(t *testing.T) {
	t.Parallel()
	bmctest.Run(t, &goSimHarness{})
}

func BenchmarkPowerStateGoIPMISim(b *testing.B) {
	bmctest.BenchmarkPowerState(b, &goSimHarness{})
}

// ipmiSimHarness gives drivers for the one machine of the test ipmi_sim
// (FLEETKIT_TEST_IPMI). A test holds the machine from its first NewDriver
// to its end, so bmctest's parallel subtests take turns; NewDriver powers
// the machine off first. Drivers with bad credentials do not need it. The
// harness switches SOL through a go-ipmi client of its own; ipmi_sim
// offers nothing to revert boot overrides, add latency or inject
// failures, and the harness cannot see the chassis state files to record
// boots.
//
// The drivers use Options.IgnoreBootValid (ipmi_sim reports the boot
// flags "valid" bit clear), and a UEFI boot override skips the test that
// asked for it: ipmi_sim keeps no UEFI bit.
type ipmiSimHarness struct {
	host  string
	port  int
	creds bmc.Credentials
}

var (
	_ bmctest.Harness            = (*ipmiSimHarness)(nil)
	_ bmctest.PasswordHarness    = (*ipmiSimHarness)(nil)
	_ bmctest.BadPasswordHarness = (*ipmiSimHarness)(nil)
	_ bmctest.ConsoleSwitcher    = (*ipmiSimHarness)(nil)
)

func newIPMISimHarness(t testing.TB) *ipmiSimHarness {
	host, port, creds := testenv.IPMI(t)
	return &ipmiSimHarness{host: host, port: port, creds: creds}
}

func (h *ipmiSimHarness) NewDriver(t testing.TB) bmc.Driver {
	holdIPMISim(t)
	powerOffIPMISim(t, h.host, h.port, h.creds)
	d := newTestDriver(t, h.host, h.port, h.creds, &ipmibmc.Options{IgnoreBootValid: true})
	return ipmiSimDriver{Driver: d, t: t}
}

func (h *ipmiSimHarness) NewDriverBadCredentials(t testing.TB) bmc.Driver {
	creds := h.creds
	creds.Password = h.BadPassword()
	return newTestDriver(t, h.host, h.port, creds, nil)
}

func (h *ipmiSimHarness) Password() string    { return h.creds.Password }
func (h *ipmiSimHarness) BadPassword() string { return "pw-Walrus-5520" }

// client opens a go-ipmi session of the harness's own with ipmi_sim, for
// what the driver cannot do; it is closed when t ends.
func (h *ipmiSimHarness) client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewClient(h.host, h.port, h.creds.Username, h.creds.Password)
	require.NoError(t, err)
	c.WithCipherSuiteID(types.CipherSuiteID3)
	c.WithTimeout(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.Connect(ctx))
	return c
}

// SetConsole sets SOL configuration parameter 1, SOL Enable (ipmitool sol
// set enabled); enabled again when the test ends.
func (h *ipmiSimHarness) SetConsole(t testing.TB, _ bmc.Driver, enabled bool) {
	set := func(on bool) error {
		c := h.client(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer func() { _ = c.Close(ctx) }()
		v := byte(0)
		if on {
			v = 1
		}
		_, err := c.SetSOLConfigParam(ctx, 0x0e, types.SOLConfigParamSelector_SOLEnable, []byte{v})
		return err
	}
	require.NoError(t, set(enabled), "Set SOL Configuration Parameters (SOL Enable)")
	if !enabled {
		t.Cleanup(func() {
			if err := set(true); err != nil {
				t.Errorf("enable SOL on ipmi_sim again: %v", err)
			}
		})
	}
}

// sessions counts the sessions ipmi_sim has (Get Session Info), less the
// one it opens to ask. Not bmctest's SessionCounter: ipmi_sim counts the
// half-open session of a refused login too (as ipmitool's, until the BMC
// times it out), which bmctest's "a refused Open leaves no session" would
// take for the driver's.
func (h *ipmiSimHarness) sessions(t testing.TB) int {
	c := h.client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer func() { _ = c.Close(ctx) }()
	info, err := c.GetCurrentSessionInfo(ctx)
	require.NoError(t, err, "Get Session Info")
	return int(info.CurrentActiveSessions) - 1
}

// ipmiSimDriver skips its test when ipmi_sim loses the UEFI bit of a boot
// override, and is the driver otherwise.
type ipmiSimDriver struct {
	*ipmibmc.Driver
	t testing.TB
}

func (d ipmiSimDriver) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	err := d.Driver.SetBootOverride(ctx, o)
	if o.Mode == bmc.BootUEFI && errors.Is(err, bmc.ErrBootNotApplied) &&
		strings.Contains(err.Error(), "another boot mode") && !strings.Contains(err.Error(), "another device") {
		d.t.Skipf("ipmi_sim cannot keep a UEFI boot override: its Get System Boot Options reports the UEFI bit clear whatever Set System Boot Options wrote (%v)", err)
	}
	return err
}

// ipmiSimMachine is the one machine of the test ipmi_sim: a token, and
// the test holding it.
var ipmiSimMachine = struct {
	token  chan struct{}
	mu     sync.Mutex
	holder testing.TB
}{token: make(chan struct{}, 1)}

// holdIPMISim waits for the ipmi_sim machine and holds it until t ends;
// a test holding it already goes on.
func holdIPMISim(t testing.TB) {
	m := &ipmiSimMachine
	m.mu.Lock()
	mine := m.holder == t
	m.mu.Unlock()
	if mine {
		return
	}
	select {
	case m.token <- struct{}{}:
	case <-t.Context().Done():
		t.Fatal("gave up waiting for the ipmi_sim machine")
	}
	m.mu.Lock()
	m.holder = t
	m.mu.Unlock()
	t.Cleanup(func() {
		m.mu.Lock()
		m.holder = nil
		m.mu.Unlock()
		<-m.token
	})
}

// TestConformanceIPMISim runs bmctest against OpenIPMI's ipmi_sim.
func TestConformanceIPMISim(t *testing.T) {
	bmctest.Run(t, newIPMISimHarness(t))
}

func BenchmarkPowerStateIPMISim(b *testing.B) {
	bmctest.BenchmarkPowerState(b, newIPMISimHarness(b))
}
