package main

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

// simulateFleet runs lifecycle workers in this process for validate
// -simulate: simulated BMCs for the hosts, a simulated installer that can
// deploy snapshot id, and a pool over the command's store. stop ends the
// workers.
func simulateFleet(ctx context.Context, e *env, id string, hosts []string) (stop func(), err error) {
	bmcs := map[string]*fakebmc.BMC{}
	for _, h := range hosts {
		bmcs[h] = fakebmc.New(&fakebmc.Options{Host: h, InitialPower: bmc.PowerOn, Latency: 5 * time.Millisecond})
	}
	lookup := func(h string) (*fakebmc.BMC, bool) { b, ok := bmcs[h]; return b, ok }
	prov := fakeprov.New(&fakeprov.Options{Snapshots: []string{id}, MinDuration: 50 * time.Millisecond,
		MaxDuration: 200 * time.Millisecond, Booted: fakeprov.PXEBoots(lookup)})
	runner, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, h string, _ bmc.Credentials) (bmc.Driver, error) {
			b, ok := lookup(h)
			if !ok {
				return nil, fmt.Errorf("no simulated BMC for %s", h)
			}
			return b.Driver(), nil
		},
		Provisioner: prov, PowerPollInterval: 10 * time.Millisecond, ProvisionerPollInterval: 20 * time.Millisecond,
	})
	if err != nil {
		return nil, err
	}
	pool, err := lifecycle.NewPool(e.life, &lifecycle.PoolConfig{Runner: runner, PollInterval: 20 * time.Millisecond,
		Locker: e.backend})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { _ = pool.Run(pctx); close(done) }()
	fmt.Fprintf(e.stdout, "simulated fleet: %d canaries with simulated BMCs and installer, workers running here\n", len(hosts))
	return func() { cancel(); <-done }, nil
}
