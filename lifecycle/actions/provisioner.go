package actions

import (
	"context"
	"fmt"
	"time"
)

// Provisioner is the downstream installer that reimages and wipes hosts
// once they network-boot: MAAS's deploy and erase, an in-house PXE
// installer, a fake. The actions of this package arm it with Prepare, make
// the host network-boot through its BMC, and follow the work with Status.
//
// Implementations must be safe for concurrent use, and every call must be
// bounded by ctx: when ctx ends first, a call returns an error wrapping
// ctx.Err(); a call whose ctx is already done fails so and changes
// nothing. Errors that retrying cannot fix are marked with
// lifecycle.Permanent or wrap ErrUnknownHost, ErrUnknownSnapshot or
// ErrInvalidRequest; every other error is retried by the workers.
type Provisioner interface {
	// Prepare arms the installer to run req.Operation on req.Host at the
	// host's next network boot, replacing whatever was armed or running
	// for the host before: after Prepare returns, Status reports req with
	// StatePending (or a later state of this preparation, never of an
	// earlier one). Calling it again with the same request arms it again,
	// so it is safe to repeat.
	//
	// A request with a deploy and no snapshot, or a wipe with one, fails
	// with ErrInvalidRequest; a host the installer does not know fails
	// with ErrUnknownHost, a snapshot it cannot serve with
	// ErrUnknownSnapshot. A failed Prepare changes nothing.
	Prepare(ctx context.Context, req Request) error
	// Status reports the host's last prepared operation and how far it
	// is. A host with nothing prepared (never, or since Release) reports
	// StateNone and no error. A host the installer does not know fails
	// with ErrUnknownHost.
	Status(ctx context.Context, host string) (Status, error)
	// Release makes the installer forget the host: it cancels what was
	// armed or running and will serve the host nothing at its next boot,
	// as when the host is decommissioned. Releasing a host with nothing
	// prepared succeeds, so it is safe to repeat.
	Release(ctx context.Context, host string) error
}

// Operation is what a Provisioner does to a host that network-boots.
type Operation string

// Operations.
const (
	// OpDeploy installs Request.Snapshot on the host's disks.
	OpDeploy Operation = "deploy"
	// OpWipe erases every disk of the host.
	OpWipe Operation = "wipe"
)

// Valid reports whether o is a known operation.
func (o Operation) Valid() bool { return o == OpDeploy || o == OpWipe }

// Request asks a Provisioner to arm one operation for one host.
type Request struct {
	Host      string
	Operation Operation
	// Snapshot is the OS snapshot ID to install; deploy only, required.
	Snapshot string
	// Params are the batch's free-form parameters, passed on as they are
	// (kernel options, a disk layout name …). Do not modify them.
	Params map[string]string
}

// Validate reports a malformed request, wrapping ErrInvalidRequest.
func (r Request) Validate() error {
	switch {
	case r.Host == "":
		return fmt.Errorf("%w: no host", ErrInvalidRequest)
	case !r.Operation.Valid():
		return fmt.Errorf("%w: unknown operation %q (want %s or %s)", ErrInvalidRequest, r.Operation, OpDeploy, OpWipe)
	case r.Operation == OpDeploy && r.Snapshot == "":
		return fmt.Errorf("%w: deploy to %s without a snapshot", ErrInvalidRequest, r.Host)
	case r.Operation == OpWipe && r.Snapshot != "":
		return fmt.Errorf("%w: wipe of %s with a snapshot (%s)", ErrInvalidRequest, r.Host, r.Snapshot)
	}
	return nil
}

// State is how far a prepared operation is.
type State string

// States, in life order.
const (
	// StateNone: nothing is prepared for the host.
	StateNone State = "none"
	// StatePending: armed, waiting for the host to network-boot.
	StatePending State = "pending"
	// StateRunning: the host booted the installer, which is working.
	StateRunning State = "running"
	// StateDone: the operation finished; for a deploy, the host runs the
	// installed snapshot.
	StateDone State = "done"
	// StateFailed: the operation failed; Status.Detail says why.
	StateFailed State = "failed"
)

// Status is a host's last prepared operation, as a Provisioner reports it.
type Status struct {
	Host      string
	Operation Operation
	// Snapshot is the snapshot being deployed (deploy only).
	Snapshot string
	State    State
	// Detail says why a failed operation failed, in words a person can
	// act on; may describe progress otherwise.
	Detail string
	// Permanent marks a failure that running the operation again cannot
	// fix (the image does not fit the disks, the disks are gone).
	Permanent bool
	// UpdatedAt is when the state last changed.
	UpdatedAt time.Time
}
