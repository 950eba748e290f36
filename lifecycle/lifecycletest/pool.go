package lifecycletest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// poolTests run a lifecycle.Pool on the store, with real time and short
// intervals; each takes well under a second.
var poolTests = []struct {
	name string
	fn   func(*testing.T, NewStore)
}{
	{"PoolRunsBatches", testPoolRunsBatches},
	{"PoolRetries", testPoolRetries},
	{"PoolCancelReachesRunningJob", testPoolCancel},
	{"PoolPanic", testPoolPanic},
	{"PoolTimeout", testPoolTimeout},
	{"PoolShutdown", testPoolShutdown},
	{"PoolRescue", testPoolRescue},
	{"PoolLimits", testPoolLimits},
}

// scriptRunner runs each job as two steps; script decides, per host and
// attempt, what the second step does.
type scriptRunner struct {
	script func(ctx context.Context, t *lifecycle.Task) error

	mu      sync.Mutex
	calls   map[string]int // host → attempts run
	running int
	peak    int
}

func (r *scriptRunner) Run(ctx context.Context, t *lifecycle.Task) error {
	r.mu.Lock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[t.Job.Host]++
	r.running++
	r.peak = max(r.peak, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if err := t.Step(ctx, "prepare", func(context.Context) error { return nil }); err != nil {
		return err
	}
	return t.Step(ctx, "work", func(ctx context.Context) error {
		if r.script == nil {
			return nil
		}
		return r.script(ctx, t)
	})
}

func (r *scriptRunner) attempts(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// fastPool returns pool settings for tests: short intervals, quick retries.
func fastPool(r lifecycle.Runner, n fleetkit.Notifier) *lifecycle.PoolConfig {
	return &lifecycle.PoolConfig{
		Runner: r, Concurrency: 4, PollInterval: 5 * time.Millisecond,
		// A long lease, so that a heartbeat slowed by a busy machine never
		// loses it; frequent heartbeats, so that cancellations arrive fast.
		LeaseTTL: 5 * time.Second, HeartbeatInterval: 20 * time.Millisecond, RescueInterval: 20 * time.Millisecond,
		Retry:    lifecycle.RetryPolicy{MaxAttempts: 3, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond},
		Notifier: n, ShutdownTimeout: time.Second,
	}
}

// startPool runs a pool until the test ends (or the returned stop is
// called, which waits for Run to return).
func startPool(t *testing.T, st lifecycle.Store, cfg *lifecycle.PoolConfig) (p *lifecycle.Pool, stop func()) {
	t.Helper()
	p, err := lifecycle.NewPool(st, cfg)
	require.NoError(t, err)
	require.NotEmpty(t, p.Name())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// waitEvent waits for n events of kind and returns the one about subject.
func waitEvent(t *testing.T, rec *fleetkit.Recorder, kind, subject string, n int) fleetkit.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es, err := rec.WaitFor(ctx, kind, n)
	require.NoError(t, err)
	for _, e := range es {
		if e.Subject == subject {
			return e
		}
	}
	t.Fatalf("no %s event about %s among %+v", kind, subject, es)
	return fleetkit.Event{}
}

// waitBatch waits until batch id ended and returns it.
func (f *fixture) waitBatch(t *testing.T, id string) *lifecycle.Batch {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := f.st.Batch(f.ctx, id)
		require.NoError(t, err)
		if !b.State.Active() {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("batch %s still %s after 10s: %+v", id, b.State, b.Counts)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testPoolRunsBatches(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	rec := &fleetkit.Recorder{}
	r := &scriptRunner{}
	b1 := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com", "a3.dc1.example.com")
	b2 := f.submit(t, "bob", lifecycle.ActionPowerOn, "b1.dc2.example.com")
	m := &countMetrics{}
	cfg := fastPool(r, rec)
	cfg.Metrics = m
	_, stop := startPool(t, f.st, cfg)
	for _, id := range []string{b1.ID, b2.ID} {
		b := f.waitBatch(t, id)
		require.Equal(t, lifecycle.BatchSucceeded, b.State)
		for _, j := range b.Jobs {
			require.Equal(t, 1, j.Attempts)
			require.Equal(t, lifecycle.HostReady, f.hostState(t, j.Host).State)
			steps, err := queueOf(t, f.st).JobSteps(f.ctx, id, j.Host)
			require.NoError(t, err)
			require.Len(t, steps, 2)
			require.Equal(t, "prepare", steps[0].Name)
			require.Equal(t, "work", steps[1].Name)
			require.Equal(t, lifecycle.StepSucceeded, steps[1].Outcome)
			require.Equal(t, 1, steps[1].Attempt)
		}
	}
	e := waitEvent(t, rec, lifecycle.EventBatchFinished, b1.ID, 2)
	require.Equal(t, "succeeded", e.Attrs["state"])
	require.Equal(t, "a1.dc1.example.com,a2.dc1.example.com,a3.dc1.example.com", e.Attrs["succeeded"])
	require.Equal(t, "3", e.Attrs["succeeded_count"])
	stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	require.Equal(t, 4, m.claimed)
	require.Equal(t, map[lifecycle.JobState]int{lifecycle.JobSucceeded: 4}, m.attempts)
	require.Equal(t, 8, m.steps)
}

// countMetrics is a lifecycle.PoolMetrics that counts.
type countMetrics struct {
	mu       sync.Mutex
	claimed  int
	attempts map[lifecycle.JobState]int
	steps    int
}

func (m *countMetrics) Claimed(n int, _ time.Duration) { m.mu.Lock(); m.claimed += n; m.mu.Unlock() }
func (m *countMetrics) AttemptEnded(_ lifecycle.Action, s lifecycle.JobState, _ time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.attempts == nil {
		m.attempts = map[lifecycle.JobState]int{}
	}
	m.attempts[s]++
}
func (m *countMetrics) StepEnded(lifecycle.Action, lifecycle.Step) {
	m.mu.Lock()
	m.steps++
	m.mu.Unlock()
}

func testPoolRetries(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	rec := &fleetkit.Recorder{}
	const (
		flaky     = "a1.dc1.example.com" // fails twice, then works
		permanent = "a2.dc1.example.com" // fails for good at once
		broken    = "a3.dc1.example.com" // fails every attempt
	)
	r := &scriptRunner{}
	r.script = func(_ context.Context, t *lifecycle.Task) error {
		switch t.Job.Host {
		case flaky:
			if t.Job.Attempts < 3 {
				return errors.New("BMC answered 503")
			}
		case permanent:
			return lifecycle.Permanent(errors.New("BMC refused the credentials"))
		case broken:
			return fmt.Errorf("installer crashed on attempt %d", t.Job.Attempts)
		}
		return nil
	}
	b := f.submit(t, "alice", lifecycle.ActionReimage, flaky, permanent, broken)
	p, stop := startPool(t, f.st, fastPool(r, rec))
	got := f.waitBatch(t, b.ID)
	require.Equal(t, lifecycle.BatchPartiallyFailed, got.State)
	jobs := map[string]lifecycle.Job{}
	for _, j := range got.Jobs {
		jobs[j.Host] = j
	}
	require.Equal(t, lifecycle.JobSucceeded, jobs[flaky].State)
	require.Equal(t, 3, jobs[flaky].Attempts)
	require.Equal(t, lifecycle.JobFailed, jobs[permanent].State)
	require.Equal(t, 1, jobs[permanent].Attempts, "a permanent error is not retried")
	require.Contains(t, jobs[permanent].Error, "credentials")
	require.Equal(t, lifecycle.JobFailed, jobs[broken].State)
	require.Equal(t, 3, jobs[broken].Attempts, "MaxAttempts")
	require.Contains(t, jobs[broken].Error, "attempt 3")
	require.Equal(t, lifecycle.HostFailed, f.hostState(t, broken).State)
	steps, err := queueOf(t, f.st).JobSteps(f.ctx, b.ID, flaky)
	require.NoError(t, err)
	require.Len(t, steps, 6, "two steps per attempt")
	require.Equal(t, lifecycle.StepFailed, steps[1].Outcome)
	require.Equal(t, "BMC answered 503", steps[1].Error)
	require.Equal(t, 3, steps[5].Attempt)

	for _, host := range []string{permanent, broken} {
		e := waitEvent(t, rec, lifecycle.EventJobTriage, host, 2)
		require.Equal(t, b.ID, e.Attrs["batch"])
		require.Equal(t, "work", e.Attrs["step"])
		require.Equal(t, jobs[host].Error, e.Attrs["error"])
		require.Equal(t, fmt.Sprint(jobs[host].Attempts), e.Attrs["attempts"])
	}
	for _, e := range rec.Events() {
		require.False(t, e.Kind == lifecycle.EventJobTriage && e.Subject == flaky, "a job that succeeded raises no triage")
	}
	stop()
	require.Equal(t, lifecycle.PoolStats{Claimed: 7, Succeeded: 1, Failed: 2, Retried: 4}, p.Stats())

	// Step statistics say which step fails.
	ss, err := f.svc.StepStats(f.ctx, lifecycle.StatsParams{})
	require.NoError(t, err)
	require.Len(t, ss, 2)
	require.Equal(t, "prepare", ss[0].Step)
	require.Equal(t, 7, ss[0].Runs)
	require.Equal(t, 7, ss[0].Succeeded)
	require.Zero(t, ss[0].FailureRate)
	require.Equal(t, lifecycle.StepStats{Action: lifecycle.ActionReimage, Step: "work", Runs: 7, Succeeded: 1, Failed: 6,
		FailureRate: 6.0 / 7, P50: ss[1].P50, P95: ss[1].P95}, ss[1])
	require.LessOrEqual(t, ss[1].P50, ss[1].P95)
}

func testPoolCancel(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	started := make(chan string, 4)
	r := &scriptRunner{script: func(ctx context.Context, t *lifecycle.Task) error {
		started <- t.Job.Host
		<-ctx.Done() // a long step that honours its context
		return ctx.Err()
	}}
	b := f.submit(t, "alice", lifecycle.ActionReimage, "a1.dc1.example.com")
	startPool(t, f.st, fastPool(r, nil))
	<-started
	_, err := f.svc.Cancel(f.ctx, b.ID)
	require.NoError(t, err)
	got := f.waitBatch(t, b.ID)
	require.Equal(t, lifecycle.BatchCancelled, got.State)
	require.Equal(t, lifecycle.JobCancelled, got.Jobs[0].State)
	require.Equal(t, 1, got.Jobs[0].Attempts)
	require.Equal(t, lifecycle.HostReady, f.hostState(t, "a1.dc1.example.com").State, "the host claim is released")
	steps, err := queueOf(t, f.st).JobSteps(f.ctx, b.ID, "a1.dc1.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.StepCancelled, steps[len(steps)-1].Outcome)
}

func testPoolPanic(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	r := &scriptRunner{script: func(_ context.Context, t *lifecycle.Task) error {
		if t.Job.Host == "a1.dc1.example.com" {
			panic("nil map in the driver")
		}
		return nil
	}}
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")
	p, _ := startPool(t, f.st, fastPool(r, nil))
	got := f.waitBatch(t, b.ID)
	require.Equal(t, lifecycle.BatchPartiallyFailed, got.State)
	require.Equal(t, int64(1), p.Stats().Panics)
	require.Equal(t, lifecycle.JobFailed, got.Jobs[0].State)
	require.Contains(t, got.Jobs[0].Error, "panic: nil map in the driver")
	require.Contains(t, got.Jobs[0].Error, "goroutine", "the stack is recorded")
	require.Equal(t, 1, got.Jobs[0].Attempts, "a panic is not retried")
	require.Equal(t, lifecycle.JobSucceeded, got.Jobs[1].State, "the pool lives on")
	// A later batch still runs.
	c := f.submit(t, "alice", lifecycle.ActionReboot, "b1.dc2.example.com")
	require.Equal(t, lifecycle.BatchSucceeded, f.waitBatch(t, c.ID).State)
}

func testPoolTimeout(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	r := &scriptRunner{script: func(ctx context.Context, t *lifecycle.Task) error {
		<-ctx.Done()
		return ctx.Err()
	}}
	cfg := fastPool(r, nil)
	cfg.TimeoutByAction = map[lifecycle.Action]time.Duration{lifecycle.ActionReboot: 30 * time.Millisecond}
	cfg.Retry.MaxAttempts = 2
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com")
	startPool(t, f.st, cfg)
	got := f.waitBatch(t, b.ID)
	require.Equal(t, lifecycle.JobFailed, got.Jobs[0].State)
	require.Equal(t, 2, got.Jobs[0].Attempts, "a timeout is retried")
	require.Contains(t, got.Jobs[0].Error, "timed out after 30ms")
}

func testPoolShutdown(t *testing.T, newStore NewStore) {
	t.Run("JobsFinish", func(t *testing.T) {
		f := setup(t, newStore)
		started := make(chan struct{}, 4)
		r := &scriptRunner{script: func(ctx context.Context, _ *lifecycle.Task) error {
			started <- struct{}{}
			time.Sleep(50 * time.Millisecond) // ignores ctx: a step that must not be cut
			return nil
		}}
		b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")
		_, stop := startPool(t, f.st, fastPool(r, nil))
		<-started
		<-started
		stop()
		got, err := f.st.Batch(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, lifecycle.BatchSucceeded, got.State, "running jobs finished before Run returned")
	})
	t.Run("DeadlineReleasesJobs", func(t *testing.T) {
		f := setup(t, newStore)
		started := make(chan struct{}, 4)
		var block atomic.Bool
		block.Store(true)
		r := &scriptRunner{script: func(ctx context.Context, _ *lifecycle.Task) error {
			if !block.Load() {
				return nil
			}
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}}
		cfg := fastPool(r, nil)
		cfg.ShutdownTimeout = 20 * time.Millisecond
		b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com")
		_, stop := startPool(t, f.st, cfg)
		<-started
		stop()
		got, err := f.st.Batch(f.ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, lifecycle.JobPending, got.Jobs[0].State, "a job cut by shutdown goes back to the queue")
		require.Contains(t, got.Jobs[0].Error, "shut down")
		require.Equal(t, lifecycle.HostClaimed, f.hostState(t, "a1.dc1.example.com").State, "the batch keeps its host")
		block.Store(false)
		startPool(t, f.st, fastPool(r, nil))
		got = f.waitBatch(t, b.ID)
		require.Equal(t, lifecycle.BatchSucceeded, got.State, "another pool finishes it")
		require.Equal(t, 2, got.Jobs[0].Attempts)
	})
}

// testPoolRescue: jobs claimed by a worker that died are taken over once
// its leases expire, and its late results are refused.
func testPoolRescue(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	b := f.submit(t, "alice", lifecycle.ActionReboot, "a1.dc1.example.com", "a2.dc1.example.com")
	q := queueOf(t, f.st)
	at := time.Now().UTC()
	dead, err := q.ClaimJobs(f.ctx, lifecycle.ClaimRequest{Worker: "dead", Max: 2, At: at, LeaseUntil: at.Add(50 * time.Millisecond)})
	require.NoError(t, err)
	require.Len(t, dead, 2)
	r := &scriptRunner{}
	p, _ := startPool(t, f.st, fastPool(r, nil))
	got := f.waitBatch(t, b.ID)
	require.Equal(t, lifecycle.BatchSucceeded, got.State)
	require.Equal(t, int64(2), p.Stats().Rescued)
	for _, j := range got.Jobs {
		require.Equal(t, 2, j.Attempts)
		require.Equal(t, 1, r.attempts(j.Host), "the pool ran each job once")
	}
	fin, err := q.FinishJobs(f.ctx, []lifecycle.JobResult{{Lease: dead[0].Lease, To: lifecycle.JobFailed, At: time.Now().UTC()}})
	require.NoError(t, err)
	require.ErrorIs(t, fin[0].Err, lifecycle.ErrLeaseLost)
}

// testPoolLimits: two pools on one store never run more jobs at once than
// the global cap.
func testPoolLimits(t *testing.T, newStore NewStore) {
	f := setup(t, newStore)
	var hosts []string
	dir := lifecycle.StaticDirectory{}
	for i := range 12 {
		h := fmt.Sprintf("l%02d.dc1.example.com", i)
		hosts = append(hosts, h)
		dir[h] = lifecycle.HostInfo{Datacenter: "dc1"}
	}
	svc, err := lifecycle.New(f.st, &lifecycle.Config{Directory: dir})
	require.NoError(t, err)
	res, err := svc.Submit(f.ctx, lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot, Hosts: hosts})
	require.NoError(t, err)
	r := &scriptRunner{script: func(ctx context.Context, _ *lifecycle.Task) error {
		time.Sleep(10 * time.Millisecond)
		return nil
	}}
	for range 2 {
		cfg := fastPool(r, nil)
		cfg.Limits = lifecycle.Limits{Global: 3}
		startPool(t, f.st, cfg)
	}
	got := f.waitBatch(t, res.Batch.ID)
	require.Equal(t, lifecycle.BatchSucceeded, got.State)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.LessOrEqual(t, r.peak, 3, "the cap holds across pools")
	require.Greater(t, r.peak, 1, "jobs ran in parallel")
	require.False(t, strings.Contains(got.Jobs[0].Error, "lease"))
}
