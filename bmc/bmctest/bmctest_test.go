package bmctest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

const (
	password    = "pw-Heron-5521-bmctest"
	badPassword = "pw-Stoat-0173-bmctest"
)

// minimal implements only Harness: every check that needs control over
// the simulated BMC is skipped.
type minimal struct{}

func newBMC() *fakebmc.BMC {
	return fakebmc.New(&fakebmc.Options{Credentials: bmc.Credentials{Username: "admin", Password: password}})
}

func (minimal) NewDriver(testing.TB) bmc.Driver { return newBMC().Driver() }
func (minimal) NewDriverBadCredentials(testing.TB) bmc.Driver {
	return fakebmc.NewDriver(newBMC(), bmc.Credentials{Username: "admin", Password: badPassword})
}

func TestRunMinimalHarness(t *testing.T) { bmctest.Run(t, minimal{}) }

// full implements every optional capability over fakebmc, through the
// driver wrapper below (so a test can break the driver on purpose).
type full struct{ broken string }

func (h full) NewDriver(testing.TB) bmc.Driver { return &wrapped{newBMC().Driver(), h.broken} }
func (h full) NewDriverBadCredentials(testing.TB) bmc.Driver {
	return &wrapped{fakebmc.NewDriver(newBMC(), bmc.Credentials{Username: "admin", Password: badPassword}), h.broken}
}
func (full) Password() string    { return password }
func (full) BadPassword() string { return badPassword }

func fake(t testing.TB, d bmc.Driver) *fakebmc.BMC {
	b, ok := fakebmc.BMCOf(d.(*wrapped).Driver)
	require.True(t, ok)
	return b
}

func (full) RevertBootOverrides(t testing.TB, d bmc.Driver) { fake(t, d).SetRevertBootOverride(true) }
func (full) SetConsole(t testing.TB, d bmc.Driver, on bool) { fake(t, d).SetConsole(on, true) }
func (full) SetLatency(t testing.TB, d bmc.Driver, l time.Duration) {
	fake(t, d).SetLatency(l)
}
func (full) FailNext(t testing.TB, d bmc.Driver, n int) { fake(t, d).FailNext(n, nil) }
func (full) Sessions(t testing.TB, d bmc.Driver) int    { return fake(t, d).Sessions() }
func (full) Requests(t testing.TB, d bmc.Driver) int    { return fake(t, d).OpCount() }
func (full) LastBoot(t testing.TB, d bmc.Driver) (bmc.BootDevice, bmc.BootMode) {
	lb := fake(t, d).LastBoot()
	return lb.Device, lb.Mode
}

func TestRunFullHarness(t *testing.T) { bmctest.Run(t, full{}) }

func BenchmarkPowerState(b *testing.B) { bmctest.BenchmarkPowerState(b, minimal{}) }

// wrapped is a fakebmc driver, broken on purpose when broken is set.
type wrapped struct {
	bmc.Driver
	broken string
}

func (w *wrapped) Close(ctx context.Context) error {
	if w.broken == "close-leaks" {
		return nil
	}
	return w.Driver.Close(ctx)
}

func (w *wrapped) Open(ctx context.Context) error {
	switch w.broken {
	case "ignores-ctx":
		ctx = context.Background()
	case "auth-untyped":
		if err := w.Driver.Open(ctx); err != nil {
			return errors.New("login failed")
		}
		return nil
	}
	err := w.Driver.Open(ctx)
	if err != nil && w.broken == "leaks-password" {
		return fmt.Errorf("login with %s/%s: %w", "admin", badPassword, err)
	}
	return err
}

func (w *wrapped) PowerState(ctx context.Context) (bmc.PowerState, error) {
	if w.broken == "ignores-ctx" {
		ctx = context.Background()
	}
	return w.Driver.PowerState(ctx)
}

func (w *wrapped) SetPower(ctx context.Context, a bmc.PowerAction) error {
	err := w.Driver.SetPower(ctx, a)
	if w.broken == "cycle-while-off" && errors.Is(err, bmc.ErrInvalidPowerAction) && a == bmc.PowerActionCycle {
		return nil
	}
	return err
}

func (w *wrapped) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	err := w.Driver.SetBootOverride(ctx, o)
	if w.broken == "no-readback" && errors.Is(err, bmc.ErrBootNotApplied) {
		return nil
	}
	return err
}

// TestHelperBrokenDriver runs the suite against a broken driver when the
// parent test asks for it; it is how TestSuiteCatchesBrokenDrivers sees
// the suite fail.
func TestHelperBrokenDriver(t *testing.T) {
	broken := os.Getenv("BMCTEST_BROKEN")
	if broken == "" {
		t.Skip("run by TestSuiteCatchesBrokenDrivers")
	}
	bmctest.Run(t, full{broken: broken})
}

// TestSuiteCatchesBrokenDrivers checks that the suite fails each broken
// driver in the check meant to catch it.
func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	t.Parallel()
	for broken, check := range map[string]string{
		"close-leaks":     "TestHelperBrokenDriver/Sessions",
		"cycle-while-off": "TestHelperBrokenDriver/Power/CycleWhileOffIsInvalid",
		"no-readback":     "TestHelperBrokenDriver/Boot/Reverted",
		"leaks-password":  "TestHelperBrokenDriver/BadCredentials",
		"ignores-ctx":     "TestHelperBrokenDriver/Context/Cancelled",
		"auth-untyped":    "TestHelperBrokenDriver/BadCredentials",
	} {
		t.Run(broken, func(t *testing.T) {
			t.Parallel()
			var run []string
			for _, part := range strings.Split(check, "/") {
				run = append(run, "^"+regexp.QuoteMeta(part)+"$")
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+strings.Join(run, "/"), "-test.v")
			cmd.Env = append(os.Environ(), "BMCTEST_BROKEN="+broken)
			out, err := cmd.CombinedOutput()
			require.Error(t, err, "the suite passes a driver broken with %s:\n%s", broken, out)
			require.Contains(t, string(out), "--- FAIL: "+check+" ", "the suite fails %s in %s", broken, check)
			require.NotContains(t, string(out), password, "the suite never prints the password")
		})
	}
}
