package actions_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// BenchmarkRun measures the Runner's own cost per job: every step, BMC
// session and provisioner call of an action against fakes with no latency,
// GOMAXPROCS jobs at once.
func BenchmarkRun(b *testing.B) {
	for _, a := range []lifecycle.Action{lifecycle.ActionPowerCycle, lifecycle.ActionReimage, lifecycle.ActionDecommission} {
		b.Run(string(a), func(b *testing.B) {
			bd := setup(b, nil, nil)
			// One host per goroutine: the lifecycle store never runs two
			// jobs on one host at once.
			const hosts = 256
			for i := range hosts {
				bd.fleet.add(fmt.Sprintf("node%03d", i), bmc.PowerOn)
			}
			snap := ""
			if a == lifecycle.ActionReimage {
				snap = snapshot
			}
			var n atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				host := fmt.Sprintf("node%03d", n.Add(1)%hosts)
				for pb.Next() {
					tk, _ := task(a, host, snap, nil)
					if err := bd.runner.Run(b.Context(), tk); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
