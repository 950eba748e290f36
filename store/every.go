package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// EveryOptions tune Every. nil means the defaults.
type EveryOptions struct {
	// TTL is the lease's time to live (default twice the interval): a
	// node that dies stops holding the task that long after its last
	// round.
	TTL time.Duration
	// OnError receives the errors of fn and of the Locker; nil drops
	// them. It must not block.
	OnError func(error)
}

// Every runs fn every interval until ctx ends, on one node at a time
// among those sharing l: each round first takes (or renews) the lease
// name, and a node that another node's unexpired lease keeps out skips the
// round. The node that holds the lease keeps it from round to round, so
// the task stays where it runs until that node stops or dies. fn gets the
// lease, whose Token fences what it writes. A nil l runs every round on
// this node, for a single node. The first round runs at once.
//
// Every returns nil when ctx ends, after releasing the lease it holds.
// Errors of fn and of the Locker go to opts.OnError and do not stop it.
func Every(ctx context.Context, l Locker, name string, interval time.Duration,
	fn func(ctx context.Context, lease Lease) error, opts *EveryOptions) error {
	var o EveryOptions
	if opts != nil {
		o = *opts
	}
	if o.TTL == 0 {
		o.TTL = 2 * interval
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	if interval <= 0 || o.TTL < interval {
		return fmt.Errorf("store: every %q: %w: interval %s must be positive and TTL %s at least as long", name, ErrInvalid, interval, o.TTL)
	}
	if l != nil {
		if err := ValidateLeaseRequest(name, o.TTL); err != nil {
			return err
		}
	}
	var held *Lease
	defer func() {
		if held != nil {
			_ = l.Release(context.WithoutCancel(ctx), *held)
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		lease := Lease{Name: name}
		if l != nil {
			var err error
			if held != nil {
				lease, err = l.Renew(ctx, *held, o.TTL)
			}
			if held == nil || err != nil {
				lease, err = l.Acquire(ctx, name, o.TTL)
			}
			held = nil
			switch {
			case err == nil:
				held = &lease
			case errors.Is(err, ErrLocked) || ctx.Err() != nil:
			default:
				o.OnError(fmt.Errorf("store: every %q: lease: %w", name, err))
			}
		}
		if l == nil || held != nil {
			if err := fn(ctx, lease); err != nil && ctx.Err() == nil {
				o.OnError(err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
