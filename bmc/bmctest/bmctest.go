// Package bmctest is the conformance suite every bmc.Driver passes.
//
// A driver's tests implement a Harness that returns drivers for a fresh
// simulated system (bmc/fakebmc in process or over HTTP, OpenIPMI's
// ipmi_sim, go-ipmi's server, …) and call Run:
//
//	func TestConformance(t *testing.T) { bmctest.Run(t, harness{}) }
//
// Run checks the contract documented on bmc.Driver with errors.Is: Open
// and Close (Close twice is fine; operations before Open and after Close
// fail with bmc.ErrNotOpen), bad credentials (bmc.ErrAuth, not transient),
// every power action from off and on, decided by bmc.CheckPowerAction and
// read back with PowerState, one-time PXE boot overrides (UEFI, and legacy
// unless the driver answers bmc.ErrUnsupported) with invalid ones refused
// with bmc.ErrInvalidArgument, the console health check, prompt failure
// when ctx is done, the optional capabilities (they work or return
// bmc.ErrUnsupported), and that no error and no String of a driver shows
// the password.
//
// Simulators cannot all do everything, so each check that needs control
// over the simulated BMC (revert boot overrides, disable the console, add
// latency, inject a failure, count sessions or requests, see the boot that
// happened) runs only when the harness implements the matching optional
// interface: BootOverrideReverter, ConsoleSwitcher, LatencySetter,
// FailureInjector, SessionCounter, RequestCounter, BootRecorder,
// PasswordHarness. Checks whose capability is missing are skipped, with a
// message that says which interface would enable them.
//
// # Concurrency
//
// Run calls t.Parallel in every subtest: harnesses must be safe for
// concurrent use, and every driver they return must reach its own system.
package bmctest

import (
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
)

// Harness makes drivers for the suite. Every driver it returns is not yet
// opened and reaches a fresh simulated system of its own that starts
// powered off, with no boot override and a usable console. The harness
// arranges its own cleanup with t.Cleanup; the suite closes the drivers.
type Harness interface {
	// NewDriver returns a driver with the right credentials.
	NewDriver(t testing.TB) bmc.Driver
	// NewDriverBadCredentials returns a driver whose BMC refuses its
	// credentials.
	NewDriverBadCredentials(t testing.TB) bmc.Driver
}

// PasswordHarness is an optional harness capability: Password returns the
// password of the drivers NewDriver returns, which the suite searches for
// in every error and in every driver's String. Use a distinctive password
// ("pw-Zebra-7731") so the search means something; a harness without this
// capability skips no check but proves nothing about secrets.
type PasswordHarness interface {
	Password() string
}

// BadPasswordHarness is an optional harness capability: BadPassword
// returns the (wrong) password of the drivers NewDriverBadCredentials
// returns, which must not appear in their errors either.
type BadPasswordHarness interface {
	BadPassword() string
}

// BootOverrideReverter is an optional harness capability: make the
// simulated BMC behind d accept boot overrides and silently drop them, so
// the suite can check that SetBootOverride fails with
// bmc.ErrBootNotApplied.
type BootOverrideReverter interface {
	RevertBootOverrides(t testing.TB, d bmc.Driver)
}

// ConsoleSwitcher is an optional harness capability: enable or disable
// the remote console service of the simulated BMC behind d.
type ConsoleSwitcher interface {
	SetConsole(t testing.TB, d bmc.Driver, enabled bool)
}

// LatencySetter is an optional harness capability: make every operation of
// the simulated BMC behind d take latency, so the suite can check that a
// driver gives up when ctx's deadline passes in the middle of one.
type LatencySetter interface {
	SetLatency(t testing.TB, d bmc.Driver, latency time.Duration)
}

// FailureInjector is an optional harness capability: make the next n
// operations of the simulated BMC behind d fail transiently (a 503, a node
// busy), so the suite can check that the driver retries them.
type FailureInjector interface {
	FailNext(t testing.TB, d bmc.Driver, n int)
}

// SessionCounter is an optional harness capability: count the sessions
// open on the simulated BMC behind d, so the suite can check that Close
// logs out.
type SessionCounter interface {
	Sessions(t testing.TB, d bmc.Driver) int
}

// RequestCounter is an optional harness capability: count the requests
// (operations) the simulated BMC behind d has served, so the suite can
// check that invalid input is refused without asking the BMC.
type RequestCounter interface {
	Requests(t testing.TB, d bmc.Driver) int
}

// BootRecorder is an optional harness capability: the device and mode the
// simulated system behind d last booted with, so the suite can check that
// a boot override is used by the next power on.
type BootRecorder interface {
	LastBoot(t testing.TB, d bmc.Driver) (bmc.BootDevice, bmc.BootMode)
}

// BMCResetUnsafe is an optional harness marker: a harness whose simulator
// does not survive a BMC reset implements it, and the suite does not call
// ResetBMC.
type BMCResetUnsafe interface {
	BMCResetUnsafe()
}

// Timing of the suite.
const (
	// SettleTimeout is how long the suite polls PowerState for a power
	// action to take effect.
	SettleTimeout = 30 * time.Second
	// Prompt is how soon an operation must fail once ctx is done.
	Prompt = 2 * time.Second
	// opTimeout bounds every call of the suite.
	opTimeout = time.Minute
)
