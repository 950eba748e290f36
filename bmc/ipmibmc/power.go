package ipmibmc

import (
	"context"
	"fmt"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/chassis"

	"github.com/fleetkit/fleetkit/bmc"
)

// chassisControl is the Chassis Control request (IPMI v2.0 table 28-4)
// for each power action.
var chassisControl = map[bmc.PowerAction]chassis.ChassisControl{
	bmc.PowerActionOn:      chassis.ChassisControlPowerUp,
	bmc.PowerActionOff:     chassis.ChassisControlPowerDown,
	bmc.PowerActionSoftOff: chassis.ChassisControlSoftShutdown,
	bmc.PowerActionCycle:   chassis.ChassisControlPowerCycle,
	bmc.PowerActionReset:   chassis.ChassisControlHardReset,
}

// controlName names a chassis control in errors and logs.
var controlName = map[chassis.ChassisControl]string{
	chassis.ChassisControlPowerUp:             "power up",
	chassis.ChassisControlPowerDown:           "power down",
	chassis.ChassisControlSoftShutdown:        "soft shutdown",
	chassis.ChassisControlPowerCycle:          "power cycle",
	chassis.ChassisControlHardReset:           "hard reset",
	chassis.ChassisControlDiagnosticInterrupt: "diagnostic interrupt",
}

// PowerState reads the system's power with Get Chassis Status: bmc.PowerOn
// or bmc.PowerOff (IPMI reports no transitions).
func (d *Driver) PowerState(ctx context.Context) (bmc.PowerState, error) {
	ps := bmc.PowerUnknown
	err := d.do(ctx, "read power state", func(ctx context.Context, c *client.Client) error {
		var err error
		ps, err = d.powerState(ctx, c)
		return err
	})
	return ps, err
}

func (d *Driver) powerState(ctx context.Context, c *client.Client) (bmc.PowerState, error) {
	var st *chassis.GetChassisStatusResponse
	err := d.call(ctx, "Get Chassis Status", false, func(ctx context.Context) error {
		var err error
		st, err = c.GetChassisStatus(ctx)
		return err
	})
	switch {
	case err != nil:
		return bmc.PowerUnknown, err
	case st.PowerIsOn:
		return bmc.PowerOn, nil
	}
	return bmc.PowerOff, nil
}

// SetPower reads the power state, decides with bmc.CheckPowerAction, and
// sends Chassis Control: power up (on), power down (off), soft shutdown
// (soft-off: an ACPI request to the OS), power cycle (cycle), hard reset
// (reset). A no-op sends nothing.
//
// After on and off, SetPower waits up to Options.PowerTimeout until Get
// Chassis Status reports the new state. Soft-off, cycle and reset are not
// waited for: the OS takes its time to shut down, and a cycle can be over
// (or not yet visible) by the first read. IPMI has no transitional state,
// so right after a cycle the system may still read off.
//
// Transient failures are retried (power up and power down twice do no
// harm). A soft shutdown, cycle or reset that got no answer is not sent
// again, as the BMC may have acted on it (a second ACPI power-button
// event, a second restart): the error says so and is not transient.
func (d *Driver) SetPower(ctx context.Context, a bmc.PowerAction) error {
	what := "power " + string(a)
	ctl, ok := chassisControl[a]
	if !ok {
		_, err := bmc.CheckPowerAction(bmc.PowerUnknown, a)
		return d.errorf(what, err)
	}
	noop := false
	err := d.do(ctx, what, func(ctx context.Context, c *client.Client) error {
		cur, err := d.powerState(ctx, c)
		if err != nil {
			return err
		}
		if noop, err = bmc.CheckPowerAction(cur, a); err != nil || noop {
			if noop {
				d.log.Debug("ipmibmc: power action is a no-op", "bmc", d.addr, "action", a, "state", cur)
			}
			return err
		}
		d.log.Debug("ipmibmc: chassis control", "bmc", d.addr, "action", a, "control", controlName[ctl], "state", cur)
		noRepeat := a == bmc.PowerActionSoftOff || a == bmc.PowerActionCycle || a == bmc.PowerActionReset
		return d.call(ctx, "Chassis Control ("+controlName[ctl]+")", noRepeat, func(ctx context.Context) error {
			_, err := c.ChassisControl(ctx, ctl)
			return err
		})
	})
	if err != nil || noop || d.opts.PowerTimeout < 0 {
		return err
	}
	switch a {
	case bmc.PowerActionOn:
		return d.waitPower(ctx, what, bmc.PowerOn)
	case bmc.PowerActionOff:
		return d.waitPower(ctx, what, bmc.PowerOff)
	}
	return nil
}

// waitPower polls the power state until it is want, for at most
// Options.PowerTimeout (and never past ctx). Other calls may run between
// the polls.
func (d *Driver) waitPower(ctx context.Context, what string, want bmc.PowerState) error {
	var readErr error
	err := bmc.WaitPower(ctx, want, d.opts.PollInterval, d.opts.PowerTimeout, func(ctx context.Context) (bmc.PowerState, error) {
		ps, err := d.PowerState(ctx)
		readErr = err
		return ps, err
	})
	if err == nil || err == readErr {
		return err
	}
	return d.errorf(what, fmt.Errorf("the BMC accepted the chassis control command but %w", err))
}
