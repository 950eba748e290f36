package main

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fleetkit/fleetkit/internal/testenv"
)

// BenchmarkFleetSimulation runs the full simulation (10,000 hosts, 100
// batches, cap 500, 20–200 ms) on each store and reports the wall time's
// ratio to the ideal and the peak heap. Run it once per store:
//
//	FLEETKIT_TEST_RACE=0 scripts/test.sh -run='^$' -bench=FleetSimulation -benchtime=1x ./examples/fleetsim/
func BenchmarkFleetSimulation(b *testing.B) {
	stores := map[string]func(b *testing.B) string{
		"memory":   func(*testing.B) string { return "memory://" },
		"sqlite":   func(b *testing.B) string { return "sqlite://" + filepath.Join(b.TempDir(), "fleet.db") },
		"postgres": func(b *testing.B) string { return testenv.Postgres(b) },
	}
	for _, name := range []string{"memory", "sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var f figures
			for b.Loop() {
				var err error
				f, err = simulate(context.Background(), config{Hosts: 10_000, Batches: 100, Cap: 500,
					MinLatency: defaultMinLatency, MaxLatency: defaultMaxLatency, Action: "power-cycle", Store: stores[name](b), Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				if f.Succeeded != 10_000 || f.Overlaps != 0 {
					b.Fatalf("%d succeeded, %d overlaps", f.Succeeded, f.Overlaps)
				}
			}
			b.ReportMetric(float64(f.Wall)/float64(f.Ideal), "wall/ideal")
			b.ReportMetric(f.Wall.Seconds(), "wall-s")
			b.ReportMetric(f.Ideal.Seconds(), "ideal-s")
			b.ReportMetric(mb(f.PeakHeap), "peak-heap-MB")
			b.ReportMetric(mb(f.PeakRSS), "peak-RSS-MB")
		})
	}
}
