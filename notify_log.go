package fleetkit

import (
	"context"
	"log/slog"
	"maps"
	"slices"
)

// LogNotifierOptions configures a [LogNotifier]. The zero value, like a nil
// pointer, means the defaults.
type LogNotifierOptions struct {
	// Level is the level events are logged at. Nil means slog.LevelInfo.
	// A *slog.LevelVar lets the level change while the program runs.
	Level slog.Leveler
	// Message is the log message of every record. Empty means
	// "fleetkit event".
	Message string
}

// LogNotifier is a [Notifier] that writes each [Event] as one record to a
// [slog.Logger].
//
// A record carries the attributes "kind" and "subject", "event_time" when
// the event has a time, and the event's Attrs in a group named "attrs",
// sorted by key. Notify never fails: a record the logger's level filters
// out counts as delivered.
//
// A LogNotifier is safe for concurrent use when its logger's handler is, as
// every handler in log/slog is.
type LogNotifier struct {
	logger *slog.Logger
	level  slog.Leveler
	msg    string
}

var _ Notifier = (*LogNotifier)(nil)

// NewLogNotifier returns a [LogNotifier] writing to l, or to slog.Default()
// when l is nil. A nil opts means the defaults described on
// [LogNotifierOptions].
func NewLogNotifier(l *slog.Logger, opts *LogNotifierOptions) *LogNotifier {
	if l == nil {
		l = slog.Default()
	}
	n := &LogNotifier{logger: l, level: slog.LevelInfo, msg: "fleetkit event"}
	if opts != nil {
		if opts.Level != nil {
			n.level = opts.Level
		}
		if opts.Message != "" {
			n.msg = opts.Message
		}
	}
	return n
}

// Notify logs e. It always returns nil.
func (n *LogNotifier) Notify(ctx context.Context, e Event) error {
	n.logger.LogAttrs(ctx, n.level.Level(), n.msg, eventLogAttrs(e)...)
	return nil
}

// eventLogAttrs flattens e into slog attributes, in a stable order.
func eventLogAttrs(e Event) []slog.Attr {
	attrs := make([]slog.Attr, 0, 4)
	attrs = append(attrs, slog.String("kind", e.Kind), slog.String("subject", e.Subject))
	if !e.Time.IsZero() {
		attrs = append(attrs, slog.Time("event_time", e.Time))
	}
	if len(e.Attrs) > 0 {
		group := make([]slog.Attr, 0, len(e.Attrs))
		for _, k := range slices.Sorted(maps.Keys(e.Attrs)) {
			group = append(group, slog.String(k, e.Attrs[k]))
		}
		attrs = append(attrs, slog.GroupAttrs("attrs", group...))
	}
	return attrs
}
