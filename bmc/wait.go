package bmc

import (
	"context"
	"fmt"
	"time"
)

// WaitPower polls read every interval until it reports want, for at most
// timeout and never past ctx. Drivers use it to confirm a power action the
// BMC accepted. An error from read is returned as it is; when time runs out
// the error says what the system still reports; when ctx ends the error
// wraps ctx.Err().
func WaitPower(ctx context.Context, want PowerState, interval, timeout time.Duration, read func(context.Context) (PowerState, error)) error {
	start := time.Now()
	for {
		ps, err := read(ctx)
		if err != nil {
			return err
		}
		if ps == want {
			return nil
		}
		left := timeout - time.Since(start)
		if left <= 0 {
			return fmt.Errorf("still reports %s after %s", ps, timeout.Round(time.Millisecond))
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for %s (now %s): %w", want, ps, ctx.Err())
		case <-t.C:
		}
	}
}
