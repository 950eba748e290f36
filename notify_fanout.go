package fleetkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// FanOut is a [Notifier] that delivers each event to several notifiers at
// once.
//
// Notify runs one goroutine per notifier, so its concurrency is bounded by
// the number of notifiers given to [NewFanOut]. Every notifier receives the
// same [Event] value and must treat its Attrs as read-only.
//
// A FanOut is safe for concurrent use when its notifiers are, as every
// [Notifier] must be.
type FanOut struct {
	targets []fanOutTarget
}

// fanOutTarget is a notifier with its position in NewFanOut's arguments,
// which errors report.
type fanOutTarget struct {
	index    int
	notifier Notifier
}

var _ Notifier = (*FanOut)(nil)

// NewFanOut returns a [FanOut] over ns. Nil notifiers are skipped; the
// others keep their argument index in errors.
func NewFanOut(ns ...Notifier) *FanOut {
	f := &FanOut{targets: make([]fanOutTarget, 0, len(ns))}
	for i, n := range ns {
		if n != nil {
			f.targets = append(f.targets, fanOutTarget{index: i, notifier: n})
		}
	}
	return f
}

// Notify delivers e to every notifier concurrently and waits for all of
// them, also when some fail. It returns nil when all succeeded, otherwise
// the [errors.Join] of the failures, each wrapped as "notifier <index>: …"
// with the notifier's index in the arguments to [NewFanOut]. Each notifier
// receives ctx and is expected to honour it.
func (f *FanOut) Notify(ctx context.Context, e Event) error {
	errs := make([]error, len(f.targets))
	var wg sync.WaitGroup
	for i, t := range f.targets {
		wg.Go(func() {
			if err := t.notifier.Notify(ctx, e); err != nil {
				errs[i] = fmt.Errorf("notifier %d: %w", t.index, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
