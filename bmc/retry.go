package bmc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// RetryPolicy says how drivers retry transient failures. The zero value
// (or nil) means the defaults.
type RetryPolicy struct {
	// MaxAttempts is how many times an operation is tried (default 4;
	// 1 disables retries).
	MaxAttempts int
	// Initial is the first wait between attempts (default 200ms); waits
	// grow exponentially, with jitter, up to Max (default 3s).
	Initial, Max time.Duration
}

func (p *RetryPolicy) withDefaults() RetryPolicy {
	out := RetryPolicy{MaxAttempts: 4, Initial: 200 * time.Millisecond, Max: 3 * time.Second}
	if p != nil {
		if p.MaxAttempts > 0 {
			out.MaxAttempts = p.MaxAttempts
		}
		if p.Initial > 0 {
			out.Initial = p.Initial
		}
		if p.Max > 0 {
			out.Max = p.Max
		}
	}
	return out
}

// Retry runs op until it succeeds, fails with an error that is not
// transient (IsTransient), runs out of attempts, or ctx is done. Waits are
// exponential with jitter. The error of the last attempt is returned,
// wrapped with the number of attempts when there was more than one.
func Retry(ctx context.Context, p *RetryPolicy, op func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The first attempt needs no backoff state.
	last := op(ctx)
	if last == nil || !IsTransient(last) || ctx.Err() != nil {
		return last
	}
	pol := p.withDefaults()
	if pol.MaxAttempts == 1 {
		return last
	}
	eb := backoff.NewExponentialBackOff()
	eb.InitialInterval = pol.Initial
	eb.MaxInterval = pol.Max
	eb.MaxElapsedTime = 0 // bounded by attempts and ctx
	attempts := 1
	b := backoff.WithContext(backoff.WithMaxRetries(eb, uint64(pol.MaxAttempts-1)), ctx)
	for {
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("after %d attempts: %w (last error: %w)", attempts, ctx.Err(), last)
		case <-t.C:
		}
		attempts++
		last = op(ctx)
		if last == nil {
			return nil
		}
		if ctx.Err() != nil && !errors.Is(last, ctx.Err()) {
			return fmt.Errorf("after %d attempts: %w (last error: %w)", attempts, ctx.Err(), last)
		}
		if !IsTransient(last) || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("after %d attempts: %w", attempts, last)
}
