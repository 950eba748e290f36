package ipmibmc_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
)

// Power a machine on, boot it from the network once, and check its
// serial console; here against go-ipmi's BMC simulator, in process.
func Example() {
	sim, stop, err := serveGoSim(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	d, err := ipmibmc.New(sim.host, sim.port, bmc.Credentials{Username: "admin", Password: goSimPassword}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Open(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close(ctx)

	if err := d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}); err != nil {
		fmt.Println(err)
		return
	}
	if err := d.SetPower(ctx, bmc.PowerActionOn); err != nil {
		fmt.Println(err)
		return
	}
	ps, err := d.PowerState(ctx)
	fmt.Println("power:", ps, err)
	dev, mode := sim.chassis.lastBoot()
	fmt.Println("booted from:", dev, mode)
	h, err := d.ConsoleHealth(ctx)
	fmt.Println("console:", h.Console, "usable:", h.Usable(), err)

	// Actions are decided by bmc.CheckPowerAction, the same for every
	// driver: off while off does nothing, cycle while off is refused.
	fmt.Println("off:", d.SetPower(ctx, bmc.PowerActionOff))
	fmt.Println("off again:", d.SetPower(ctx, bmc.PowerActionOff))
	err = d.SetPower(ctx, bmc.PowerActionCycle)
	fmt.Println("cycle while off refused:", errors.Is(err, bmc.ErrInvalidPowerAction))
	// Output:
	// power: on <nil>
	// booted from: pxe uefi
	// console: SOL usable: true <nil>
	// off: <nil>
	// off again: <nil>
	// cycle while off refused: true
}

// A wrong password is bmc.ErrAuth, which no retry will fix.
func ExampleDriver_Open_wrongPassword() {
	sim, stop, err := serveGoSim(nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()

	d, err := ipmibmc.New(sim.host, sim.port, bmc.Credentials{Username: "admin", Password: "not-the-password"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	err = d.Open(ctx)
	fmt.Println(errors.Is(err, bmc.ErrAuth), bmc.IsTransient(err))
	fmt.Println(d.Close(ctx))
	// Output:
	// true false
	// <nil>
}
