package lifecycletest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// ConcurrentDuration is how long the concurrency property test submits. It
// is shortened under -short.
var ConcurrentDuration = 3 * time.Second

// admitted is what the property test knows of one accepted batch: the
// logical times (from one global counter) around its admission, and for each
// host the time the first call that may have released it began.
type admitted struct {
	id                    string
	hosts                 []string
	acceptStart, accepted int64
	mu                    sync.Mutex
	release               map[string]int64
}

func (a *admitted) mayRelease(host string, at int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.release[host]; !ok {
		a.release[host] = at
	}
}

// testConcurrentAdmission: 16 goroutines submit random overlapping batches
// over a small pool of hosts, cancel some and run jobs of others to the end,
// for ConcurrentDuration. Then no host may be held by two active batches,
// every host record must agree with the batch that holds it, and no batch may
// have been admitted while another definitely held one of its hosts.
func testConcurrentAdmission(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	svc, err := lifecycle.New(f.st, nil) // the real clock: many goroutines
	require.NoError(t, err)
	const workers, poolSize = 16, 120
	pool := make([]string, poolSize)
	for i := range pool {
		pool[i] = fmt.Sprintf("node%03d.pool.example.com", i)
	}
	d := ConcurrentDuration
	if testing.Short() {
		d = d / 6
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()

	var clock atomic.Int64 // logical time: orders calls across goroutines
	var mu sync.Mutex
	var all []*admitted
	var accepted, rejected, cancels, finished atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var mine []*admitted
			for ctx.Err() == nil {
				switch op := rng.IntN(10); {
				case op < 6 || len(mine) == 0: // submit
					n := 1 + rng.IntN(6)
					perm := rng.Perm(poolSize)[:n]
					hosts := make([]string, n)
					for i, p := range perm {
						hosts[i] = pool[p]
					}
					start := clock.Add(1)
					res, err := svc.Submit(context.Background(), lifecycle.SubmitParams{
						Owner: fmt.Sprintf("w%d", w), Action: lifecycle.ActionReboot, Hosts: hosts})
					end := clock.Add(1)
					switch {
					case err == nil:
						a := &admitted{id: res.Batch.ID, hosts: res.Batch.Hosts, acceptStart: start, accepted: end, release: map[string]int64{}}
						mine = append(mine, a)
						mu.Lock()
						all = append(all, a)
						mu.Unlock()
						accepted.Add(1)
					case errors.Is(err, lifecycle.ErrOverlap):
						rejected.Add(1)
					default:
						errs <- fmt.Errorf("submit: %w", err)
						return
					}
				case op < 8: // cancel one of mine
					a := mine[rng.IntN(len(mine))]
					at := clock.Add(1)
					for _, h := range a.hosts {
						a.mayRelease(h, at)
					}
					if _, err := svc.Cancel(context.Background(), a.id); err != nil {
						errs <- fmt.Errorf("cancel: %w", err)
						return
					}
					cancels.Add(1)
				default: // run one job of mine to its end
					a := mine[rng.IntN(len(mine))]
					h := a.hosts[rng.IntN(len(a.hosts))]
					now := time.Now().UTC().Truncate(time.Microsecond)
					_, err := f.st.UpdateJob(context.Background(), lifecycle.JobUpdate{BatchID: a.id, Host: h,
						From: lifecycle.JobPending, To: lifecycle.JobRunning, At: now})
					if errors.Is(err, lifecycle.ErrInvalidTransition) {
						continue // cancelled or already run
					}
					if err != nil {
						errs <- fmt.Errorf("start job: %w", err)
						return
					}
					end := lifecycle.JobSucceeded
					if rng.IntN(4) == 0 {
						end = lifecycle.JobFailed
					}
					a.mayRelease(h, clock.Add(1))
					if _, err := f.st.UpdateJob(context.Background(), lifecycle.JobUpdate{BatchID: a.id, Host: h,
						From: lifecycle.JobRunning, To: end, At: now}); err != nil {
						errs <- fmt.Errorf("end job: %w", err)
						return
					}
					finished.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	t.Logf("%d accepted, %d rejected as overlapping, %d cancels, %d jobs run, in %s",
		accepted.Load(), rejected.Load(), cancels.Load(), finished.Load(), d)
	require.Positive(t, accepted.Load())
	require.Positive(t, rejected.Load(), "the pool is small enough that some batches must overlap")

	// 1. No two admissions overlap in time on a host: if b was admitted
	// entirely inside the span in which a surely held h, the store let two
	// batches hold h at once.
	holders := map[string][]*admitted{}
	for _, a := range all {
		for _, h := range a.hosts {
			holders[h] = append(holders[h], a)
		}
	}
	for h, as := range holders {
		for _, a := range as {
			rel, ok := a.release[h]
			if !ok {
				rel = 1 << 62
			}
			for _, b := range as {
				if a != b && b.acceptStart > a.accepted && b.accepted < rel {
					t.Fatalf("host %s: batch %s admitted during [%d,%d] while batch %s held it from %d to %d",
						h, b.id, b.acceptStart, b.accepted, a.id, a.accepted, rel)
				}
			}
		}
	}

	// 2. The store's final state: active batches hold disjoint hosts, and
	// each held host's record names its batch.
	holder := map[string]string{}
	flt := lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchPending, lifecycle.BatchRunning}, Limit: lifecycle.MaxPageSize}
	for {
		p, err := f.st.ListBatches(context.Background(), flt)
		require.NoError(t, err)
		for _, sb := range p.Batches {
			b, err := f.st.Batch(context.Background(), sb.ID)
			require.NoError(t, err)
			for _, j := range b.Jobs {
				if j.State.Ended() {
					continue
				}
				prev, dup := holder[j.Host]
				require.False(t, dup, "host %s held by active batches %s and %s", j.Host, prev, b.ID)
				holder[j.Host] = b.ID
			}
		}
		if p.Next == "" {
			break
		}
		flt.Cursor = p.Next
	}
	for _, name := range pool {
		h, err := f.st.Host(context.Background(), name)
		require.NoError(t, err)
		if id, ok := holder[name]; ok {
			require.True(t, h.State.Held(), "host %s has an unfinished job of %s but is %s", name, id, h.State)
			require.Equal(t, id, h.BatchID, "host %s", name)
		} else {
			require.False(t, h.State.Held(), "host %s is %s by %s but no active job holds it", name, h.State, h.BatchID)
		}
	}
}
