package actions

import (
	"context"
	"errors"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// Sentinel errors. The errors of Runner.Run and of Provisioners wrap them
// so callers can branch with errors.Is.
var (
	// ErrInvalidRequest: a Provisioner request is malformed (see
	// Request.Validate). Permanent.
	ErrInvalidRequest = errors.New("invalid provisioner request")
	// ErrUnknownHost: the Provisioner does not know the host. Permanent.
	ErrUnknownHost = errors.New("host unknown to the provisioner")
	// ErrUnknownSnapshot: the Provisioner cannot serve the snapshot.
	// Permanent.
	ErrUnknownSnapshot = errors.New("snapshot unknown to the provisioner")
	// ErrInvalidParams: the job cannot be run as given: an unknown
	// action, a reimage without a snapshot, a bad parameter value.
	// Permanent.
	ErrInvalidParams = errors.New("invalid action parameters")
	// ErrNoProvisioner: the action needs a Provisioner and Config has
	// none. Permanent.
	ErrNoProvisioner = errors.New("no provisioner configured")
	// ErrStepTimeout: a step ran past its own timeout (Config's
	// per-step timeouts). Retried: the job's own deadline and
	// cancellation end in ctx's error instead.
	ErrStepTimeout = errors.New("step timed out")
	// ErrOperationFailed: the Provisioner reports the operation failed.
	// Permanent when the Provisioner says so (Status.Permanent).
	ErrOperationFailed = errors.New("provisioner operation failed")
	// ErrNotPrepared: while waiting, the Provisioner stopped reporting the
	// operation this attempt prepared (it was released, replaced, or the
	// installer lost it). Retried: the next attempt prepares it again.
	ErrNotPrepared = errors.New("provisioner lost the prepared operation")
)

// permanentSentinels are the errors that retrying cannot fix.
var permanentSentinels = []error{
	bmc.ErrAuth, bmc.ErrNotFound, bmc.ErrUnsupported, bmc.ErrInvalidPowerAction, bmc.ErrInvalidArgument,
	ErrInvalidRequest, ErrUnknownHost, ErrUnknownSnapshot, ErrInvalidParams, ErrNoProvisioner,
}

// classify marks err with lifecycle.Permanent when retrying cannot fix it.
// The end of ctx is never permanent: the worker decides what a cancelled
// or timed-out job becomes.
func classify(ctx context.Context, err error) error {
	if err == nil || lifecycle.IsPermanent(err) || ctx.Err() != nil {
		return err
	}
	if isPermanent(err) {
		return lifecycle.Permanent(err)
	}
	return err
}

// isPermanent reports whether err wraps a permanent sentinel. A
// *bmc.ClientError (several drivers tried) is permanent only when every
// driver failed permanently: one that failed transiently may answer next
// time.
func isPermanent(err error) bool {
	if lifecycle.IsPermanent(err) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *bmc.ClientError
	if errors.As(err, &ce) {
		attempts := 0
		for _, a := range ce.Report.Attempts {
			if a.Err == nil {
				continue
			}
			attempts++
			if !isPermanent(a.Err) {
				return false
			}
		}
		return attempts > 0
	}
	for _, s := range permanentSentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
