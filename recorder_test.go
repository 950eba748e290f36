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

func TestRecorder_Contract(t *testing.T) {
	t.Parallel()
	runNotifierContract(t, func(t *testing.T) (fleetkit.Notifier, func() []fleetkit.Event) {
		r := new(fleetkit.Recorder)
		return r, r.Events
	})
}

func TestRecorder_RecordsCopies(t *testing.T) {
	t.Parallel()
	var r fleetkit.Recorder
	e := testEvent(1)
	require.NoError(t, r.Notify(t.Context(), e))

	e.Attrs["owner"] = "changed by sender"
	got := r.Events()
	require.Equal(t, "ops", got[0].Attrs["owner"])

	got[0].Attrs["owner"] = "changed by reader"
	require.Equal(t, "ops", r.Events()[0].Attrs["owner"])
}

func TestRecorder_KindsAndReset(t *testing.T) {
	t.Parallel()
	var r fleetkit.Recorder
	require.Empty(t, r.Events())
	require.Empty(t, r.Kinds())
	for _, k := range []string{"batch.accepted", "host.failed", "batch.accepted"} {
		require.NoError(t, r.Notify(t.Context(), fleetkit.Event{Kind: k}))
	}
	require.Equal(t, []string{"batch.accepted", "host.failed", "batch.accepted"}, r.Kinds())
	require.Len(t, r.Events(), 3)

	r.Reset()
	require.Empty(t, r.Events())
	require.Empty(t, r.Kinds())
}

func TestRecorder_Err(t *testing.T) {
	t.Parallel()
	errDown := errors.New("hook down")
	r := &fleetkit.Recorder{Err: errDown}
	require.ErrorIs(t, r.Notify(t.Context(), testEvent(1)), errDown)
	require.Empty(t, r.Events(), "a failed delivery is not recorded")
}

func TestRecorder_WaitFor(t *testing.T) {
	t.Parallel()

	t.Run("AlreadyRecorded", func(t *testing.T) {
		t.Parallel()
		var r fleetkit.Recorder
		require.NoError(t, r.Notify(t.Context(), fleetkit.Event{Kind: "a", Subject: "1"}))
		require.NoError(t, r.Notify(t.Context(), fleetkit.Event{Kind: "b", Subject: "2"}))
		require.NoError(t, r.Notify(t.Context(), fleetkit.Event{Kind: "a", Subject: "3"}))
		got, err := r.WaitFor(t.Context(), "a", 2)
		require.NoError(t, err)
		require.Equal(t, []fleetkit.Event{{Kind: "a", Subject: "1"}, {Kind: "a", Subject: "3"}}, got)
	})

	t.Run("Later", func(t *testing.T) {
		t.Parallel()
		var r fleetkit.Recorder
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		done := make(chan []fleetkit.Event)
		go func() {
			got, err := r.WaitFor(ctx, "host.failed", 3)
			if err != nil {
				got = nil
			}
			done <- got
		}()
		for i := range 5 {
			require.NoError(t, r.Notify(ctx, fleetkit.Event{Kind: "host.failed", Subject: string(rune('a' + i))}))
			require.NoError(t, r.Notify(ctx, fleetkit.Event{Kind: "other"}))
		}
		got := <-done
		require.Len(t, got, 3, "the first three, not more")
		require.Equal(t, "a", got[0].Subject)
	})

	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		var r fleetkit.Recorder
		require.NoError(t, r.Notify(t.Context(), fleetkit.Event{Kind: "a"}))
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		got, err := r.WaitFor(ctx, "a", 2)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.ErrorContains(t, err, `waiting for 2 "a" events, saw 1`)
		require.Len(t, got, 1)
	})
}

func TestRecorder_ConcurrentReadersAndWriters(t *testing.T) {
	t.Parallel()
	var r fleetkit.Recorder
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	const writers, each = 4, 50
	var wg sync.WaitGroup
	waited := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := r.WaitFor(ctx, "tick", writers*each)
			waited <- err
		}()
	}
	for range writers {
		wg.Go(func() {
			for i := range each {
				if err := r.Notify(ctx, testEvent(i)); err != nil {
					panic(err) // a Recorder without Err never fails
				}
				_ = r.Notify(ctx, fleetkit.Event{Kind: "tick"})
			}
		})
	}
	wg.Go(func() {
		for range each {
			_ = r.Events()
			_ = r.Kinds()
		}
	})
	wg.Wait()
	require.NoError(t, <-waited)
	require.NoError(t, <-waited)
	require.Len(t, r.Events(), 2*writers*each)
}
