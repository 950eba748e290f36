package fleetkit

import (
	"context"
	"fmt"
	"maps"
	"sync"
)

// Recorder is a [Notifier] for tests: it keeps every event it is given so
// that a test can assert on them, and can be told to fail.
//
// The zero value is ready to use. A Recorder is safe for concurrent use,
// except that Err must not be changed while Notify may run. A Recorder must
// not be copied after first use.
type Recorder struct {
	// Err, when not nil, is returned by Notify, and the event is not
	// recorded: it was never delivered.
	Err error

	mu      sync.Mutex
	events  []Event
	changed chan struct{} // closed and replaced when an event is recorded
}

var _ Notifier = (*Recorder)(nil)

// Notify records a copy of e, Attrs included, and returns nil; or returns
// r.Err without recording when that is set.
func (r *Recorder) Notify(_ context.Context, e Event) error {
	if r.Err != nil {
		return r.Err
	}
	e.Attrs = maps.Clone(e.Attrs)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
	return nil
}

// Events returns copies of the recorded events, oldest first.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.matchLocked(func(Event) bool { return true }, len(r.events))
}

// Kinds returns the Kind of each recorded event, oldest first.
func (r *Recorder) Kinds() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	kinds := make([]string, len(r.events))
	for i, e := range r.events {
		kinds[i] = e.Kind
	}
	return kinds
}

// Reset forgets every recorded event. It does not change Err.
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = nil
}

// WaitFor blocks until at least n events of the given kind have been
// recorded since the last [Recorder.Reset], and returns copies of the first
// n of them. When ctx ends first it returns the events of that kind seen so
// far with an error wrapping ctx.Err(); give ctx a deadline so a test
// cannot hang.
func (r *Recorder) WaitFor(ctx context.Context, kind string, n int) ([]Event, error) {
	isKind := func(e Event) bool { return e.Kind == kind }
	for {
		r.mu.Lock()
		got := r.matchLocked(isKind, n)
		if len(got) >= n {
			r.mu.Unlock()
			return got, nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		changed := r.changed
		r.mu.Unlock()

		select {
		case <-changed:
		case <-ctx.Done():
			return got, fmt.Errorf("recorder: waiting for %d %q events, saw %d: %w", n, kind, len(got), ctx.Err())
		}
	}
}

// matchLocked returns copies of the first limit recorded events for which
// match is true. r.mu must be held.
func (r *Recorder) matchLocked(match func(Event) bool, limit int) []Event {
	var out []Event
	for _, e := range r.events {
		if len(out) >= limit {
			break
		}
		if match(e) {
			e.Attrs = maps.Clone(e.Attrs)
			out = append(out, e)
		}
	}
	return out
}
