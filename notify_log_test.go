package fleetkit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
)

// logRecord is one line written by slog.NewJSONHandler for a LogNotifier.
type logRecord struct {
	Level     string            `json:"level"`
	Msg       string            `json:"msg"`
	Kind      string            `json:"kind"`
	Subject   string            `json:"subject"`
	EventTime time.Time         `json:"event_time"`
	Attrs     map[string]string `json:"attrs"`
}

// newJSONLog returns a logger writing JSON lines at every level, and a
// function that decodes what was written.
func newJSONLog(t *testing.T) (*slog.Logger, func() []logRecord) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l, func() []logRecord {
		var out []logRecord
		sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
		for sc.Scan() {
			var r logRecord
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
			out = append(out, r)
		}
		require.NoError(t, sc.Err())
		return out
	}
}

func TestLogNotifier_Contract(t *testing.T) {
	t.Parallel()
	runNotifierContract(t, func(t *testing.T) (fleetkit.Notifier, func() []fleetkit.Event) {
		l, records := newJSONLog(t)
		return fleetkit.NewLogNotifier(l, nil), func() []fleetkit.Event {
			var events []fleetkit.Event
			for _, r := range records() {
				events = append(events, fleetkit.Event{Kind: r.Kind, Subject: r.Subject, Time: r.EventTime, Attrs: r.Attrs})
			}
			return events
		}
	})
}

func TestLogNotifier_Fields(t *testing.T) {
	t.Parallel()
	l, records := newJSONLog(t)
	n := fleetkit.NewLogNotifier(l, nil)
	e := testEvent(7)
	require.NoError(t, n.Notify(t.Context(), e))
	require.NoError(t, n.Notify(t.Context(), fleetkit.Event{Kind: "host.failed", Subject: "node7"}))

	got := records()
	require.Len(t, got, 2)
	require.Equal(t, "INFO", got[0].Level)
	require.Equal(t, "fleetkit event", got[0].Msg)
	require.Equal(t, "batch.accepted", got[0].Kind)
	require.Equal(t, "batch-007", got[0].Subject)
	require.True(t, e.Time.Equal(got[0].EventTime))
	require.Equal(t, e.Attrs, got[0].Attrs)

	require.Equal(t, "host.failed", got[1].Kind)
	require.True(t, got[1].EventTime.IsZero(), "no event_time for an event without one")
	require.Nil(t, got[1].Attrs, "no attrs group for an event without attrs")
}

func TestLogNotifier_Options(t *testing.T) {
	t.Parallel()
	l, records := newJSONLog(t)
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	n := fleetkit.NewLogNotifier(l, &fleetkit.LogNotifierOptions{Level: level, Message: "fleet event"})

	require.NoError(t, n.Notify(t.Context(), testEvent(1)))
	level.Set(slog.LevelError)
	require.NoError(t, n.Notify(t.Context(), testEvent(2)))

	got := records()
	require.Len(t, got, 2)
	require.Equal(t, "WARN", got[0].Level)
	require.Equal(t, "ERROR", got[1].Level)
	require.Equal(t, "fleet event", got[0].Msg)
}

func TestLogNotifier_FilteredLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil)) // Info and above
	n := fleetkit.NewLogNotifier(l, &fleetkit.LogNotifierOptions{Level: slog.LevelDebug})
	require.NoError(t, n.Notify(t.Context(), testEvent(1)))
	require.Zero(t, buf.Len())
}

func TestNotifyBestEffort(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	rec := &fleetkit.Recorder{}
	fleetkit.NotifyBestEffort(context.Background(), rec, log, now, fleetkit.Event{Kind: "batch.finished", Subject: "b1"})
	require.Len(t, rec.Events(), 1)
	require.True(t, rec.Events()[0].Time.Equal(at), "stamped with now")
	require.Empty(t, logs.String())

	failing := fleetkit.NotifierFunc(func(context.Context, fleetkit.Event) error { return errors.New("chat is down") })
	fleetkit.NotifyBestEffort(context.Background(), failing, log, now, fleetkit.Event{Kind: "job.triage", Subject: "web1"})
	require.Contains(t, logs.String(), "notification failed")
	require.Contains(t, logs.String(), "kind=job.triage")
	require.Contains(t, logs.String(), "chat is down")

	fleetkit.NotifyBestEffort(context.Background(), nil, log, now, fleetkit.Event{Kind: "x"}) // sends nothing
	fleetkit.NotifyBestEffort(context.Background(), failing, nil, now, fleetkit.Event{Kind: "x"})
}
