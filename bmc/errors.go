package bmc

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
)

// Sentinel errors. Drivers wrap them so callers can branch with errors.Is
// whatever the protocol.
var (
	// ErrUnsupported: the driver or the BMC cannot do this.
	ErrUnsupported = errors.New("not supported by this BMC or driver")
	// ErrAuth: the BMC refused the credentials. Permanent.
	ErrAuth = errors.New("BMC authentication failed")
	// ErrNotFound: the BMC has no such resource (system, manager).
	// Permanent.
	ErrNotFound = errors.New("BMC resource not found")
	// ErrInvalidPowerAction: the power action makes no sense in the
	// system's current state (see CheckPowerAction). Permanent.
	ErrInvalidPowerAction = errors.New("invalid power action")
	// ErrInvalidArgument: a malformed request. Permanent.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrBootNotApplied: the BMC accepted a boot override but reading it
	// back shows something else (some BMCs silently revert it).
	ErrBootNotApplied = errors.New("boot override not applied")
	// ErrConsoleUnusable: the remote console is not usable; see
	// ConsoleHealth.
	ErrConsoleUnusable = errors.New("remote console unusable")
	// ErrNotOpen: the driver's session is not open (Open not called, or
	// Close called).
	ErrNotOpen = errors.New("BMC session not open")
	// ErrTransient marks an error worth retrying: a timeout, a reset
	// connection, a BMC answering 502, 503 or 504.
	ErrTransient = errors.New("transient BMC error")
)

// Transient wraps err so that IsTransient reports true for it. Drivers use
// it for protocol answers that mean "try again" (HTTP 503, IPMI node busy).
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return transientError{err}
}

type transientError struct{ err error }

func (e transientError) Error() string        { return e.err.Error() }
func (e transientError) Unwrap() []error      { return []error{e.err, ErrTransient} }
func (e transientError) Is(target error) bool { return target == ErrTransient }

// IsTransient reports whether err is worth retrying: marked with
// Transient, a network timeout, a refused or reset connection, or a
// connection closed without an answer (EOF). The end of the caller's
// context (cancelled or past its deadline) is never transient, nor is any
// error wrapping ErrAuth, ErrNotFound, ErrInvalidPowerAction,
// ErrInvalidArgument or ErrUnsupported.
func IsTransient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, ErrAuth), errors.Is(err, ErrNotFound),
		errors.Is(err, ErrInvalidPowerAction), errors.Is(err, ErrInvalidArgument),
		errors.Is(err, ErrUnsupported):
		return false
	case errors.Is(err, ErrTransient),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
