package lifecycle

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Store and Service errors wrap them so callers can branch
// with errors.Is; the store package's sentinels (store.ErrNotFound,
// store.ErrClosed) are used for missing records and closed stores.
var (
	// ErrInvalidBatch: the submission is malformed (no owner, unknown
	// action, empty, duplicate or invalid hostnames, too many hosts).
	ErrInvalidBatch = errors.New("invalid batch")
	// ErrOverlap: some hosts are held by another active batch. The error
	// is an *OverlapError naming each host and batch.
	ErrOverlap = errors.New("hosts overlap an active batch")
	// ErrInUse: an InUseChecker says some hosts are in use. The error is a
	// *HostsError with each host's reason.
	ErrInUse = errors.New("hosts in use")
	// ErrHostUnavailable: some hosts are in maintenance or decommissioned.
	// The error is a *HostsError.
	ErrHostUnavailable = errors.New("hosts unavailable")
	// ErrConsoleCheck: the BMC console precheck failed for some hosts. The
	// error is a *HostsError.
	ErrConsoleCheck = errors.New("console precheck failed")
	// ErrInvalidTransition: a host or job state change the state machine
	// does not allow.
	ErrInvalidTransition = errors.New("invalid state transition")
)

// Conflict is one host of a rejected batch that another active batch holds.
type Conflict struct {
	Host    string
	BatchID string
}

// OverlapError reports the hosts of a submission that active batches
// already hold. errors.Is(err, ErrOverlap) matches it.
type OverlapError struct {
	// Conflicts lists each offending host and the batch holding it, sorted
	// by host.
	Conflicts []Conflict
}

// NewOverlapError returns an *OverlapError for the conflicts, sorted by
// host.
func NewOverlapError(cs []Conflict) *OverlapError {
	cs = append([]Conflict(nil), cs...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].Host < cs[j].Host })
	return &OverlapError{Conflicts: cs}
}

// Error lists the conflicts, at most 20 of them.
func (e *OverlapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d host(s) overlap active batches:", len(e.Conflicts))
	for i, c := range e.Conflicts {
		if i == 20 {
			fmt.Fprintf(&b, " … and %d more", len(e.Conflicts)-i)
			break
		}
		fmt.Fprintf(&b, " %s (batch %s)", c.Host, c.BatchID)
		if i < len(e.Conflicts)-1 && i < 19 {
			b.WriteByte(',')
		}
	}
	return b.String()
}

// Is reports whether target is ErrOverlap.
func (e *OverlapError) Is(target error) bool { return target == ErrOverlap }

// HostProblem is why one host was refused.
type HostProblem struct {
	Host string
	// Reason says what is wrong, in words a person can act on.
	Reason string
	// Source names what found the problem: a checker's name, "state",
	// "console".
	Source string
}

// HostsError reports hosts refused for a reason other than overlap: in use,
// unavailable, failing the console precheck. errors.Is matches its Kind
// (ErrInUse, ErrHostUnavailable, ErrConsoleCheck).
type HostsError struct {
	Kind     error
	Problems []HostProblem
}

// NewHostsError returns a *HostsError of the given kind with the problems
// sorted by host.
func NewHostsError(kind error, ps []HostProblem) *HostsError {
	ps = append([]HostProblem(nil), ps...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Host < ps[j].Host })
	return &HostsError{Kind: kind, Problems: ps}
}

// Error names the kind and lists the problems, at most 20 of them.
func (e *HostsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d host(s):", e.Kind, len(e.Problems))
	for i, p := range e.Problems {
		if i == 20 {
			fmt.Fprintf(&b, " … and %d more", len(e.Problems)-i)
			break
		}
		fmt.Fprintf(&b, " %s (%s", p.Host, p.Reason)
		if p.Source != "" {
			fmt.Fprintf(&b, "; %s", p.Source)
		}
		b.WriteByte(')')
		if i < len(e.Problems)-1 && i < 19 {
			b.WriteByte(',')
		}
	}
	return b.String()
}

// Unwrap returns the kind, so errors.Is(err, ErrInUse) and friends match.
func (e *HostsError) Unwrap() error { return e.Kind }

// UnavailableProblem describes why host h, in maintenance or
// decommissioned, cannot be admitted. Stores use it when building
// admission errors.
func UnavailableProblem(h Host) HostProblem {
	reason := string(h.State)
	if h.State == HostMaintenance {
		reason = "in maintenance"
	}
	if h.Reason != "" {
		reason += ": " + h.Reason
	}
	return HostProblem{Host: h.Name, Reason: reason, Source: "state"}
}

// AdmissionError builds the error CreateBatch returns for hosts held by
// other batches (an *OverlapError) and hosts not admissible (a *HostsError
// with ErrHostUnavailable), joined when both occur; nil when neither.
func AdmissionError(conflicts []Conflict, unavailable []HostProblem) error {
	var errs []error
	if len(conflicts) > 0 {
		errs = append(errs, NewOverlapError(conflicts))
	}
	if len(unavailable) > 0 {
		errs = append(errs, NewHostsError(ErrHostUnavailable, unavailable))
	}
	return errors.Join(errs...)
}
