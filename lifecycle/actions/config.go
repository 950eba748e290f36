package actions

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
)

// Config configures a Runner. Zero fields take their defaults: see
// WithDefaults. Deadlines are measured on the system clock through ctx;
// the poll intervals are what tests shorten to run fast, and the steps'
// recorded times come from the lifecycle.Task's clock.
type Config struct {
	// Dial builds a host's BMC driver (or a bmc.Client of several). It is
	// required. Every BMC step dials, opens, works and always closes its
	// own session, so no session is held while the Runner waits for an
	// installer for an hour.
	Dial bmc.Dialer
	// Credentials gives each host's BMC credentials; nil passes empty
	// credentials to Dial (for drivers that carry their own). Its errors
	// are retried: a vault may be down for a moment.
	Credentials bmc.CredentialSource
	// Provisioner is the downstream installer, needed by reimage,
	// wipe-disks and decommission. Without one those actions fail with a
	// permanent error wrapping ErrNoProvisioner.
	Provisioner Provisioner

	// BMCTimeout bounds a step that talks to the BMC: dial, open, the
	// operation, close (default 2m). Steps that also wait for the power
	// to settle (the power steps and the confirmations) get BMCTimeout
	// plus PowerTimeout; confirm-deployed gets ProvisionerTimeout on top.
	BMCTimeout time.Duration
	// PowerTimeout is how long a power state may take to settle: a
	// transition in progress before a power action, and the confirmation
	// after one (default 5m).
	PowerTimeout time.Duration
	// PowerPollInterval is how often the power state is read while it
	// settles (default 5s).
	PowerPollInterval time.Duration
	// ProvisionerTimeout bounds each Provisioner step that does not wait
	// for an operation: prepare, release, the final check (default 1m).
	ProvisionerTimeout time.Duration
	// DeployTimeout is how long a reimage may take from the network boot
	// to the installer's report of completion (default 1h).
	DeployTimeout time.Duration
	// WipeTimeout is how long a disk wipe may take (default 6h).
	WipeTimeout time.Duration
	// ProvisionerPollInterval is how often Provisioner.Status is read
	// while an operation runs (default 15s).
	ProvisionerPollInterval time.Duration
	// StepTimeouts overrides the timeout of steps by name (see Steps),
	// e.g. {"wait-deploy": 2 * time.Hour}.
	StepTimeouts map[string]time.Duration

	// BootMode is the firmware mode of the one-time PXE boot: bmc.BootUEFI,
	// bmc.BootLegacy, or empty (default) to keep the system's own. A job's
	// "boot-mode" parameter overrides it.
	BootMode bmc.BootMode

	// Logger logs failed steps; nil discards.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with unset fields set to their
// defaults. A nil c gives the defaults.
func (c *Config) WithDefaults() *Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&out.BMCTimeout, 2*time.Minute)
	def(&out.PowerTimeout, 5*time.Minute)
	def(&out.PowerPollInterval, 5*time.Second)
	def(&out.ProvisionerTimeout, time.Minute)
	def(&out.DeployTimeout, time.Hour)
	def(&out.WipeTimeout, 6*time.Hour)
	def(&out.ProvisionerPollInterval, 15*time.Second)
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return &out
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	if c.Dial == nil {
		return fmt.Errorf("actions: config: Dial is nil")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"BMCTimeout", c.BMCTimeout}, {"PowerTimeout", c.PowerTimeout},
		{"PowerPollInterval", c.PowerPollInterval}, {"ProvisionerTimeout", c.ProvisionerTimeout},
		{"DeployTimeout", c.DeployTimeout}, {"WipeTimeout", c.WipeTimeout},
		{"ProvisionerPollInterval", c.ProvisionerPollInterval},
	} {
		if f.d < 0 {
			return fmt.Errorf("actions: config: %s %s is negative", f.name, f.d)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.StepTimeouts)) {
		if !slices.Contains(stepNames(), name) {
			return fmt.Errorf("actions: config: StepTimeouts: unknown step %q (known: %v)", name, stepNames())
		}
		if d := c.StepTimeouts[name]; d <= 0 {
			return fmt.Errorf("actions: config: StepTimeouts[%q] %s is not positive", name, d)
		}
	}
	if err := checkBootMode(c.BootMode); err != nil {
		return fmt.Errorf("actions: config: BootMode: %w", err)
	}
	return nil
}

func checkBootMode(m bmc.BootMode) error {
	switch m {
	case "", bmc.BootUEFI, bmc.BootLegacy:
		return nil
	}
	return fmt.Errorf("%w: unknown boot mode %q (want %s or %s)", ErrInvalidParams, m, bmc.BootUEFI, bmc.BootLegacy)
}
