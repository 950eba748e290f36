package fleetkit

import (
	"context"
	"log/slog"
	"time"
)

// Event is something that happened in the fleet that someone may want to
// hear about: a batch was accepted, a host failed, a snapshot was found
// corrupt.
type Event struct {
	// Kind names what happened, dot-separated from general to specific,
	// for example "batch.accepted". Packages declare their kinds as
	// constants.
	Kind string `json:"kind"`
	// Subject is the identifier of the thing the event is about: a batch
	// ID, a hostname, a snapshot ID.
	Subject string `json:"subject"`
	// Time is when it happened.
	Time time.Time `json:"time"`
	// Attrs carries details as flat key/value pairs (owner, action,
	// reason, …). It never carries secrets.
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Notifier delivers events to people or systems: a log, a chat hook, a
// ticketing system.
//
// Notify must honour ctx and return an error only when the event could not
// be delivered. Callers treat notification as best effort: a failing
// notifier is logged and never undoes the operation it reports.
// Implementations must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, e Event) error
}

// NotifierFunc adapts a function to the [Notifier] interface.
type NotifierFunc func(ctx context.Context, e Event) error

// Notify calls f(ctx, e).
func (f NotifierFunc) Notify(ctx context.Context, e Event) error { return f(ctx, e) }

// NotifyBestEffort sends e through n, stamped with now(), and logs a
// failure to log instead of returning it: callers treat notification as
// best effort, and a failing notifier never undoes what it reports. A nil
// n sends nothing; a nil log discards the failure.
func NotifyBestEffort(ctx context.Context, n Notifier, log *slog.Logger, now func() time.Time, e Event) {
	if n == nil {
		return
	}
	e.Time = now()
	if err := n.Notify(ctx, e); err != nil && log != nil {
		log.WarnContext(ctx, "notification failed", "kind", e.Kind, "subject", e.Subject, "err", err)
	}
}
