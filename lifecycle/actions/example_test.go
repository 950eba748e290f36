package actions_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
)

// A power cycle of a host through its (simulated) BMC, run outside a
// worker with lifecycle.NewTask.
func ExampleRunner_Run() {
	ctx := context.Background()
	web01 := fakebmc.New(&fakebmc.Options{Host: "web01", InitialPower: bmc.PowerOn})
	r, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
			return fakebmc.NewDriver(web01, creds), nil
		},
		Credentials:       &bmc.StaticCredentials{Default: bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}},
		PowerPollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	job := lifecycle.Job{BatchID: "b-1", Host: "web01", Action: lifecycle.ActionPowerCycle, Attempts: 1}
	t := lifecycle.NewTask(job, "", nil, nil, nil)
	if err := r.Run(ctx, t); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range t.Steps() {
		fmt.Println(s.Name, s.Outcome)
	}
	fmt.Println("power:", web01.PowerState(), "boots:", web01.Boots())
	// Output:
	// power-cycle succeeded
	// confirm-on succeeded
	// power: on boots: 1
}

// A reimage: the provisioner is armed with the batch's snapshot, the host
// network-boots through a one-time PXE override, and the installer
// reports the deploy.
func ExampleRunner_Run_reimage() {
	ctx := context.Background()
	web01 := fakebmc.New(&fakebmc.Options{Host: "web01"})
	prov := fakeprov.New(&fakeprov.Options{
		Booted:      fakeprov.PXEBoots(func(string) (*fakebmc.BMC, bool) { return web01, true }),
		MinDuration: 20 * time.Millisecond,
	})
	r, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, host string, _ bmc.Credentials) (bmc.Driver, error) {
			return web01.Driver(), nil
		},
		Provisioner:             prov,
		PowerPollInterval:       10 * time.Millisecond,
		ProvisionerPollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	job := lifecycle.Job{BatchID: "b-2", Host: "web01", Action: lifecycle.ActionReimage, Attempts: 1}
	t := lifecycle.NewTask(job, "snap-2026-11", nil, nil, nil)
	if err := r.Run(ctx, t); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range t.Steps() {
		fmt.Println(s.Name, s.Outcome)
	}
	snap, _ := prov.Installed("web01")
	fmt.Println("booted from:", web01.LastBoot().Device, "installed:", snap)
	// Output:
	// prepare-deploy succeeded
	// set-pxe-boot succeeded
	// power-cycle succeeded
	// wait-deploy succeeded
	// confirm-deployed succeeded
	// booted from: pxe installed: snap-2026-11
}

// Failures that retrying cannot fix are marked permanent, so workers do not
// retry them.
func ExampleRunner_Run_permanent() {
	r, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
			return fakebmc.NewDriver(fakebmc.New(nil), creds), nil
		},
		Credentials: &bmc.StaticCredentials{Default: bmc.Credentials{Username: "admin", Password: "wrong"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	t := lifecycle.NewTask(lifecycle.Job{Host: "web01", Action: lifecycle.ActionPowerOn, Attempts: 1}, "", nil, nil, nil)
	err = r.Run(context.Background(), t)
	fmt.Println("permanent:", lifecycle.IsPermanent(err))
	// Output:
	// permanent: true
}

func ExampleSteps() {
	for _, a := range []lifecycle.Action{lifecycle.ActionReboot, lifecycle.ActionDecommission} {
		fmt.Println(a, actions.Steps(a))
	}
	// Output:
	// reboot [reboot confirm-on]
	// decommission [prepare-wipe set-pxe-boot power-cycle wait-wipe power-off confirm-off release]
}
