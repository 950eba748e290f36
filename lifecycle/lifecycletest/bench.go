package lifecycletest

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// Submitters is the number of concurrent submitters BenchmarkAdmission runs.
const Submitters = 8

// BenchmarkAdmission measures admission through lifecycle.Service.Submit:
// batches of 10 hosts from Submitters concurrent goroutines, about 5% of
// them overlapping an active batch (and so rejected). It reports
// batches/s (admission decisions, accepted or rejected) and the share
// rejected.
func BenchmarkAdmission(b *testing.B, newStore NewStore) {
	st := newStore(b)
	svc, err := lifecycle.New(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var next, rejected atomic.Int64
	b.SetParallelism((Submitters + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := next.Add(1)
		var n int64
		var held string // a host of this submitter's last accepted batch
		hosts := make([]string, 10)
		prefix := "s" + strconv.FormatInt(g, 10) + "-h"
		buf := make([]byte, 0, 64)
		for pb.Next() {
			for i := range hosts {
				buf = strconv.AppendInt(append(buf[:0], prefix...), n, 10)
				hosts[i] = string(append(buf, ".bench.example.com"...))
				n++
			}
			if held != "" && n%200 < 10 { // one batch in 20 reuses a held host
				hosts[3] = held
			}
			res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bench", Action: lifecycle.ActionReboot, Hosts: hosts})
			switch {
			case err == nil:
				held = res.Batch.Hosts[0]
			case errors.Is(err, lifecycle.ErrOverlap):
				rejected.Add(1)
			default:
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "batches/s")
	}
	b.ReportMetric(100*float64(rejected.Load())/float64(max(b.N, 1)), "%rejected")
}
