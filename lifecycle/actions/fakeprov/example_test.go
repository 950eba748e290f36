package fakeprov_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
	"github.com/fleetkit/fleetkit/store/storetest"
)

// A deploy on a manual clock: it waits for the host's network boot, runs
// for its drawn duration, and ends done.
func Example() {
	ctx := context.Background()
	clock := storetest.NewClock(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var booted time.Time
	p := fakeprov.New(&fakeprov.Options{
		Now:         clock.Now,
		MinDuration: 8 * time.Minute, MaxDuration: 12 * time.Minute, Seed: 1,
		Booted: func(string) (time.Time, bool) { return booted, !booted.IsZero() },
	})
	_ = p.Prepare(ctx, actions.Request{Host: "web01", Operation: actions.OpDeploy, Snapshot: "snap-2026-11"})
	st, _ := p.Status(ctx, "web01")
	fmt.Println(st.State)

	booted = clock.Now() // the host network-boots
	st, _ = p.Status(ctx, "web01")
	fmt.Println(st.State)

	clock.Advance(15 * time.Minute)
	st, _ = p.Status(ctx, "web01")
	snap, _ := p.Installed("web01")
	fmt.Println(st.State, snap, len(p.CallsFor("web01")), "calls")
	// Output:
	// pending
	// running
	// done snap-2026-11 4 calls
}

// Injected failures: the next operation fails for good.
func ExampleProvisioner_FailNext() {
	ctx := context.Background()
	p := fakeprov.New(nil)
	p.FailNext(1, true)
	_ = p.Prepare(ctx, actions.Request{Host: "web01", Operation: actions.OpWipe})
	st, _ := p.Status(ctx, "web01")
	fmt.Println(st.State, st.Permanent, st.Detail)
	// Output:
	// failed true injected permanent failure of wipe
}
