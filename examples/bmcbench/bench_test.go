package main

import (
	"testing"
	"time"
)

// BenchmarkFanOut power-cycles 500 simulated systems (20ms of latency
// each) through redfishbmc drivers, 256 at once, per iteration. Besides
// ns/op (the wall time of one fan-out) it reports ideal-ratio, the wall
// time over latency × waiting-requests-per-host × hosts / concurrency
// (counting only the requests that wait the BMC's latency, as the fake
// served them), req/host (every request) and peak-heap-MB.
//
//	go test -run '^$' -bench FanOut ./examples/bmcbench/
func BenchmarkFanOut(b *testing.B) {
	for _, bc := range []struct {
		endpoints    string
		sharedClient bool
	}{
		{endpointsShared, true},
		{endpointsShared, false},
		{endpointsPerHost, true},
	} {
		name := bc.endpoints + "/shared-client"
		if !bc.sharedClient {
			name = bc.endpoints + "/client-per-driver"
		}
		b.Run(name, func(b *testing.B) {
			cfg := config{
				Systems: 500, Latency: 20 * time.Millisecond, Concurrency: 256, Op: opCycle,
				Endpoints: bc.endpoints, SharedClient: bc.sharedClient, Timeout: time.Minute,
			}
			bn, err := newBench(cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(bn.close)
			var sum figures
			var peak uint64
			n := 0
			for b.Loop() {
				f := bn.run(b.Context())
				if f.Failures > 0 || f.Verified != f.Hosts {
					b.Fatalf("%d of %d hosts failed, %d verified (first error: %v)", f.Failures, f.Hosts, f.Verified, f.FirstErr)
				}
				sum.Hosts += f.Hosts
				sum.Wall += f.Wall
				sum.Requests += f.Requests
				sum.SysRequests += f.SysRequests
				peak = max(peak, f.PeakHeap)
				n++
			}
			wall := sum.Wall / time.Duration(n)
			b.ReportMetric(ratioOf(wall, ideal(cfg.Latency, sum.SysReqPerHost(), cfg.Systems, cfg.Concurrency)), "ideal-ratio")
			b.ReportMetric(sum.ReqPerHost(), "req/host")
			b.ReportMetric(mb(peak), "peak-heap-MB")
		})
	}
}
