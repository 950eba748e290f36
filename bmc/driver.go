package bmc

import (
	"context"
	"fmt"
)

// Driver controls one host's BMC over one protocol. A Driver holds a
// session: Open it first, and always Close it (Close logs out, so BMCs with
// few session slots are not exhausted). Every operation but Open and Close
// fails with an error wrapping ErrNotOpen before Open and after Close.
// Every call is bounded by ctx.
//
// Drivers retry transient failures (IsTransient) with backoff and never
// retry permanent ones. Credentials never appear in a driver's errors,
// logs or String().
//
// A Driver is used by one goroutine at a time unless its documentation says
// otherwise; bmc.Client and bmc.FanOut respect that.
type Driver interface {
	// Name names the protocol, e.g. "redfish", "ipmi", "fake".
	Name() string
	// Open authenticates and opens a session. It returns an error wrapping
	// ErrAuth when the BMC refuses the credentials.
	Open(ctx context.Context) error
	// Close logs out and releases the session. It is safe to call more
	// than once and after a failed Open.
	Close(ctx context.Context) error
	// PowerState reads the system's power.
	PowerState(ctx context.Context) (PowerState, error)
	// SetPower performs action a, decided with CheckPowerAction against the
	// current power state: a no-op returns nil without asking the BMC, an
	// action that makes no sense fails with ErrInvalidPowerAction.
	SetPower(ctx context.Context, a PowerAction) error
	// SetBootOverride sets a one-time boot override, then reads it back;
	// when the BMC reports something else it fails with an error wrapping
	// ErrBootNotApplied.
	SetBootOverride(ctx context.Context, o BootOverride) error
	// ConsoleHealth checks the remote console, step by step. The error is
	// for failures of the check itself (ctx done); an unusable console is
	// reported in the result, with the steps that failed.
	ConsoleHealth(ctx context.Context) (ConsoleHealth, error)
}

// VirtualMedia is an optional capability: attach an ISO image by URL.
type VirtualMedia interface {
	InsertMedia(ctx context.Context, imageURL string) error
	EjectMedia(ctx context.Context) error
}

// BMCResetter is an optional capability: restart the BMC itself (not the
// host).
type BMCResetter interface {
	ResetBMC(ctx context.Context) error
}

// EventLogReader is an optional capability: read the system event log.
type EventLogReader interface {
	EventLog(ctx context.Context) ([]LogEntry, error)
}

// InsertMedia attaches imageURL through d, or returns ErrUnsupported when d
// has no virtual media.
func InsertMedia(ctx context.Context, d Driver, imageURL string) error {
	vm, ok := d.(VirtualMedia)
	if !ok {
		return unsupported(d, "virtual media")
	}
	return vm.InsertMedia(ctx, imageURL)
}

// ResetBMC restarts the BMC through d, or returns ErrUnsupported.
func ResetBMC(ctx context.Context, d Driver) error {
	r, ok := d.(BMCResetter)
	if !ok {
		return unsupported(d, "BMC reset")
	}
	return r.ResetBMC(ctx)
}

// EventLog reads the system event log through d, or returns
// ErrUnsupported.
func EventLog(ctx context.Context, d Driver) ([]LogEntry, error) {
	r, ok := d.(EventLogReader)
	if !ok {
		return nil, unsupported(d, "system event log")
	}
	return r.EventLog(ctx)
}

func unsupported(d Driver, what string) error {
	return fmt.Errorf("bmc: %s driver: %s: %w", d.Name(), what, ErrUnsupported)
}
