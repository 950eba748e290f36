package fleetkit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
)

// notifierHarness builds a notifier under test and a function that returns
// every event that reached the notifier's destination so far.
type notifierHarness func(t *testing.T) (n fleetkit.Notifier, delivered func() []fleetkit.Event)

// runNotifierContract checks what every Notifier promises: the event
// arrives whole, and Notify is safe for concurrent use. Each notifier's
// tests call it; run them with -race.
func runNotifierContract(t *testing.T, newHarness notifierHarness) {
	t.Run("DeliversEvent", func(t *testing.T) {
		t.Parallel()
		n, delivered := newHarness(t)
		e := testEvent(1)
		require.NoError(t, n.Notify(t.Context(), e))
		requireSameEvents(t, []fleetkit.Event{e}, delivered())
	})
	t.Run("ConcurrentUse", func(t *testing.T) {
		t.Parallel()
		n, delivered := newHarness(t)
		const goroutines, each = 8, 4
		var (
			want []fleetkit.Event
			wg   sync.WaitGroup
			errs = make(chan error, goroutines*each)
		)
		for g := range goroutines {
			events := make([]fleetkit.Event, each)
			for i := range events {
				events[i] = testEvent(g*each + i)
			}
			want = append(want, events...)
			wg.Go(func() {
				for _, e := range events {
					errs <- n.Notify(t.Context(), e)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		requireSameEvents(t, want, delivered())
	})
}

// testEvent returns a distinct, fully populated event.
func testEvent(i int) fleetkit.Event {
	return fleetkit.Event{
		Kind:    "batch.accepted",
		Subject: fmt.Sprintf("batch-%03d", i),
		Time:    time.Date(2025, 11, 25, 16, 0, i, 500, time.UTC),
		Attrs:   map[string]string{"owner": "ops", "action": "reimage", "n": fmt.Sprint(i)},
	}
}

// requireSameEvents checks that got holds the events of want in any order,
// comparing times as instants.
func requireSameEvents(t *testing.T, want, got []fleetkit.Event) {
	t.Helper()
	norm := func(es []fleetkit.Event) []fleetkit.Event {
		out := make([]fleetkit.Event, len(es))
		for i, e := range es {
			e.Time = e.Time.UTC()
			out[i] = e
		}
		return out
	}
	require.ElementsMatch(t, norm(want), norm(got))
}

// failingNotifier returns a notifier that always fails with err.
func failingNotifier(err error) fleetkit.Notifier {
	return fleetkit.NotifierFunc(func(context.Context, fleetkit.Event) error { return err })
}
