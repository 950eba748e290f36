package fakeprov

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
)

// ErrInjected is the failure of calls that CallFailureRate or
// FailNextCalls (with a nil error) inject. It is not permanent.
var ErrInjected = errors.New("fakeprov: injected failure")

// DefaultCallHistory is how many calls Calls keeps by default.
const DefaultCallHistory = 4096

// Options configure a Provisioner. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Hosts, when not nil, are the only hosts the provisioner knows;
	// others fail with actions.ErrUnknownHost. nil knows every host.
	Hosts []string
	// Snapshots, when not nil, are the only snapshots it can deploy;
	// others fail with actions.ErrUnknownSnapshot. nil serves any.
	Snapshots []string
	// CallLatency is how long each call takes; a caller whose ctx ends
	// during it gets ctx's error.
	CallLatency time.Duration
	// MinDuration and MaxDuration bound how long an operation runs after
	// the host's network boot, drawn uniformly (default 0: done at once).
	// MaxDuration below MinDuration means MinDuration.
	MinDuration, MaxDuration time.Duration
	// FailureRate in [0, 1] is the probability that an operation ends
	// failed, to be retried; PermanentFailureRate that it ends failed for
	// good (Status.Permanent).
	FailureRate, PermanentFailureRate float64
	// CallFailureRate in [0, 1] is the probability that a call fails with
	// ErrInjected (after its latency, changing nothing).
	CallFailureRate float64
	// Seed seeds the random source of durations and failures, so a run
	// can be repeated.
	Seed uint64
	// Booted returns the time of host's last network boot, and false when
	// it never booted from the network. An operation starts at the first
	// network boot at or after its Prepare. nil starts operations at
	// Prepare. It is called with the provisioner's lock held and must not
	// call the provisioner.
	Booted func(host string) (time.Time, bool)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// CallHistory is how many calls Calls keeps, oldest dropped first
	// (default DefaultCallHistory; negative keeps none).
	CallHistory int
}

// Method names a Provisioner call in a Call record.
type Method string

// Methods.
const (
	MethodPrepare Method = "prepare"
	MethodStatus  Method = "status"
	MethodRelease Method = "release"
)

// Call is one recorded call.
type Call struct {
	// Seq numbers calls in the order they started, from 1.
	Seq    uint64
	Method Method
	Host   string
	// Operation and Snapshot are the request's, for Prepare.
	Operation actions.Operation
	Snapshot  string
	// State is the state Status returned.
	State actions.State
	// Start and End, from Options.Now.
	Start, End time.Time
	// Err is the call's error, nil on success.
	Err error
}

// Provisioner is an in-memory actions.Provisioner. It is safe for
// concurrent use.
type Provisioner struct {
	opts    Options
	hosts   map[string]bool // nil: any
	snaps   map[string]bool // nil: any
	history int

	mu        sync.Mutex
	rng       *rand.Rand
	state     map[string]*hostState
	installed map[string]string
	finished  map[string]int
	failOps   []bool  // forced outcomes of the next operations: true = permanent
	failCalls []error // forced errors of the next calls
	seq       uint64
	calls     []Call
}

type hostState struct {
	st      actions.Status
	armedAt time.Time
	// set when the operation starts
	endAt     time.Time
	fail      bool
	permanent bool
}

var _ actions.Provisioner = (*Provisioner)(nil)

// New returns a Provisioner configured by opts (nil means defaults).
func New(opts *Options) *Provisioner {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxDuration < o.MinDuration {
		o.MaxDuration = o.MinDuration
	}
	p := &Provisioner{
		opts:      o,
		rng:       rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		state:     make(map[string]*hostState),
		installed: make(map[string]string),
		finished:  make(map[string]int),
	}
	switch {
	case o.CallHistory == 0:
		p.history = DefaultCallHistory
	case o.CallHistory > 0:
		p.history = o.CallHistory
	}
	if o.Hosts != nil {
		p.hosts = setOf(o.Hosts)
	}
	if o.Snapshots != nil {
		p.snaps = setOf(o.Snapshots)
	}
	return p
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// FailNext makes the next n operations to start end failed: permanently
// (Status.Permanent) when permanent is true.
func (p *Provisioner) FailNext(n int, permanent bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failOps = append(p.failOps, permanent)
	}
}

// FailNextCalls makes the next n calls fail with err (nil means
// ErrInjected) after their latency, changing nothing. Wrap err with
// lifecycle.Permanent to inject a permanent failure.
func (p *Provisioner) FailNextCalls(n int, err error) {
	if err == nil {
		err = ErrInjected
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failCalls = append(p.failCalls, err)
	}
}

// Prepare arms req for req.Host's next network boot.
func (p *Provisioner) Prepare(ctx context.Context, req actions.Request) error {
	return p.call(ctx, Call{Method: MethodPrepare, Host: req.Host, Operation: req.Operation, Snapshot: req.Snapshot}, func(now time.Time, c *Call) error {
		if err := req.Validate(); err != nil {
			return err
		}
		if err := p.knownLocked(req.Host); err != nil {
			return err
		}
		if req.Operation == actions.OpDeploy && p.snaps != nil && !p.snaps[req.Snapshot] {
			return fmt.Errorf("%w: %s", actions.ErrUnknownSnapshot, req.Snapshot)
		}
		p.state[req.Host] = &hostState{
			st: actions.Status{Host: req.Host, Operation: req.Operation, Snapshot: req.Snapshot,
				State: actions.StatePending, Detail: "waiting for the network boot", UpdatedAt: now},
			armedAt: now,
		}
		p.advanceLocked(req.Host, now)
		return nil
	})
}

// Status reports host's last prepared operation.
func (p *Provisioner) Status(ctx context.Context, host string) (actions.Status, error) {
	var st actions.Status
	err := p.call(ctx, Call{Method: MethodStatus, Host: host}, func(now time.Time, c *Call) error {
		if err := p.knownLocked(host); err != nil {
			return err
		}
		st = p.statusLocked(host, now)
		c.State = st.State
		return nil
	})
	if err != nil {
		return actions.Status{}, err
	}
	return st, nil
}

// Release forgets host: what was armed or running is cancelled.
func (p *Provisioner) Release(ctx context.Context, host string) error {
	return p.call(ctx, Call{Method: MethodRelease, Host: host}, func(now time.Time, c *Call) error {
		if err := p.knownLocked(host); err != nil {
			return err
		}
		delete(p.state, host)
		delete(p.installed, host)
		return nil
	})
}

// Installed returns the snapshot host runs, as its last finished deploy
// left it, and false when it runs none (never deployed, wiped, released).
func (p *Provisioner) Installed(host string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked(host, p.opts.Now())
	s, ok := p.installed[host]
	return s, ok
}

// Finished returns how many operations ended (done or failed) on host.
func (p *Provisioner) Finished(host string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.advanceLocked(host, p.opts.Now())
	return p.finished[host]
}

// Calls returns the recorded calls, oldest first (at most
// Options.CallHistory of them).
func (p *Provisioner) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.recentLocked())
}

// CallsFor returns the recorded calls about host, oldest first.
func (p *Provisioner) CallsFor(host string) []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Call
	for _, c := range p.recentLocked() {
		if c.Host == host {
			out = append(out, c)
		}
	}
	return out
}

// call runs one call: it waits the latency (unlocked, bounded by ctx),
// then, under the lock, injects a failure or runs fn, and records the
// call.
func (p *Provisioner) call(ctx context.Context, c Call, fn func(now time.Time, c *Call) error) error {
	p.mu.Lock()
	p.seq++
	c.Seq = p.seq
	p.mu.Unlock()
	c.Start = p.opts.Now()
	err := wait(ctx, p.opts.CallLatency)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.opts.Now()
	switch {
	case err != nil:
	case len(p.failCalls) > 0:
		err = p.failCalls[0]
		p.failCalls = p.failCalls[1:]
	case p.opts.CallFailureRate > 0 && p.rng.Float64() < p.opts.CallFailureRate:
		err = ErrInjected
	default:
		err = fn(now, &c)
	}
	if err != nil {
		err = fmt.Errorf("fakeprov: %s %s: %w", c.Method, c.Host, err)
	}
	c.End, c.Err = now, err
	p.recordLocked(c)
	return err
}

func (p *Provisioner) recordLocked(c Call) {
	if p.history == 0 {
		return
	}
	p.calls = append(p.calls, c)
	// Trim in halves, so that recording stays O(1) amortised.
	if len(p.calls) >= 2*p.history {
		p.calls = append(p.calls[:0], p.calls[len(p.calls)-p.history:]...)
	}
}

// recentLocked returns the calls the history keeps.
func (p *Provisioner) recentLocked() []Call {
	return p.calls[max(0, len(p.calls)-p.history):]
}

// wait sleeps d, or returns ctx's error when it ends first (or has).
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (p *Provisioner) knownLocked(host string) error {
	if host == "" {
		return fmt.Errorf("%w: no host", actions.ErrInvalidRequest)
	}
	if p.hosts != nil && !p.hosts[host] {
		return actions.ErrUnknownHost
	}
	return nil
}

func (p *Provisioner) statusLocked(host string, now time.Time) actions.Status {
	p.advanceLocked(host, now)
	h, ok := p.state[host]
	if !ok {
		return actions.Status{Host: host, State: actions.StateNone}
	}
	return h.st
}

// advanceLocked moves host's operation along to now: pending to running
// at the network boot, running to done or failed when its time is up.
func (p *Provisioner) advanceLocked(host string, now time.Time) {
	h, ok := p.state[host]
	if !ok {
		return
	}
	if h.st.State == actions.StatePending {
		start := h.armedAt
		if p.opts.Booted != nil {
			bt, ok := p.opts.Booted(host)
			if !ok || bt.Before(h.armedAt) || bt.After(now) {
				return
			}
			start = bt
		}
		h.st.State, h.st.Detail, h.st.UpdatedAt = actions.StateRunning, "", start
		h.endAt = start.Add(p.drawDurationLocked())
		switch {
		case len(p.failOps) > 0:
			h.fail, h.permanent = true, p.failOps[0]
			p.failOps = p.failOps[1:]
		case p.opts.PermanentFailureRate > 0 && p.rng.Float64() < p.opts.PermanentFailureRate:
			h.fail, h.permanent = true, true
		case p.opts.FailureRate > 0 && p.rng.Float64() < p.opts.FailureRate:
			h.fail = true
		}
	}
	if h.st.State != actions.StateRunning || now.Before(h.endAt) {
		return
	}
	h.st.UpdatedAt = h.endAt
	p.finished[host]++
	switch {
	case h.fail && h.permanent:
		h.st.State, h.st.Permanent = actions.StateFailed, true
		h.st.Detail = fmt.Sprintf("injected permanent failure of %s", h.st.Operation)
	case h.fail:
		h.st.State = actions.StateFailed
		h.st.Detail = fmt.Sprintf("injected failure of %s", h.st.Operation)
	default:
		h.st.State = actions.StateDone
	}
	// A failed operation leaves the disks in no known state.
	delete(p.installed, host)
	if h.st.State == actions.StateDone && h.st.Operation == actions.OpDeploy {
		p.installed[host] = h.st.Snapshot
	}
}

func (p *Provisioner) drawDurationLocked() time.Duration {
	lo, hi := p.opts.MinDuration, p.opts.MaxDuration
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(p.rng.Int64N(int64(hi-lo)+1))
}

// PXEBoots returns an Options.Booted that reads simulated BMCs: a host
// booted from the network when its BMC's last boot used a one-time PXE
// override, at the time of the power action that started it. lookup finds
// a host's BMC; hosts it does not find never boot.
func PXEBoots(lookup func(host string) (*fakebmc.BMC, bool)) func(host string) (time.Time, bool) {
	return func(host string) (time.Time, bool) {
		b, ok := lookup(host)
		if !ok {
			return time.Time{}, false
		}
		boot := b.LastBoot()
		if boot.Device != bmc.BootPXE || !boot.Override {
			return time.Time{}, false
		}
		return boot.Time, true
	}
}
