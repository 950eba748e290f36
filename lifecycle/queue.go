package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost: a worker acted on a job whose lease it no longer holds
// (the lease expired and the job was rescued, or another worker took it
// over). The store refused the change; the worker must stop the job.
var ErrLeaseLost = errors.New("job lease lost")

// QueueStore is the job queue that workers share. Jobs wait in the store,
// pending, until a worker claims them; a claim is a lease on the job,
// renewed by heartbeats, and every change a worker makes to a claimed job
// carries the lease's fencing token, so a worker that lost its lease can
// record nothing more. store/memstore, store/sqlitestore and store/pgstore
// implement it; lifecycletest checks them.
type QueueStore interface {
	// ClaimJobs claims up to r.Max pending jobs of active batches whose
	// RetryAt has passed, in queue order (Batch.QueueAt, then host
	// submission order), skipping jobs that would take the running jobs
	// over any of r.Limits, counted over every worker sharing the store.
	// Each claimed job moves to running (its host in-progress, its batch's
	// counts updated), its Attempts grows by one, and it is leased to
	// r.Worker until r.LeaseUntil under a new fencing token. Claims by
	// concurrent callers, on any number of processes, never overlap and
	// together never exceed the limits.
	ClaimJobs(ctx context.Context, r ClaimRequest) ([]Claim, error)
	// Heartbeat extends each lease to r.Until and reports its state, in
	// the order of r.Leases: LeaseHeld, LeaseCancelRequested (held, and
	// the job's batch was cancelled) or LeaseLost (not extended).
	Heartbeat(ctx context.Context, r HeartbeatRequest) ([]LeaseState, error)
	// RecordStep appends a step to the job that lease l holds, or fails
	// with an error wrapping ErrLeaseLost, recording nothing.
	RecordStep(ctx context.Context, l JobLease, s Step) error
	// FinishJobs applies each result to the job its lease holds, as
	// UpdateJob would from running (and so releases ended jobs' hosts and
	// ends batches whose last job ended). A result whose lease is no longer
	// held is refused with an error wrapping ErrLeaseLost. A retry (To
	// pending) of a job whose batch was cancelled ends the job cancelled
	// instead. It returns, in order, each result's outcome, and one error
	// when the store could not be reached (then nothing was applied).
	FinishJobs(ctx context.Context, rs []JobResult) ([]Finished, error)
	// RescueJobs returns the running jobs whose leases expired before at
	// to the queue (pending, under a new fencing token, keeping their
	// place), or ends them cancelled when their batch was cancelled. It
	// returns the jobs it moved, at most max of them (0: no limit).
	RescueJobs(ctx context.Context, at time.Time, max int) ([]Job, error)
	// JobSteps returns the steps recorded on a job, in order, or an error
	// wrapping store.ErrNotFound when there is no such job.
	JobSteps(ctx context.Context, batchID, host string) ([]Step, error)
}

// ClaimRequest asks ClaimJobs for jobs.
type ClaimRequest struct {
	// Worker names the claiming worker (unique per process and pool).
	Worker string
	// Max is the most jobs to claim (at least 1).
	Max int
	// At is the time of the claim: jobs whose RetryAt is after it wait.
	At time.Time
	// LeaseUntil is when the new leases expire unless renewed.
	LeaseUntil time.Time
	// Limits caps the jobs running at once.
	Limits Limits
}

// Limits caps how many jobs run at once over every worker sharing a store.
// Zero (or a missing entry) means no cap. Jobs whose host has no datacenter
// count in the datacenter named "".
type Limits struct {
	// Global caps all running jobs.
	Global int
	// PerAction caps the running jobs of each action.
	PerAction map[Action]int
	// PerDatacenter caps the running jobs of any action in one datacenter.
	PerDatacenter int
	// PerDatacenterAction caps the running jobs of one action in one
	// datacenter, e.g. {ActionReimage: 250}.
	PerDatacenterAction map[Action]int
}

// Validate reports a negative cap.
func (l Limits) Validate() error {
	if l.Global < 0 || l.PerDatacenter < 0 {
		return fmt.Errorf("lifecycle: limits: negative cap (global %d, per datacenter %d)", l.Global, l.PerDatacenter)
	}
	for a, n := range l.PerAction {
		if n < 0 || !a.Valid() {
			return fmt.Errorf("lifecycle: limits: per-action cap %d for %q", n, a)
		}
	}
	for a, n := range l.PerDatacenterAction {
		if n < 0 || !a.Valid() {
			return fmt.Errorf("lifecycle: limits: per-datacenter cap %d for action %q", n, a)
		}
	}
	return nil
}

// Caps reports whether l caps anything.
func (l Limits) Caps() bool {
	if l.Global > 0 || l.PerDatacenter > 0 {
		return true
	}
	for _, n := range l.PerAction {
		if n > 0 {
			return true
		}
	}
	for _, n := range l.PerDatacenterAction {
		if n > 0 {
			return true
		}
	}
	return false
}

// Claim is one job a worker claimed.
type Claim struct {
	// Job is the job as claimed: running, Attempts counting this attempt.
	Job Job
	// Lease is the lease on it.
	Lease JobLease
	// Snapshot and Params are the job's batch's.
	Snapshot string
	Params   map[string]string
}

// JobLease is a worker's claim on a job. Token is the fencing token: it
// grows with every claim and rescue of the job, so only the newest
// holder's changes are accepted.
type JobLease struct {
	BatchID, Host string
	Token         int64
}

// HeartbeatRequest renews leases.
type HeartbeatRequest struct {
	Leases []JobLease
	// Until is the new expiry of the leases still held.
	Until time.Time
}

// LeaseState is a lease's state as a heartbeat found it.
type LeaseState int

// Lease states.
const (
	// LeaseLost: the lease is no longer held; the job must stop and
	// record nothing.
	LeaseLost LeaseState = iota
	// LeaseHeld: the lease was extended.
	LeaseHeld
	// LeaseCancelRequested: the lease was extended, and the job's batch
	// was cancelled: the job must stop and end cancelled.
	LeaseCancelRequested
)

// String names the state.
func (s LeaseState) String() string {
	switch s {
	case LeaseHeld:
		return "held"
	case LeaseCancelRequested:
		return "cancel-requested"
	}
	return "lost"
}

// JobResult is how one attempt of a claimed job ended.
type JobResult struct {
	Lease JobLease
	// To is the job's next state: succeeded, failed or cancelled to end
	// it, or pending to retry it at RetryAt.
	To JobState
	// Error is recorded on the job (failures and retries).
	Error   string
	RetryAt time.Time
	// At is the time of the change.
	At time.Time
}

// Finished is the outcome of one JobResult.
type Finished struct {
	// Err is why the result was refused (ErrLeaseLost,
	// ErrInvalidTransition); nil when it was applied.
	Err error
	// State is the state the job took (see FinishedState).
	State JobState
	// BatchEnded is set when this result ended the job's batch, which is
	// then in BatchState.
	BatchEnded bool
	BatchState BatchState
}

// FinishedState returns the state a running job takes for result r, given
// whether its batch was cancelled: a retry of a cancelled batch's job ends
// it cancelled. Stores call it inside the transaction that applies r, and
// check the edge with CheckJobTransition.
func FinishedState(r JobResult, cancelRequested bool) JobState {
	if r.To == JobPending && cancelRequested {
		return JobCancelled
	}
	return r.To
}

// LeaseLostError returns the error for a change refused to lease l.
func LeaseLostError(l JobLease) error {
	return fmt.Errorf("lifecycle: job %s/%s: %w (token %d)", l.BatchID, l.Host, ErrLeaseLost, l.Token)
}

// RunningCount is a number of running jobs of one action in one datacenter.
type RunningCount struct {
	Datacenter string
	Action     Action
	Running    int
}

// CapTracker applies Limits while a store picks jobs to claim: it starts
// from the running jobs of every worker, and admits candidates one by one
// while no cap is reached. Stores share it, so every store caps alike.
type CapTracker struct {
	l        Limits
	total    int
	byAction map[Action]int
	byDC     map[string]int
	byDCA    map[dcAction]int
}

type dcAction struct {
	dc string
	a  Action
}

// NewCapTracker returns a tracker of l starting from the running counts.
func NewCapTracker(l Limits, running []RunningCount) *CapTracker {
	t := &CapTracker{l: l, byAction: map[Action]int{}, byDC: map[string]int{}, byDCA: map[dcAction]int{}}
	for _, c := range running {
		t.add(c.Datacenter, c.Action, c.Running)
	}
	return t
}

func (t *CapTracker) add(dc string, a Action, n int) {
	t.total += n
	t.byAction[a] += n
	t.byDC[dc] += n
	t.byDCA[dcAction{dc, a}] += n
}

// Full reports whether no job at all may start.
func (t *CapTracker) Full() bool { return t.l.Global > 0 && t.total >= t.l.Global }

// Allows reports whether a job of action a in datacenter dc may start.
func (t *CapTracker) Allows(dc string, a Action) bool {
	switch {
	case t.Full(),
		over(t.l.PerAction[a], t.byAction[a]),
		over(t.l.PerDatacenter, t.byDC[dc]),
		over(t.l.PerDatacenterAction[a], t.byDCA[dcAction{dc, a}]):
		return false
	}
	return true
}

func over(limit, n int) bool { return limit > 0 && n >= limit }

// Admit reports whether a job of action a in datacenter dc may start and,
// when it may, counts it as running.
func (t *CapTracker) Admit(dc string, a Action) bool {
	if !t.Allows(dc, a) {
		return false
	}
	t.add(dc, a, 1)
	return true
}

// Blocked returns the datacenters whose cap is reached, and the
// (datacenter, action) pairs and actions whose caps are reached, so that a
// store can leave their jobs out of its candidate query.
func (t *CapTracker) Blocked() (dcs []string, actions []Action, pairs []RunningCount) {
	for dc, n := range t.byDC {
		if over(t.l.PerDatacenter, n) {
			dcs = append(dcs, dc)
		}
	}
	for a, n := range t.byAction {
		if over(t.l.PerAction[a], n) {
			actions = append(actions, a)
		}
	}
	for k, n := range t.byDCA {
		if over(t.l.PerDatacenterAction[k.a], n) {
			pairs = append(pairs, RunningCount{Datacenter: k.dc, Action: k.a, Running: n})
		}
	}
	return dcs, actions, pairs
}

// LeaseExpiredMessage is the error recorded on a job rescued because the
// lease of worker expired at expires. Stores share it.
func LeaseExpiredMessage(worker string, expires time.Time) string {
	return fmt.Sprintf("worker %s lost its lease (expired %s)", worker, expires.Format(time.RFC3339Nano))
}
