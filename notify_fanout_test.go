package fleetkit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
)

func TestFanOut_Contract(t *testing.T) {
	t.Parallel()
	runNotifierContract(t, func(t *testing.T) (fleetkit.Notifier, func() []fleetkit.Event) {
		var first, second fleetkit.Recorder
		t.Cleanup(func() { requireSameEvents(t, first.Events(), second.Events()) })
		return fleetkit.NewFanOut(&first, nil, &second), first.Events
	})
}

func TestFanOut_DeliversToAll(t *testing.T) {
	t.Parallel()
	var a, b fleetkit.Recorder
	f := fleetkit.NewFanOut(nil, &a, nil, &b)
	require.NoError(t, f.Notify(t.Context(), testEvent(1)))
	require.Len(t, a.Events(), 1)
	require.Len(t, b.Events(), 1)
}

func TestFanOut_Empty(t *testing.T) {
	t.Parallel()
	require.NoError(t, fleetkit.NewFanOut().Notify(t.Context(), testEvent(1)))
	require.NoError(t, fleetkit.NewFanOut(nil, nil).Notify(t.Context(), testEvent(1)))
}

func TestFanOut_JoinsErrorsWithIndex(t *testing.T) {
	t.Parallel()
	errChat := errors.New("chat down")
	errTicket := errors.New("tickets down")
	var ok fleetkit.Recorder
	f := fleetkit.NewFanOut(&ok, failingNotifier(errChat), nil, failingNotifier(errTicket))

	err := f.Notify(t.Context(), testEvent(1))
	require.ErrorIs(t, err, errChat)
	require.ErrorIs(t, err, errTicket)
	require.ErrorContains(t, err, "notifier 1: chat down")
	require.ErrorContains(t, err, "notifier 3: tickets down")
	require.Len(t, ok.Events(), 1, "a failing notifier does not stop the others")
}

// TestFanOut_Concurrent proves the notifiers run at the same time: each
// waits until all have started, which would time out if they ran in turn.
func TestFanOut_Concurrent(t *testing.T) {
	t.Parallel()
	const n = 3
	var started sync.WaitGroup
	started.Add(n)
	allStarted := make(chan struct{})
	go func() { started.Wait(); close(allStarted) }()

	barrier := fleetkit.NotifierFunc(func(ctx context.Context, _ fleetkit.Event) error {
		started.Done()
		select {
		case <-allStarted:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fleetkit.NewFanOut(barrier, barrier, barrier).Notify(ctx, testEvent(1)))
}

func TestFanOut_PassesContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	honours := fleetkit.NotifierFunc(func(ctx context.Context, _ fleetkit.Event) error { return ctx.Err() })
	err := fleetkit.NewFanOut(honours, honours).Notify(ctx, testEvent(1))
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorContains(t, err, "notifier 0:")
	require.ErrorContains(t, err, "notifier 1:")
}
