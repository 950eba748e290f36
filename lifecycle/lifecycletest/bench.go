package lifecycletest

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

// Queue benchmark shape.
const (
	// QueueWorkers is the number of concurrent workers
	// BenchmarkQueueThroughput runs.
	QueueWorkers = 32
	// QueueClaimMax is how many jobs each of its claims asks for.
	QueueClaimMax = 8
	// queueBatchSize is the hosts of each batch it preloads.
	queueBatchSize = 100
)

// BenchmarkQueueThroughput measures the job queue with a no-op action:
// b.N jobs are admitted first (untimed, in batches of 100 hosts), then
// QueueWorkers goroutines each loop ClaimJobs (Max QueueClaimMax, no caps)
// and FinishJobs (succeeded) until every job has ended. It reports
// jobs/s (claimed and finished).
func BenchmarkQueueThroughput(b *testing.B, newStore NewStore) {
	st := newStore(b)
	var q lifecycle.QueueStore = st
	svc, err := lifecycle.New(st, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	hosts := make([]string, 0, queueBatchSize)
	for i := 0; i < b.N; i += queueBatchSize {
		hosts = hosts[:0]
		for k := i; k < min(i+queueBatchSize, b.N); k++ {
			hosts = append(hosts, "q"+strconv.Itoa(k)+".bench.example.com")
		}
		if _, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bench", Action: lifecycle.ActionReboot, Hosts: hosts}); err != nil {
			b.Fatal(err)
		}
	}
	var done atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range QueueWorkers {
		wg.Go(func() {
			worker := "bench-" + strconv.Itoa(w)
			rs := make([]lifecycle.JobResult, 0, QueueClaimMax)
			for done.Load() < int64(b.N) {
				now := time.Now()
				cs, err := q.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: worker, Max: QueueClaimMax, At: now, LeaseUntil: now.Add(time.Minute)})
				if err != nil {
					b.Error(err)
					return
				}
				if len(cs) == 0 {
					time.Sleep(time.Millisecond) // the rest are claimed by others
					continue
				}
				rs = rs[:0]
				now = time.Now()
				for _, c := range cs {
					rs = append(rs, lifecycle.JobResult{Lease: c.Lease, To: lifecycle.JobSucceeded, At: now})
				}
				fin, err := q.FinishJobs(ctx, rs)
				if err != nil {
					b.Error(err)
					return
				}
				for _, f := range fin {
					if f.Err != nil {
						b.Error(f.Err)
						return
					}
				}
				done.Add(int64(len(cs)))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "jobs/s")
	}
	counts, err := st.ActiveCounts(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if len(counts) != 0 {
		b.Fatalf("jobs left unfinished: %+v", counts)
	}
}
