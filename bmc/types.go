package bmc

import (
	"fmt"
	"time"
)

// PowerState is a system's power as its BMC reports it.
type PowerState string

// Power states.
const (
	PowerOn          PowerState = "on"
	PowerOff         PowerState = "off"
	PowerPoweringOn  PowerState = "powering-on"
	PowerPoweringOff PowerState = "powering-off"
	// PowerUnknown: the BMC answered but did not say (or said something
	// this package does not know).
	PowerUnknown PowerState = "unknown"
)

// PowerAction is a change of power a caller asks for.
type PowerAction string

// Power actions.
const (
	// PowerActionOn powers the system on.
	PowerActionOn PowerAction = "on"
	// PowerActionOff cuts power at once (Redfish ForceOff, IPMI power down).
	PowerActionOff PowerAction = "off"
	// PowerActionSoftOff asks the OS to shut down (Redfish
	// GracefulShutdown, IPMI soft off / ACPI).
	PowerActionSoftOff PowerAction = "soft-off"
	// PowerActionCycle turns the power off and on again (Redfish
	// PowerCycle, IPMI power cycle).
	PowerActionCycle PowerAction = "cycle"
	// PowerActionReset restarts the system without cutting power
	// (Redfish ForceRestart, IPMI hard reset).
	PowerActionReset PowerAction = "reset"
)

// PowerActions returns every power action, in a stable order.
func PowerActions() []PowerAction {
	return []PowerAction{PowerActionOn, PowerActionOff, PowerActionSoftOff, PowerActionCycle, PowerActionReset}
}

// Valid reports whether a is a known power action.
func (a PowerAction) Valid() bool {
	switch a {
	case PowerActionOn, PowerActionOff, PowerActionSoftOff, PowerActionCycle, PowerActionReset:
		return true
	}
	return false
}

// CheckPowerAction decides what action a means for a system whose power is
// cur, the same way for every driver:
//
//   - on while on, and off or soft-off while off, are no-ops: noop is true
//     and the driver sends nothing (asking twice is safe);
//   - cycle and reset while off fail with an error wrapping
//     ErrInvalidPowerAction: many BMCs silently ignore them, or power the
//     system on, and a caller who asked to restart a machine that was off
//     should decide what they want (use on);
//   - while powering on or off, every action but off waits for no one and
//     fails with ErrInvalidPowerAction; off is allowed, to stop a machine
//     that is stuck;
//   - an unknown state lets every action through.
//
// Unknown actions fail with ErrInvalidPowerAction.
func CheckPowerAction(cur PowerState, a PowerAction) (noop bool, err error) {
	if !a.Valid() {
		return false, fmt.Errorf("%w: unknown power action %q (known: %v)", ErrInvalidPowerAction, a, PowerActions())
	}
	switch cur {
	case PowerOn:
		return a == PowerActionOn, nil
	case PowerOff:
		switch a {
		case PowerActionOff, PowerActionSoftOff:
			return true, nil
		case PowerActionCycle, PowerActionReset:
			return false, fmt.Errorf("%w: %s while the system is off (power it on instead)", ErrInvalidPowerAction, a)
		}
		return false, nil
	case PowerPoweringOn, PowerPoweringOff:
		if a == PowerActionOff {
			return false, nil
		}
		return false, fmt.Errorf("%w: %s while the system is %s; try again when it settles", ErrInvalidPowerAction, a, cur)
	}
	return false, nil
}

// BootDevice is a device to boot from once.
type BootDevice string

// Boot devices.
const (
	BootPXE  BootDevice = "pxe"
	BootDisk BootDevice = "disk"
	BootCD   BootDevice = "cd"
)

// BootMode is the firmware interface to boot with.
type BootMode string

// Boot modes.
const (
	BootUEFI   BootMode = "uefi"
	BootLegacy BootMode = "legacy"
)

// BootOverride asks for the next boot, and only the next, to use a device.
type BootOverride struct {
	Device BootDevice
	// Mode is UEFI or legacy; empty leaves the system's mode unchanged.
	Mode BootMode
}

// Validate reports an unknown device or mode, wrapping ErrInvalidArgument.
func (o BootOverride) Validate() error {
	switch o.Device {
	case BootPXE, BootDisk, BootCD:
	default:
		return fmt.Errorf("%w: unknown boot device %q (want pxe, disk or cd)", ErrInvalidArgument, o.Device)
	}
	switch o.Mode {
	case "", BootUEFI, BootLegacy:
	default:
		return fmt.Errorf("%w: unknown boot mode %q (want uefi or legacy)", ErrInvalidArgument, o.Mode)
	}
	return nil
}

// ConsoleHealth answers "is this host's remote console usable": each step
// from the network to the console service, so a caller can show where it
// breaks.
type ConsoleHealth struct {
	// Reachable: the BMC answered on the network.
	Reachable bool `json:"reachable"`
	// Authenticated: the credentials were accepted.
	Authenticated bool `json:"authenticated"`
	// Enabled: the BMC reports a remote console service enabled (serial
	// over LAN, a serial or command-shell console).
	Enabled bool `json:"enabled"`
	// Answering: the console service answered a probe.
	Answering bool `json:"answering"`
	// Console names the console found, e.g. "SOL", "SerialConsole/SSH".
	Console string `json:"console,omitempty"`
	// Detail says, in words a person can act on, why the console is not
	// usable; empty when it is.
	Detail string `json:"detail,omitempty"`
	// Latency is how long the check took.
	Latency time.Duration `json:"latency_ns"`
}

// Usable reports whether every step passed.
func (h ConsoleHealth) Usable() bool {
	return h.Reachable && h.Authenticated && h.Enabled && h.Answering
}

// Err returns nil when the console is usable, and otherwise an error
// wrapping ErrConsoleUnusable that names the first step that failed.
func (h ConsoleHealth) Err() error {
	step := ""
	switch {
	case !h.Reachable:
		step = "BMC unreachable"
	case !h.Authenticated:
		step = "authentication failed"
	case !h.Enabled:
		step = "console service disabled"
	case !h.Answering:
		step = "console service not answering"
	default:
		return nil
	}
	if h.Detail != "" {
		return fmt.Errorf("%w: %s: %s", ErrConsoleUnusable, step, h.Detail)
	}
	return fmt.Errorf("%w: %s", ErrConsoleUnusable, step)
}

// LogEntry is one record of a BMC's system event log.
type LogEntry struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Severity string    `json:"severity"`
	Message  string    `json:"message"`
}
