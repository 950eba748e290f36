package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/store"
)

// Events a Pool sends.
const (
	// EventBatchFinished: a batch's last job ended. Attrs: state, owner,
	// action, the counts, and the hosts by outcome (succeeded, failed,
	// cancelled: comma-separated, at most 200 each).
	EventBatchFinished = "batch.finished"
	// EventJobTriage: a job failed for good (after its retries, or with a
	// permanent error): the hook where users open a ticket. Subject is
	// the host; Attrs: batch, action, step, error, attempts.
	EventJobTriage = "job.triage"
)

// RetryPolicy says how often and how soon a failed job is retried. Delays
// grow exponentially with jitter (cenkalti/backoff).
type RetryPolicy struct {
	// MaxAttempts is the most times a job is started (default 3; 1 means
	// no retry).
	MaxAttempts int
	// InitialInterval is the delay before the first retry (default 5s);
	// each next delay is Multiplier (default 2) times longer, up to
	// MaxInterval (default 5m), randomised by ±RandomizationFactor
	// (default 0.3).
	InitialInterval     time.Duration
	Multiplier          float64
	MaxInterval         time.Duration
	RandomizationFactor float64
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 3
	}
	if r.InitialInterval == 0 {
		r.InitialInterval = 5 * time.Second
	}
	if r.Multiplier == 0 {
		r.Multiplier = 2
	}
	if r.MaxInterval == 0 {
		r.MaxInterval = 5 * time.Minute
	}
	if r.RandomizationFactor == 0 {
		r.RandomizationFactor = 0.3
	}
	return r
}

func (r RetryPolicy) validate(what string) error {
	switch {
	case r.MaxAttempts < 1:
		return fmt.Errorf("lifecycle: pool config: %s: MaxAttempts %d is less than 1", what, r.MaxAttempts)
	case r.InitialInterval < 0 || r.MaxInterval < r.InitialInterval:
		return fmt.Errorf("lifecycle: pool config: %s: intervals %s..%s are not in order", what, r.InitialInterval, r.MaxInterval)
	case r.Multiplier < 1:
		return fmt.Errorf("lifecycle: pool config: %s: Multiplier %g is less than 1", what, r.Multiplier)
	case r.RandomizationFactor < 0 || r.RandomizationFactor >= 1:
		return fmt.Errorf("lifecycle: pool config: %s: RandomizationFactor %g is not in [0, 1)", what, r.RandomizationFactor)
	}
	return nil
}

// Delay returns the delay before the retry that follows attempt n (n ≥ 1).
func (r RetryPolicy) Delay(n int) time.Duration {
	r = r.withDefaults()
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval = r.InitialInterval, r.Multiplier, r.MaxInterval
	b.RandomizationFactor = r.RandomizationFactor
	b.MaxElapsedTime = 0
	b.Reset()
	var d time.Duration
	for range max(n, 1) {
		d = b.NextBackOff()
	}
	return d
}

// PoolConfig configures a Pool. The zero value is usable but for Runner.
type PoolConfig struct {
	// Runner performs the jobs (required): see lifecycle/actions for one
	// over BMCs and an OS installer.
	Runner Runner
	// Name identifies this pool in leases and logs (default
	// host-pid-random). Two live pools must not share a name.
	Name string
	// Concurrency is the most jobs this pool runs at once (default 16).
	Concurrency int
	// ClaimBatch is the most jobs claimed in one store call (default
	// Concurrency).
	ClaimBatch int
	// PollInterval is how long the pool waits before asking again when
	// the queue had nothing for it (default 250ms).
	PollInterval time.Duration
	// LeaseTTL is how long a claim lasts without a heartbeat (default
	// 30s): a worker that dies loses its jobs that long after its last
	// heartbeat. HeartbeatInterval (default LeaseTTL/3) is how often
	// leases are renewed, and RescueInterval (default LeaseTTL/2) how
	// often expired leases are looked for.
	LeaseTTL, HeartbeatInterval, RescueInterval time.Duration
	// Limits caps running jobs across every pool sharing the store; give
	// every pool the same limits.
	Limits Limits
	// Retry is the retry policy of actions not in RetryByAction.
	Retry         RetryPolicy
	RetryByAction map[Action]RetryPolicy
	// Timeout bounds one attempt of a job; TimeoutByAction overrides it
	// per action (defaults: reimage 2h, the rest 30m).
	Timeout         time.Duration
	TimeoutByAction map[Action]time.Duration
	// ShutdownTimeout is how long Run lets running jobs finish once its
	// context is done (default 30s); the jobs still running then are
	// stopped and given back to the queue.
	ShutdownTimeout time.Duration
	// Locker, when set, makes lease rescue run on one node at a time;
	// without it every pool rescues (harmless, but more store traffic).
	Locker store.Locker
	// Notifier receives batch.finished and job.triage events.
	Notifier fleetkit.Notifier
	// Metrics receives counts and timings as the pool works; nil records
	// none. examples/fleetd wires it to Prometheus.
	Metrics PoolMetrics
	// Logger logs the pool's work; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// PoolMetrics receives what a Pool does, for a metrics system.
// Implementations must be safe for concurrent use and return quickly.
type PoolMetrics interface {
	// Claimed reports one ClaimJobs call: the jobs it claimed and how
	// long it took.
	Claimed(n int, took time.Duration)
	// AttemptEnded reports an attempt of a job of action a, the state the
	// attempt's result asked for (pending for a retry or a release), and
	// how long it ran.
	AttemptEnded(a Action, state JobState, took time.Duration)
	// StepEnded reports a step of an attempt.
	StepEnded(a Action, s Step)
}

type noMetrics struct{}

func (noMetrics) Claimed(int, time.Duration)                   {}
func (noMetrics) AttemptEnded(Action, JobState, time.Duration) {}
func (noMetrics) StepEnded(Action, Step)                       {}

// WithDefaults returns a copy of c with unset fields set to defaults.
func (c *PoolConfig) WithDefaults() *PoolConfig {
	out := PoolConfig{}
	if c != nil {
		out = *c
	}
	if out.Name == "" {
		out.Name = defaultWorkerName()
	}
	if out.Concurrency == 0 {
		out.Concurrency = 16
	}
	if out.ClaimBatch == 0 {
		out.ClaimBatch = out.Concurrency
	}
	if out.PollInterval == 0 {
		out.PollInterval = 250 * time.Millisecond
	}
	if out.LeaseTTL == 0 {
		out.LeaseTTL = 30 * time.Second
	}
	if out.HeartbeatInterval == 0 {
		out.HeartbeatInterval = out.LeaseTTL / 3
	}
	if out.RescueInterval == 0 {
		out.RescueInterval = out.LeaseTTL / 2
	}
	out.Retry = out.Retry.withDefaults()
	byAction := make(map[Action]RetryPolicy, len(out.RetryByAction))
	for a, r := range out.RetryByAction {
		byAction[a] = r.withDefaults()
	}
	out.RetryByAction = byAction
	timeouts := map[Action]time.Duration{ActionReimage: 2 * time.Hour}
	if out.Timeout == 0 {
		out.Timeout = 30 * time.Minute
	}
	for a, d := range out.TimeoutByAction {
		timeouts[a] = d
	}
	out.TimeoutByAction = timeouts
	if out.ShutdownTimeout == 0 {
		out.ShutdownTimeout = 30 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Metrics == nil {
		out.Metrics = noMetrics{}
	}
	return &out
}

// Validate reports a configuration error.
func (c *PoolConfig) Validate() error {
	switch {
	case c.Runner == nil:
		return errors.New("lifecycle: pool config: Runner is nil")
	case c.Concurrency < 1 || c.ClaimBatch < 1:
		return fmt.Errorf("lifecycle: pool config: Concurrency %d and ClaimBatch %d must be at least 1", c.Concurrency, c.ClaimBatch)
	case c.PollInterval <= 0 || c.LeaseTTL <= 0 || c.HeartbeatInterval <= 0 || c.RescueInterval <= 0 || c.ShutdownTimeout < 0:
		return errors.New("lifecycle: pool config: intervals must be positive")
	case c.HeartbeatInterval >= c.LeaseTTL:
		return fmt.Errorf("lifecycle: pool config: HeartbeatInterval %s must be shorter than LeaseTTL %s", c.HeartbeatInterval, c.LeaseTTL)
	case c.Timeout <= 0:
		return fmt.Errorf("lifecycle: pool config: Timeout %s is not positive", c.Timeout)
	}
	if err := c.Limits.Validate(); err != nil {
		return err
	}
	if err := c.Retry.validate("Retry"); err != nil {
		return err
	}
	for a, r := range c.RetryByAction {
		if !a.Valid() {
			return fmt.Errorf("lifecycle: pool config: retry policy for unknown action %q", a)
		}
		if err := r.validate("RetryByAction[" + string(a) + "]"); err != nil {
			return err
		}
	}
	for a, d := range c.TimeoutByAction {
		if !a.Valid() || d <= 0 {
			return fmt.Errorf("lifecycle: pool config: timeout %s for action %q", d, a)
		}
	}
	return nil
}

func defaultWorkerName() string {
	host, _ := os.Hostname()
	if host == "" {
		host = "worker"
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Pool runs jobs from a store's queue: it claims jobs, runs their action
// through the Runner, renews their leases, records their results, retries
// failures with backoff, rescues jobs whose worker died, and notifies when
// batches end and when hosts need a person. Any number of pools, in any
// number of processes, may share one store.
type Pool struct {
	cfg PoolConfig
	st  Store
	q   QueueStore

	mu     sync.Mutex
	active map[JobLease]*activeJob
	free   chan struct{} // a slot freed

	results chan finishReq

	stats poolCounters
}

// PoolStats counts what a pool did since it was made.
type PoolStats struct {
	// Claimed counts jobs claimed; Succeeded, Failed, Cancelled, Retried
	// and Released count results recorded (a retry and a job given back
	// at shutdown return the job to the queue).
	Claimed, Succeeded, Failed, Cancelled, Retried, Released int64
	// Refused counts results the store refused: the lease was lost, so
	// another worker owns the job.
	Refused int64
	// Panics counts attempts that panicked; Rescued counts jobs of dead
	// workers this pool returned to the queue.
	Panics, Rescued int64
}

type poolCounters struct {
	claimed, succeeded, failed, cancelled, retried, released, refused, panics, rescued atomic.Int64
}

// Stats returns the pool's counters.
func (p *Pool) Stats() PoolStats {
	c := &p.stats
	return PoolStats{Claimed: c.claimed.Load(), Succeeded: c.succeeded.Load(), Failed: c.failed.Load(),
		Cancelled: c.cancelled.Load(), Retried: c.retried.Load(), Released: c.released.Load(),
		Refused: c.refused.Load(), Panics: c.panics.Load(), Rescued: c.rescued.Load()}
}

// count records a recorded result.
func (c *poolCounters) count(res JobResult, fin Finished) {
	switch {
	case fin.Err != nil:
		if errors.Is(fin.Err, ErrLeaseLost) {
			c.refused.Add(1)
		}
	case fin.State == JobSucceeded:
		c.succeeded.Add(1)
	case fin.State == JobFailed:
		c.failed.Add(1)
	case fin.State == JobCancelled:
		c.cancelled.Add(1)
	case res.RetryAt.IsZero():
		c.released.Add(1)
	default:
		c.retried.Add(1)
	}
}

type activeJob struct {
	claim  Claim
	cancel context.CancelCauseFunc
	// guard stops the job when its lease runs out here, before the store
	// could hand it to another worker: a process that was paused (or cut
	// off from the store) past its lease stops its jobs as soon as it runs
	// again, instead of driving a host another worker now drives.
	guard *time.Timer
}

type finishReq struct {
	res  JobResult
	done chan Finished
}

// Causes of a job's context ending, besides its timeout.
var (
	errLeaseLost       = errors.New("the job's lease was lost")
	errCancelRequested = errors.New("the batch was cancelled")
	errShutdown        = errors.New("the worker is shutting down")
	errJobTimeout      = errors.New("the attempt timed out")
)

// NewPool returns a pool working on st's queue.
func NewPool(st Store, cfg *PoolConfig) (*Pool, error) {
	if st == nil {
		return nil, errors.New("lifecycle: new pool: nil Store")
	}
	c := cfg.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Pool{cfg: *c, st: st, q: st, active: map[JobLease]*activeJob{},
		free: make(chan struct{}, 1), results: make(chan finishReq, c.Concurrency)}, nil
}

// Name returns the pool's name, as recorded in its leases.
func (p *Pool) Name() string { return p.cfg.Name }

func (p *Pool) now() time.Time { return p.cfg.Now().UTC().Truncate(time.Microsecond) }

// Run works until ctx is done, then shuts down gracefully: it stops
// claiming, lets running jobs finish for up to ShutdownTimeout, stops the
// rest and gives them back to the queue, and returns once every result
// is recorded. It returns nil after a shutdown.
func (p *Pool) Run(ctx context.Context) error {
	// Jobs and the pool's own store calls outlive ctx during shutdown.
	base := context.WithoutCancel(ctx)
	jobsCtx, stopJobs := context.WithCancelCause(base)
	defer stopJobs(errShutdown)
	bgCtx, stopBG := context.WithCancel(base)
	var bg sync.WaitGroup
	bg.Go(func() { p.finisher(bgCtx) })
	bg.Go(func() { p.heartbeats(bgCtx) })
	bg.Go(func() { p.rescuer(bgCtx, ctx) })

	var jobs sync.WaitGroup
	p.claimLoop(ctx, jobsCtx, &jobs)

	p.cfg.Logger.InfoContext(base, "lifecycle: pool shutting down", "pool", p.cfg.Name, "running", p.running())
	drained := make(chan struct{})
	go func() { jobs.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(p.cfg.ShutdownTimeout):
		stopJobs(errShutdown)
		<-drained
	}
	stopBG()
	bg.Wait()
	return nil
}

func (p *Pool) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.active)
}

// claimLoop claims jobs while ctx lasts and starts each.
func (p *Pool) claimLoop(ctx, jobsCtx context.Context, jobs *sync.WaitGroup) {
	failures := 0
	for ctx.Err() == nil {
		free := p.cfg.Concurrency - p.running()
		if free <= 0 {
			select {
			case <-p.free:
			case <-ctx.Done():
			}
			continue
		}
		want := min(free, p.cfg.ClaimBatch)
		at := p.now()
		began := time.Now()
		cs, err := p.q.ClaimJobs(ctx, ClaimRequest{Worker: p.cfg.Name, Max: want, At: at,
			LeaseUntil: at.Add(p.cfg.LeaseTTL), Limits: p.cfg.Limits})
		if err == nil {
			p.cfg.Metrics.Claimed(len(cs), time.Since(began))
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait := RetryPolicy{InitialInterval: p.cfg.PollInterval, MaxInterval: 30 * time.Second}.Delay(failures)
			p.cfg.Logger.WarnContext(ctx, "lifecycle: claiming jobs failed", "pool", p.cfg.Name, "err", err, "retry_in", wait)
			sleep(ctx, wait)
			continue
		}
		failures = 0
		p.stats.claimed.Add(int64(len(cs)))
		for _, c := range cs {
			jctx, cancel := context.WithCancelCause(jobsCtx)
			p.mu.Lock()
			p.active[c.Lease] = &activeJob{claim: c, cancel: cancel,
				guard: time.AfterFunc(p.guardTTL(), func() { cancel(errLeaseLost) })}
			p.mu.Unlock()
			jobs.Go(func() {
				defer p.release(c.Lease)
				p.runJob(jctx, c)
			})
		}
		if len(cs) < want {
			select { // the queue is drained: wait, or for a slot to free
			case <-time.After(p.cfg.PollInterval):
			case <-ctx.Done():
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// release forgets a job and frees its slot.
func (p *Pool) release(l JobLease) {
	p.mu.Lock()
	if a := p.active[l]; a != nil {
		a.guard.Stop()
		a.cancel(nil)
		delete(p.active, l)
	}
	p.mu.Unlock()
	select {
	case p.free <- struct{}{}:
	default:
	}
}

func (p *Pool) retryPolicy(a Action) RetryPolicy {
	if r, ok := p.cfg.RetryByAction[a]; ok {
		return r
	}
	return p.cfg.Retry
}

func (p *Pool) timeout(a Action) time.Duration {
	if d, ok := p.cfg.TimeoutByAction[a]; ok {
		return d
	}
	return p.cfg.Timeout
}

// runJob runs one attempt of claimed job c and records how it ended.
func (p *Pool) runJob(ctx context.Context, c Claim) {
	j := c.Job
	policy := p.retryPolicy(j.Action)
	log := p.cfg.Logger.With("pool", p.cfg.Name, "batch", j.BatchID, "host", j.Host, "action", j.Action, "attempt", j.Attempts)
	var (
		res   = JobResult{Lease: c.Lease}
		steps []Step
		err   error
	)
	if j.Attempts > policy.MaxAttempts {
		// Earlier workers lost their leases on every attempt allowed.
		err = fmt.Errorf("no attempt left: attempt %d of at most %d (an earlier attempt's worker stopped answering)", j.Attempts, policy.MaxAttempts)
		res.To, res.Error = JobFailed, err.Error()
	} else {
		d := p.timeout(j.Action)
		tctx, cancel := context.WithTimeoutCause(ctx, d, errJobTimeout)
		task := NewTask(j, c.Snapshot, c.Params, p.cfg.Now, func(ctx context.Context, s Step) error {
			p.cfg.Metrics.StepEnded(j.Action, s)
			return p.q.RecordStep(ctx, c.Lease, s)
		})
		log.DebugContext(ctx, "lifecycle: job started")
		began := time.Now()
		defer func() { p.cfg.Metrics.AttemptEnded(j.Action, res.To, time.Since(began)) }()
		var panicked bool
		panicked, err = runTask(tctx, p.cfg.Runner, task)
		if panicked {
			p.stats.panics.Add(1)
		}
		cause := context.Cause(tctx)
		cancel()
		steps = task.Steps()
		switch {
		case err == nil:
			res.To = JobSucceeded
		case errors.Is(cause, errCancelRequested):
			res.To, res.Error = JobCancelled, "cancelled: "+err.Error()
		case errors.Is(cause, errShutdown):
			res.To, res.Error = JobPending, "released: the worker shut down: "+err.Error()
		case errors.Is(cause, errLeaseLost):
			// Most likely another worker has the job now, and the store
			// refuses this; if the lease was merely not renewed in time
			// (the store was unreachable), the job goes back to the queue.
			res.To, res.Error = JobPending, "released: the worker lost its lease: "+err.Error()
		default:
			msg := err.Error()
			if errors.Is(cause, errJobTimeout) {
				msg = fmt.Sprintf("timed out after %s: %s", d, msg)
			}
			res.To, res.Error = JobFailed, msg
			if !IsPermanent(err) && j.Attempts < policy.MaxAttempts {
				res.To = JobPending
				res.RetryAt = p.now().Add(policy.Delay(j.Attempts))
			}
		}
	}
	res.At = p.now()
	fin := p.finish(res)
	p.stats.count(res, fin)
	ctx = context.WithoutCancel(ctx) // what follows runs whatever stopped the job
	switch {
	case fin.Err != nil:
		log.WarnContext(ctx, "lifecycle: job result not recorded", "result", res.To, "job_err", res.Error, "err", fin.Err)
		return
	case fin.State == JobPending:
		log.InfoContext(ctx, "lifecycle: job will be retried", "err", res.Error, "retry_at", res.RetryAt)
	default:
		log.InfoContext(ctx, "lifecycle: job ended", "state", fin.State, "err", res.Error)
	}
	if fin.State == JobFailed {
		p.triage(ctx, j, steps, res.Error)
	}
	if fin.BatchEnded {
		p.batchFinished(ctx, j.BatchID)
	}
}

// runTask runs the task, turning a panic into an error that carries the
// stack, so that one bad job cannot take the pool down.
func runTask(ctx context.Context, r Runner, t *Task) (panicked bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			panicked = true
			stack := string(debug.Stack())
			if len(stack) > 4000 {
				stack = stack[:4000] + "…"
			}
			err = Permanent(fmt.Errorf("panic: %v\n%s", v, stack))
		}
	}()
	return false, r.Run(ctx, t)
}

// finish hands res to the finisher and waits for its outcome.
func (p *Pool) finish(res JobResult) Finished {
	done := make(chan Finished, 1)
	p.results <- finishReq{res, done}
	return <-done
}

// finisher records results in groups: while one FinishJobs call is in
// flight, the results that arrive queue up and go in the next, so that a
// store commits many results at once.
func (p *Pool) finisher(ctx context.Context) {
	const most = 256
	batch := make([]finishReq, 0, most)
	for {
		select {
		case r := <-p.results:
			batch = append(batch[:0], r)
		case <-ctx.Done():
			return
		}
	more:
		for len(batch) < most {
			select {
			case r := <-p.results:
				batch = append(batch, r)
			default:
				break more
			}
		}
		rs := make([]JobResult, len(batch))
		for i, r := range batch {
			rs[i] = r.res
		}
		out, err := p.finishWithRetry(ctx, rs)
		for i, r := range batch {
			if err != nil {
				r.done <- Finished{Err: err}
				continue
			}
			r.done <- out[i]
		}
	}
}

// finishWithRetry calls FinishJobs, retrying store errors for up to one
// lease: after that the results could be refused anyway.
func (p *Pool) finishWithRetry(ctx context.Context, rs []JobResult) ([]Finished, error) {
	deadline := time.Now().Add(p.cfg.LeaseTTL)
	for attempt := 1; ; attempt++ {
		out, err := p.q.FinishJobs(ctx, rs)
		if err == nil {
			return out, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("lifecycle: recording %d job result(s): %w", len(rs), err)
		}
		p.cfg.Logger.WarnContext(ctx, "lifecycle: recording job results failed; retrying", "pool", p.cfg.Name, "err", err)
		sleep(ctx, RetryPolicy{InitialInterval: 100 * time.Millisecond, MaxInterval: 5 * time.Second}.Delay(attempt))
	}
}

// heartbeats renews the leases of running jobs, and stops the jobs whose
// lease was lost or whose batch was cancelled.
func (p *Pool) heartbeats(ctx context.Context) {
	t := time.NewTicker(p.cfg.HeartbeatInterval)
	defer t.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
		p.mu.Lock()
		leases := make([]JobLease, 0, len(p.active))
		for l := range p.active {
			leases = append(leases, l)
		}
		p.mu.Unlock()
		if len(leases) == 0 {
			lastOK = time.Now()
			continue
		}
		states, err := p.q.Heartbeat(ctx, HeartbeatRequest{Leases: leases, Until: p.now().Add(p.cfg.LeaseTTL)})
		if err != nil {
			p.cfg.Logger.WarnContext(ctx, "lifecycle: heartbeat failed", "pool", p.cfg.Name, "jobs", len(leases), "err", err)
			if time.Since(lastOK) > p.cfg.LeaseTTL {
				// The leases have expired by now: stop the jobs, whose
				// results the store would refuse.
				p.stop(leases, errLeaseLost)
			}
			continue
		}
		lastOK = time.Now()
		p.mu.Lock()
		for i, s := range states {
			if a := p.active[leases[i]]; a != nil && s != LeaseLost {
				a.guard.Reset(p.guardTTL())
			}
		}
		p.mu.Unlock()
		for i, s := range states {
			switch s {
			case LeaseLost:
				p.stop(leases[i:i+1], errLeaseLost)
			case LeaseCancelRequested:
				p.stop(leases[i:i+1], errCancelRequested)
			}
		}
	}
}

// guardTTL is how long a job runs here after its lease was last renewed:
// a tenth of the lease short of its end in the store.
func (p *Pool) guardTTL() time.Duration { return p.cfg.LeaseTTL - p.cfg.LeaseTTL/10 }

// stop cancels the jobs holding leases with cause.
func (p *Pool) stop(leases []JobLease, cause error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range leases {
		if a := p.active[l]; a != nil {
			a.cancel(cause)
		}
	}
}

// Rescue returns the jobs whose leases expired (their worker died) to the
// queue, and returns how many it moved. Pools call it on a schedule; it is
// exported for tools and tests.
func (p *Pool) Rescue(ctx context.Context) (int, error) {
	const page = 1000
	n := 0
	for {
		jobs, err := p.q.RescueJobs(ctx, p.now(), page)
		n += len(jobs)
		p.stats.rescued.Add(int64(len(jobs)))
		if err != nil {
			return n, fmt.Errorf("lifecycle: rescuing jobs: %w", err)
		}
		for _, j := range jobs {
			p.cfg.Logger.WarnContext(ctx, "lifecycle: job rescued from a lost worker", "batch", j.BatchID,
				"host", j.Host, "state", j.State, "err", j.Error)
			if j.State.Ended() {
				p.batchEndedMaybe(ctx, j.BatchID)
			}
		}
		if len(jobs) < page {
			return n, nil
		}
	}
}

// rescuer runs Rescue every RescueInterval until stop is done, on one
// node at a time when there is a Locker.
func (p *Pool) rescuer(ctx, stop context.Context) {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stop.Done():
			cancel()
		case <-runCtx.Done():
		}
	}()
	_ = store.Every(runCtx, p.cfg.Locker, "fleetkit.lifecycle.rescue", p.cfg.RescueInterval,
		func(ctx context.Context, _ store.Lease) error {
			_, err := p.Rescue(ctx)
			return err
		}, &store.EveryOptions{OnError: func(err error) {
			p.cfg.Logger.WarnContext(ctx, "lifecycle: rescue", "pool", p.cfg.Name, "err", err)
		}})
}

// batchEndedMaybe notifies when batch id has ended.
func (p *Pool) batchEndedMaybe(ctx context.Context, id string) {
	if p.cfg.Notifier == nil {
		return
	}
	b, err := p.st.Batch(ctx, id)
	if err == nil && !b.State.Active() {
		p.notifyBatch(ctx, b)
	}
}

func (p *Pool) batchFinished(ctx context.Context, id string) {
	if p.cfg.Notifier == nil {
		return
	}
	b, err := p.st.Batch(ctx, id)
	if err != nil {
		p.cfg.Logger.WarnContext(ctx, "lifecycle: reading a finished batch", "batch", id, "err", err)
		return
	}
	p.notifyBatch(ctx, b)
}

func (p *Pool) notifyBatch(ctx context.Context, b *Batch) {
	byState := map[JobState][]string{}
	for _, j := range b.Jobs {
		byState[j.State] = append(byState[j.State], j.Host)
	}
	attrs := map[string]string{
		"state": string(b.State), "owner": b.Owner, "action": string(b.Action),
		"succeeded_count": strconv.Itoa(b.Counts.Succeeded), "failed_count": strconv.Itoa(b.Counts.Failed),
		"cancelled_count": strconv.Itoa(b.Counts.Cancelled),
	}
	for _, s := range []JobState{JobSucceeded, JobFailed, JobCancelled} {
		if hosts := byState[s]; len(hosts) > 0 {
			attrs[string(s)] = hostList(hosts, 200)
		}
	}
	p.notify(ctx, fleetkit.Event{Kind: EventBatchFinished, Subject: b.ID, Attrs: attrs})
}

// hostList joins hosts with commas, at most n of them.
func hostList(hosts []string, n int) string {
	hosts = slices.Clone(hosts)
	slices.Sort(hosts)
	if len(hosts) <= n {
		return strings.Join(hosts, ",")
	}
	return strings.Join(hosts[:n], ",") + fmt.Sprintf(",… and %d more", len(hosts)-n)
}

// triage raises the event of a job failed for good.
func (p *Pool) triage(ctx context.Context, j Job, steps []Step, msg string) {
	step := ""
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].Outcome != StepSucceeded {
			step = steps[i].Name
			break
		}
	}
	p.notify(ctx, fleetkit.Event{Kind: EventJobTriage, Subject: j.Host, Attrs: map[string]string{
		"batch": j.BatchID, "action": string(j.Action), "step": step, "error": msg,
		"attempts": strconv.Itoa(j.Attempts), "datacenter": j.Datacenter,
	}})
}

func (p *Pool) notify(ctx context.Context, e fleetkit.Event) {
	fleetkit.NotifyBestEffort(ctx, p.cfg.Notifier, p.cfg.Logger, p.cfg.Now, e)
}
