package bmc

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Dialer builds a Driver (or a Client of several) for a host, not yet
// opened.
type Dialer func(ctx context.Context, host string, creds Credentials) (Driver, error)

// FanOutOptions configures FanOut. nil means the defaults.
type FanOutOptions struct {
	// Concurrency bounds how many hosts are worked on at once (default
	// 64).
	Concurrency int
	// HostTimeout bounds each host, dial, open, operation and close
	// included (default 2m).
	HostTimeout time.Duration
	// Credentials gives each host's credentials; nil passes empty
	// credentials to the Dialer.
	Credentials CredentialSource
	// Progress, when set, is called after each host ends, from one
	// goroutine at a time, in order of completion.
	Progress func(Progress)
}

// Progress reports how far a FanOut is.
type Progress struct {
	Done, Failed, Total int
	// Last is the host that just ended, and its error.
	Last    string
	LastErr error
	Elapsed time.Duration
}

// Result is one host's outcome.
type Result[T any] struct {
	Host     string
	Value    T
	Err      error
	Duration time.Duration
}

// FanOut runs op on every host with at most Concurrency at once: for each
// host it gets credentials, dials, opens, runs op, and always closes, all
// within HostTimeout. It returns one Result per host, in the order of
// hosts; a host's failure never stops the others. Cancelling ctx ends the
// hosts in flight and fails the rest with ctx's error.
//
// Only Concurrency worker goroutines run, whatever the number of hosts.
func FanOut[T any](ctx context.Context, hosts []string, dial Dialer, op func(ctx context.Context, d Driver) (T, error), opts *FanOutOptions) []Result[T] {
	o := FanOutOptions{Concurrency: 64, HostTimeout: 2 * time.Minute}
	if opts != nil {
		o = *opts
		if o.Concurrency <= 0 {
			o.Concurrency = 64
		}
		if o.HostTimeout <= 0 {
			o.HostTimeout = 2 * time.Minute
		}
	}
	start := time.Now()
	results := make([]Result[T], len(hosts))
	next := make(chan int)
	done := make(chan int, o.Concurrency)
	var wg sync.WaitGroup
	for range min(o.Concurrency, len(hosts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = runHost(ctx, hosts[i], dial, op, &o)
				done <- i
			}
		}()
	}
	go func() {
		defer close(next)
		for i := range hosts {
			select {
			case next <- i:
			case <-ctx.Done():
				for j := i; j < len(hosts); j++ {
					results[j] = Result[T]{Host: hosts[j], Err: fmt.Errorf("bmc: %s: not started: %w", hosts[j], ctx.Err())}
					done <- j
				}
				return
			}
		}
	}()
	p := Progress{Total: len(hosts)}
	for range hosts {
		i := <-done
		p.Done++
		if results[i].Err != nil {
			p.Failed++
		}
		if o.Progress != nil {
			p.Last, p.LastErr, p.Elapsed = hosts[i], results[i].Err, time.Since(start)
			o.Progress(p)
		}
	}
	wg.Wait()
	return results
}

// runHost does one host's part of a FanOut.
func runHost[T any](ctx context.Context, host string, dial Dialer, op func(ctx context.Context, d Driver) (T, error), o *FanOutOptions) (r Result[T]) {
	start := time.Now()
	r.Host = host
	defer func() { r.Duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, o.HostTimeout)
	defer cancel()
	var creds Credentials
	if o.Credentials != nil {
		c, err := o.Credentials.Credentials(ctx, host)
		if err != nil {
			r.Err = fmt.Errorf("bmc: %s: credentials: %w", host, err)
			return r
		}
		creds = c
	}
	d, err := dial(ctx, host, creds)
	if err != nil {
		r.Err = fmt.Errorf("bmc: %s: dial: %w", host, err)
		return r
	}
	defer func() {
		// Log out even when the host's time ran out.
		cctx, ccancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer ccancel()
		_ = d.Close(cctx)
	}()
	if err := d.Open(ctx); err != nil {
		r.Err = fmt.Errorf("bmc: %s: open %s: %w", host, d.Name(), err)
		return r
	}
	r.Value, err = op(ctx, d)
	if err != nil {
		r.Err = fmt.Errorf("bmc: %s: %w", host, err)
	}
	return r
}

// ConsoleCheck checks hosts' remote consoles through a Dialer. It
// satisfies lifecycle.ConsoleChecker, for the console precheck at batch
// submission. It is safe for concurrent use.
type ConsoleCheck struct {
	Dial        Dialer
	Credentials CredentialSource
	// Timeout bounds one host's check (default 30s).
	Timeout time.Duration
}

// CheckConsole returns nil when host's console is usable, and otherwise
// an error saying which step failed (wrapping ErrConsoleUnusable when the
// BMC answered).
func (c ConsoleCheck) CheckConsole(ctx context.Context, host string) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	r := FanOut(ctx, []string{host}, c.Dial, func(ctx context.Context, d Driver) (ConsoleHealth, error) {
		h, err := d.ConsoleHealth(ctx)
		if err != nil {
			return h, err
		}
		return h, h.Err()
	}, &FanOutOptions{Concurrency: 1, HostTimeout: timeout, Credentials: c.Credentials})
	return r[0].Err
}
