package fakebmc_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// Distinctive passwords, so the suite's search for them means something.
const (
	testPassword = "pw-Zebra-7731-fakebmc"
	badPassword  = "pw-Quokka-9182-wrong"
)

// harness runs the conformance suite against the in-process driver. opts
// are the options of every BMC it makes (credentials aside).
type harness struct{ opts fakebmc.Options }

var testCreds = bmc.Credentials{Username: "admin", Password: testPassword}

func (h harness) newBMC() *fakebmc.BMC {
	o := h.opts
	o.Credentials = testCreds
	return fakebmc.New(&o)
}

func (h harness) NewDriver(testing.TB) bmc.Driver { return h.newBMC().Driver() }

func (h harness) NewDriverBadCredentials(testing.TB) bmc.Driver {
	return fakebmc.NewDriver(h.newBMC(), bmc.Credentials{Username: "admin", Password: badPassword})
}

func (harness) Password() string    { return testPassword }
func (harness) BadPassword() string { return badPassword }

func bmcOf(t testing.TB, d bmc.Driver) *fakebmc.BMC {
	t.Helper()
	b, ok := fakebmc.BMCOf(d)
	require.True(t, ok, "not a fakebmc driver: %T", d)
	return b
}

func (harness) RevertBootOverrides(t testing.TB, d bmc.Driver) {
	bmcOf(t, d).SetRevertBootOverride(true)
}

func (harness) SetConsole(t testing.TB, d bmc.Driver, enabled bool) {
	bmcOf(t, d).SetConsole(enabled, true)
}

func (harness) SetLatency(t testing.TB, d bmc.Driver, latency time.Duration) {
	bmcOf(t, d).SetLatency(latency)
}

func (harness) FailNext(t testing.TB, d bmc.Driver, n int) { bmcOf(t, d).FailNext(n, nil) }

func (harness) Sessions(t testing.TB, d bmc.Driver) int { return bmcOf(t, d).Sessions() }

func (harness) Requests(t testing.TB, d bmc.Driver) int { return bmcOf(t, d).OpCount() }

func (harness) LastBoot(t testing.TB, d bmc.Driver) (bmc.BootDevice, bmc.BootMode) {
	lb := bmcOf(t, d).LastBoot()
	return lb.Device, lb.Mode
}

// Every optional capability is implemented.
var (
	_ bmctest.PasswordHarness      = harness{}
	_ bmctest.BadPasswordHarness   = harness{}
	_ bmctest.BootOverrideReverter = harness{}
	_ bmctest.ConsoleSwitcher      = harness{}
	_ bmctest.LatencySetter        = harness{}
	_ bmctest.FailureInjector      = harness{}
	_ bmctest.SessionCounter       = harness{}
	_ bmctest.RequestCounter       = harness{}
	_ bmctest.BootRecorder         = harness{}
)

func TestConformance(t *testing.T) {
	t.Run("Instant", func(t *testing.T) { bmctest.Run(t, harness{}) })
	// A BMC that takes time: latency on every operation, and power that
	// passes through powering-on and powering-off.
	t.Run("Slow", func(t *testing.T) {
		bmctest.Run(t, harness{opts: fakebmc.Options{Latency: time.Millisecond, TransitionTime: 30 * time.Millisecond}})
	})
	t.Run("UEFIOnly", func(t *testing.T) { bmctest.Run(t, harness{opts: fakebmc.Options{UEFIOnly: true}}) })
}

func BenchmarkPowerState(b *testing.B) { bmctest.BenchmarkPowerState(b, harness{}) }
