package lifecycle

import (
	"fmt"
	"time"
)

// HostState is where a host is in its life, as fleetkit sees it. The
// states and the transitions between them form an explicit state machine;
// see [CheckHostTransition].
//
//	ready ──admit──▶ claimed ──start──▶ in-progress ──succeed──▶ ready
//	  ▲  │              │                    │ └──fail──▶ failed
//	  │  ▼              └─cancel─▶ ready     └──decommission──▶ decommissioned
//	maintenance                                  (terminal)
//
// A host nobody has mentioned yet is ready.
type HostState string

// Host states.
const (
	// HostReady: free to be claimed by a batch.
	HostReady HostState = "ready"
	// HostClaimed: held by an active batch whose job has not started.
	HostClaimed HostState = "claimed"
	// HostInProgress: held by an active batch whose job is running.
	HostInProgress HostState = "in-progress"
	// HostFailed: the last job on the host failed. A new batch may claim
	// it (to retry); an operator may clear it to ready.
	HostFailed HostState = "failed"
	// HostMaintenance: taken out of service by an operator, with a reason;
	// batches are rejected.
	HostMaintenance HostState = "maintenance"
	// HostDecommissioned: retired for good; no transition leaves it.
	HostDecommissioned HostState = "decommissioned"
)

// Held reports whether a host in state s is held by a batch.
func (s HostState) Held() bool { return s == HostClaimed || s == HostInProgress }

// Admissible reports whether a batch may claim a host in state s.
func (s HostState) Admissible() bool { return s == HostReady || s == HostFailed }

// Host is what the store knows of one host.
type Host struct {
	Name  string
	State HostState
	// Reason says why the host is in maintenance (or was decommissioned
	// by an operator); empty otherwise.
	Reason string
	// BatchID is the batch holding the host while it is claimed or in
	// progress.
	BatchID string
	// UpdatedAt is when the state last changed; zero for a host the store
	// has never seen.
	UpdatedAt time.Time
}

// HostTransition asks the store to move a host to a new state on an
// operator's behalf (Store.SetHostState).
type HostTransition struct {
	Host string
	To   HostState
	// Reason is required when To is maintenance, and recorded for
	// decommissioned.
	Reason string
	// At is the time of the change.
	At time.Time
}

// hostEdges lists every allowed transition. Which of them an operator may
// ask for directly is decided by CheckHostTransition.
var hostEdges = map[HostState][]HostState{
	HostReady:          {HostClaimed, HostMaintenance, HostDecommissioned},
	HostClaimed:        {HostInProgress, HostReady},
	HostInProgress:     {HostReady, HostFailed, HostDecommissioned, HostClaimed},
	HostFailed:         {HostClaimed, HostReady, HostMaintenance, HostDecommissioned},
	HostMaintenance:    {HostReady, HostMaintenance, HostDecommissioned},
	HostDecommissioned: nil,
}

// ValidHostState reports whether s is a known host state.
func ValidHostState(s HostState) bool {
	_, ok := hostEdges[s]
	return ok
}

// CanTransition reports whether the state machine has an edge from one
// state to another.
func CanTransition(from, to HostState) bool {
	for _, s := range hostEdges[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CheckHostTransition decides whether an operator may move host h as t
// asks, and returns an error wrapping ErrInvalidTransition saying why not. Operators move hosts between ready, failed, maintenance and
// decommissioned; claimed and in-progress belong to batches and are changed
// only by admission, cancellation and workers. Stores call it inside the
// transaction that applies the change, so every store enforces the same
// machine.
func CheckHostTransition(h Host, t HostTransition) error {
	switch {
	case !ValidHostState(t.To):
		return fmt.Errorf("%w: unknown host state %q", ErrInvalidTransition, t.To)
	case t.To.Held():
		return fmt.Errorf("%w: host %s: state %s is set by batches, not by operators", ErrInvalidTransition, h.Name, t.To)
	case h.State.Held():
		return fmt.Errorf("%w: host %s is %s by batch %s; cancel the batch first", ErrInvalidTransition, h.Name, h.State, h.BatchID)
	case t.To == HostMaintenance && t.Reason == "":
		return fmt.Errorf("%w: host %s: maintenance needs a reason", ErrInvalidTransition, h.Name)
	case h.State == t.To && t.To != HostMaintenance:
		return nil // idempotent
	case !CanTransition(h.State, t.To):
		return fmt.Errorf("%w: host %s cannot go from %s to %s", ErrInvalidTransition, h.Name, h.State, t.To)
	}
	return nil
}

// ApplyHostTransition decides an operator's transition t of host h, as
// CheckHostTransition does, and returns the host's new record and whether
// it differs from h. Moving a host to the state it is in changes nothing
// (UpdatedAt included), except that maintenance takes the new reason.
// Reason is kept for maintenance and decommissioned and cleared for other
// states. Stores call it inside the transaction that applies t, and write
// the record only when changed.
func ApplyHostTransition(h Host, t HostTransition) (Host, bool, error) {
	if err := CheckHostTransition(h, t); err != nil {
		return h, false, err
	}
	if h.State == t.To && (t.To != HostMaintenance || h.Reason == t.Reason) {
		return h, false, nil
	}
	next := Host{Name: h.Name, State: t.To, UpdatedAt: t.At}
	if t.To == HostMaintenance || t.To == HostDecommissioned {
		next.Reason = t.Reason
	}
	return next, true, nil
}

// HostAfterJob returns the state a host takes when its job moves to state
// js: in-progress while running, ready after success or cancellation,
// failed after failure; a decommission that succeeded retires the host.
func HostAfterJob(a Action, js JobState) HostState {
	switch js {
	case JobRunning:
		return HostInProgress
	case JobSucceeded:
		if a == ActionDecommission {
			return HostDecommissioned
		}
		return HostReady
	case JobFailed:
		return HostFailed
	case JobPending:
		return HostClaimed
	default:
		return HostReady
	}
}
