package bmc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

var fast = &bmc.RetryPolicy{MaxAttempts: 4, Initial: time.Millisecond, Max: 2 * time.Millisecond}

func TestRetryTransientThenSuccess(t *testing.T) {
	t.Parallel()
	n := 0
	err := bmc.Retry(context.Background(), fast, func(context.Context) error {
		n++
		if n < 3 {
			return bmc.Transient(errors.New("HTTP 503"))
		}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3, n)
}

func TestRetryGivesUp(t *testing.T) {
	t.Parallel()
	n := 0
	err := bmc.Retry(context.Background(), fast, func(context.Context) error {
		n++
		return fmt.Errorf("read: %w", syscall.ECONNRESET)
	})
	require.Equal(t, 4, n)
	require.ErrorIs(t, err, syscall.ECONNRESET)
	require.ErrorContains(t, err, "after 4 attempts")
}

func TestRetryPermanentNotRetried(t *testing.T) {
	t.Parallel()
	for _, perm := range []error{bmc.ErrAuth, bmc.ErrNotFound, bmc.ErrInvalidPowerAction, errors.New("plain")} {
		n := 0
		err := bmc.Retry(context.Background(), fast, func(context.Context) error {
			n++
			return fmt.Errorf("op: %w", perm)
		})
		require.ErrorIs(t, err, perm)
		require.Equal(t, 1, n, "%v is not retried", perm)
	}
}

func TestRetryHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := bmc.Retry(ctx, &bmc.RetryPolicy{MaxAttempts: 100, Initial: time.Millisecond}, func(context.Context) error {
		n++
		if n == 2 {
			cancel()
		}
		return bmc.Transient(errors.New("busy"))
	})
	require.ErrorIs(t, err, context.Canceled, "the caller learns its context ended")
	require.ErrorContains(t, err, "busy", "and what the BMC said last")
	require.LessOrEqual(t, n, 3)
}

func TestIsTransient(t *testing.T) {
	t.Parallel()
	timeout := &net.OpError{Op: "dial", Err: timeoutErr{}}
	require.True(t, bmc.IsTransient(timeout))
	require.True(t, bmc.IsTransient(fmt.Errorf("x: %w", syscall.ECONNREFUSED)))
	require.True(t, bmc.IsTransient(bmc.Transient(errors.New("503"))))
	require.True(t, bmc.IsTransient(fmt.Errorf("Get https://bmc/redfish/v1: %w", io.EOF)), "closed without an answer")
	require.False(t, bmc.IsTransient(nil))
	require.False(t, bmc.IsTransient(context.Canceled))
	require.False(t, bmc.IsTransient(fmt.Errorf("get: %w", context.DeadlineExceeded)), "the caller's deadline")
	require.False(t, bmc.IsTransient(fmt.Errorf("401: %w", bmc.ErrAuth)))
	require.False(t, bmc.IsTransient(bmc.Transient(fmt.Errorf("401: %w", bmc.ErrAuth))), "permanent wins")
	require.False(t, bmc.IsTransient(errors.New("boom")))
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
