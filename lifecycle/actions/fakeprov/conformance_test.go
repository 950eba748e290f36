package fakeprov_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
	"github.com/fleetkit/fleetkit/lifecycle/actions/provisionertest"
)

var (
	hosts     = []string{"web01", "web02", "web03", "web04", "web05", "web06"}
	snapshots = []string{"snap-2026-11"}
)

// bootHarness boots hosts by recording the time, read by Options.Booted.
type bootHarness struct{ opts fakeprov.Options }

func (h bootHarness) Setup(t testing.TB) provisionertest.Fixture {
	var mu sync.Mutex
	boots := make(map[string]time.Time)
	o := h.opts
	o.Hosts, o.Snapshots = hosts, snapshots
	o.Booted = func(host string) (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		bt, ok := boots[host]
		return bt, ok
	}
	return provisionertest.Fixture{
		Provisioner: fakeprov.New(&o),
		Boot: func(_ context.Context, host string) error {
			mu.Lock()
			defer mu.Unlock()
			boots[host] = time.Now()
			return nil
		},
		Hosts: hosts, Snapshot: snapshots[0],
		UnknownHost: "db99", UnknownSnapshot: "snap-1999-01",
	}
}

// bmcHarness boots hosts through simulated BMCs: a one-time PXE boot
// override, then power on (or cycle), as the reimage action does.
type bmcHarness struct{}

func (bmcHarness) Setup(t testing.TB) provisionertest.Fixture {
	bmcs := make(map[string]*fakebmc.BMC)
	for _, h := range hosts {
		bmcs[h] = fakebmc.New(&fakebmc.Options{Host: h})
	}
	lookup := func(h string) (*fakebmc.BMC, bool) { b, ok := bmcs[h]; return b, ok }
	p := fakeprov.New(&fakeprov.Options{Hosts: hosts, Snapshots: snapshots, Booted: fakeprov.PXEBoots(lookup),
		MinDuration: time.Millisecond, MaxDuration: 20 * time.Millisecond, Seed: 7})
	return provisionertest.Fixture{
		Provisioner: p,
		Boot: func(ctx context.Context, host string) error {
			d := bmcs[host].Driver()
			defer d.Close(context.WithoutCancel(ctx))
			if err := d.Open(ctx); err != nil {
				return err
			}
			if err := d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE}); err != nil {
				return err
			}
			a := bmc.PowerActionCycle
			if ps, err := d.PowerState(ctx); err != nil {
				return err
			} else if ps == bmc.PowerOff {
				a = bmc.PowerActionOn
			}
			return d.SetPower(ctx, a)
		},
		Hosts: hosts, Snapshot: snapshots[0],
		UnknownHost: "db99", UnknownSnapshot: "snap-1999-01",
	}
}

func TestConformance(t *testing.T) {
	t.Run("Instant", func(t *testing.T) { provisionertest.Run(t, bootHarness{}) })
	t.Run("Latency", func(t *testing.T) {
		provisionertest.Run(t, bootHarness{opts: fakeprov.Options{
			CallLatency: time.Millisecond, MinDuration: 5 * time.Millisecond, MaxDuration: 30 * time.Millisecond, Seed: 42}})
	})
	t.Run("FakeBMC", func(t *testing.T) { provisionertest.Run(t, bmcHarness{}) })
}
