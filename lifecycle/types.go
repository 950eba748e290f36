package lifecycle

import (
	"fmt"
	"time"
)

// Action is an operation a batch performs on each of its hosts.
type Action string

// The actions fleetkit knows.
const (
	ActionReimage      Action = "reimage"
	ActionReboot       Action = "reboot"
	ActionPowerOn      Action = "power-on"
	ActionPowerOff     Action = "power-off"
	ActionPowerCycle   Action = "power-cycle"
	ActionWipeDisks    Action = "wipe-disks"
	ActionDecommission Action = "decommission"
)

// Actions returns every known action, in a stable order.
func Actions() []Action {
	return []Action{ActionReimage, ActionReboot, ActionPowerOn, ActionPowerOff,
		ActionPowerCycle, ActionWipeDisks, ActionDecommission}
}

// Valid reports whether a is a known action.
func (a Action) Valid() bool {
	switch a {
	case ActionReimage, ActionReboot, ActionPowerOn, ActionPowerOff,
		ActionPowerCycle, ActionWipeDisks, ActionDecommission:
		return true
	}
	return false
}

// ParseAction returns the action named s, or an error wrapping
// ErrInvalidBatch that lists the known actions.
func ParseAction(s string) (Action, error) {
	a := Action(s)
	if !a.Valid() {
		return "", fmt.Errorf("%w: unknown action %q (known: %v)", ErrInvalidBatch, s, Actions())
	}
	return a, nil
}

// BatchState is where a batch is in its life. A batch is active while it is
// pending or running; its hosts are claimed until it ends.
type BatchState string

// Batch states.
const (
	// BatchPending: accepted, no job has started.
	BatchPending BatchState = "pending"
	// BatchRunning: at least one job started and at least one has not ended.
	BatchRunning BatchState = "running"
	// BatchSucceeded: every job succeeded.
	BatchSucceeded BatchState = "succeeded"
	// BatchPartiallyFailed: every job ended, some succeeded and some failed.
	BatchPartiallyFailed BatchState = "partially-failed"
	// BatchFailed: every job ended and none succeeded; at least one failed.
	BatchFailed BatchState = "failed"
	// BatchCancelled: cancelled; every job ended, at least one cancelled.
	BatchCancelled BatchState = "cancelled"
)

// Active reports whether a batch in state s still holds its hosts.
func (s BatchState) Active() bool { return s == BatchPending || s == BatchRunning }

// JobState is where one host's job is.
type JobState string

// Job states.
const (
	JobPending   JobState = "pending"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Ended reports whether a job in state s is over.
func (s JobState) Ended() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// JobStates returns every job state, in life order.
func JobStates() []JobState {
	return []JobState{JobPending, JobRunning, JobSucceeded, JobFailed, JobCancelled}
}

// Batch is one submission: an action over a set of hosts, by one owner.
type Batch struct {
	// ID identifies the batch. IDs sort in order of creation.
	ID string
	// Owner is who submitted it (a user or service name).
	Owner string
	// Action is what is done to every host.
	Action Action
	// Hosts are the batch's hosts, normalised, in submission order.
	Hosts []string
	// Snapshot names the OS snapshot to install; reimage only.
	Snapshot string
	// Params are free-form parameters passed to the workers.
	Params map[string]string
	// Priority orders the batch's jobs in the queue; higher runs first.
	Priority int
	// QueueAt places the batch's jobs in the queue: workers claim jobs in
	// QueueAt order, then host submission order. Service.Submit sets it to
	// CreatedAt less Priority times Config.Ageing, so a higher priority
	// runs first, batches of one priority run first come first served,
	// and a low priority waiting long enough overtakes newer high
	// priorities (it never starves).
	QueueAt time.Time
	// State is the batch's state, derived from its jobs' states.
	State BatchState
	// Counts is how many of the batch's jobs are in each state.
	Counts JobCounts
	// CancelledAt is when the batch was first cancelled while active;
	// zero when it never was.
	CancelledAt time.Time
	// CreatedAt is when the batch was accepted; UpdatedAt when it last
	// changed; FinishedAt when its last job ended (zero while active).
	CreatedAt, UpdatedAt, FinishedAt time.Time
	// Jobs holds the per-host jobs. It is filled by Service.Batch and
	// Store.Batch, and nil in listings.
	Jobs []Job
}

// JobCounts counts a batch's jobs by state.
type JobCounts struct {
	Pending, Running, Succeeded, Failed, Cancelled int
}

// Total is the number of jobs counted.
func (c JobCounts) Total() int {
	return c.Pending + c.Running + c.Succeeded + c.Failed + c.Cancelled
}

// Add adds n to the count of state s.
func (c *JobCounts) Add(s JobState, n int) {
	switch s {
	case JobPending:
		c.Pending += n
	case JobRunning:
		c.Running += n
	case JobSucceeded:
		c.Succeeded += n
	case JobFailed:
		c.Failed += n
	case JobCancelled:
		c.Cancelled += n
	}
}

// State derives the batch state from the counts.
func (c JobCounts) State() BatchState {
	switch {
	case c.Pending+c.Running == c.Total() && c.Running == 0:
		return BatchPending
	case c.Pending+c.Running > 0:
		return BatchRunning
	case c.Cancelled > 0:
		return BatchCancelled
	case c.Failed == 0:
		return BatchSucceeded
	case c.Succeeded > 0:
		return BatchPartiallyFailed
	default:
		return BatchFailed
	}
}

// Job is one host of one batch. A job is identified by its batch ID and
// host.
type Job struct {
	BatchID string
	Host    string
	Action  Action
	// Priority is the batch's priority, copied for the queue.
	Priority int
	// Datacenter and SKU come from the HostDirectory at submission (empty
	// when none is configured or the host is unknown to it).
	Datacenter, SKU string
	State           JobState
	// Attempts counts how many times the job was started.
	Attempts int
	// CancelRequested is set on a running job when its batch is
	// cancelled; the worker stops it.
	CancelRequested bool
	// Error is the last error, for failed jobs.
	Error string
	// CreatedAt, StartedAt (first start), FinishedAt (end) and UpdatedAt.
	CreatedAt, StartedAt, FinishedAt, UpdatedAt time.Time
}

// Runtime is how long the job ran, for an ended job that started.
func (j Job) Runtime() time.Duration {
	if j.StartedAt.IsZero() || j.FinishedAt.IsZero() {
		return 0
	}
	return j.FinishedAt.Sub(j.StartedAt)
}
