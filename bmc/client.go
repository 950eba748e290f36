package bmc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Attempt is one driver's try at one operation.
type Attempt struct {
	Driver   string        `json:"driver"`
	Err      error         `json:"-"`
	Duration time.Duration `json:"duration"`
}

// Report says which driver answered an operation and why the drivers
// before it failed.
type Report struct {
	Host string `json:"host"`
	Op   string `json:"op"`
	// Answered names the driver that succeeded; empty when none did.
	Answered string    `json:"answered,omitempty"`
	Attempts []Attempt `json:"attempts"`
}

// String renders the report on one line, e.g.
// "power-state on web01: ipmi answered after redfish failed (…)".
func (r Report) String() string {
	var failed []string
	for _, a := range r.Attempts {
		if a.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", a.Driver, a.Err))
		}
	}
	switch {
	case r.Answered == "" && len(failed) == 0:
		return fmt.Sprintf("%s on %s: no driver tried", r.Op, r.Host)
	case r.Answered == "":
		return fmt.Sprintf("%s on %s: every driver failed (%s)", r.Op, r.Host, strings.Join(failed, "; "))
	case len(failed) == 0:
		return fmt.Sprintf("%s on %s: %s answered", r.Op, r.Host, r.Answered)
	}
	return fmt.Sprintf("%s on %s: %s answered after %s", r.Op, r.Host, r.Answered, strings.Join(failed, "; "))
}

// ClientError is returned when no driver of a Client could do an
// operation. errors.Is and errors.As see every attempt's error, so
// errors.Is(err, ErrAuth) is true when any driver was refused.
type ClientError struct {
	Report Report
}

// Error renders the report: every driver and why it failed.
func (e *ClientError) Error() string { return "bmc: " + e.Report.String() }

// Unwrap returns the attempts' errors.
func (e *ClientError) Unwrap() []error {
	var out []error
	for _, a := range e.Report.Attempts {
		if a.Err != nil {
			out = append(out, a.Err)
		}
	}
	return out
}

// ClientOptions configures a Client. nil means the defaults.
type ClientOptions struct {
	// DriverTimeout bounds each driver's try at an operation (default
	// 30s), so a dead protocol does not eat the time of the next one.
	DriverTimeout time.Duration
	// OnReport, when set, receives the report of every operation.
	OnReport func(Report)
}

// Client holds several drivers for one host in order of preference (say
// Redfish, then IPMI). It opens them all, tries each operation on each
// open driver in order under a per-driver timeout, stops at the first
// success, and reports which driver answered and why the others failed.
//
// Errors that are about the request rather than the driver
// (ErrInvalidPowerAction, ErrInvalidArgument) stop the search: another
// protocol would give the same answer. Every other error (ErrAuth,
// ErrUnsupported, ErrBootNotApplied, transient failures) moves on to the
// next driver.
//
// A Client is itself a Driver, so it can stand wherever one is expected.
// It is safe for concurrent use: operations are serialised, since each
// driver holds one session.
type Client struct {
	host    string
	drivers []Driver
	opts    ClientOptions

	mu   sync.Mutex
	open []bool
}

var _ Driver = (*Client)(nil)

// NewClient returns a Client for host over drivers, in order of
// preference.
func NewClient(host string, drivers []Driver, opts *ClientOptions) *Client {
	c := &Client{host: host, drivers: drivers, open: make([]bool, len(drivers))}
	if opts != nil {
		c.opts = *opts
	}
	if c.opts.DriverTimeout <= 0 {
		c.opts.DriverTimeout = 30 * time.Second
	}
	return c
}

// Name lists the drivers, e.g. "client(redfish,ipmi)".
func (c *Client) Name() string {
	names := make([]string, len(c.drivers))
	for i, d := range c.drivers {
		names[i] = d.Name()
	}
	return "client(" + strings.Join(names, ",") + ")"
}

// stops reports whether err is about the request, so that no other driver
// should be tried.
func stops(err error) bool {
	return errors.Is(err, ErrInvalidPowerAction) || errors.Is(err, ErrInvalidArgument)
}

// run tries fn on each driver that is open (all of them, for Open) in
// order and returns the report.
func (c *Client) run(ctx context.Context, op string, opening bool, fn func(ctx context.Context, i int, d Driver) error) (Report, error) {
	r := Report{Host: c.host, Op: op}
	var stopErr error
	for i, d := range c.drivers {
		if ctx.Err() != nil {
			break
		}
		if !opening && !c.open[i] {
			continue
		}
		dctx, cancel := context.WithTimeout(ctx, c.opts.DriverTimeout)
		start := time.Now()
		err := fn(dctx, i, d)
		cancel()
		r.Attempts = append(r.Attempts, Attempt{Driver: d.Name(), Err: err, Duration: time.Since(start)})
		if err == nil {
			r.Answered = d.Name()
			if !opening {
				break
			}
			continue
		}
		if stops(err) {
			stopErr = err
			break
		}
	}
	if c.opts.OnReport != nil {
		c.opts.OnReport(r)
	}
	switch {
	case r.Answered != "":
		return r, nil
	case stopErr != nil:
		return r, stopErr
	case ctx.Err() != nil && len(r.Attempts) == 0:
		return r, fmt.Errorf("bmc: %s on %s: %w", op, c.host, ctx.Err())
	case len(r.Attempts) == 0:
		return r, fmt.Errorf("bmc: %s on %s: %w: no driver is open", op, c.host, ErrNotOpen)
	}
	return r, &ClientError{Report: r}
}

// Open opens every driver. It succeeds when at least one opened; drivers
// that failed to open are left out of later operations (see the report).
func (c *Client) Open(ctx context.Context) error {
	_, err := c.OpenReport(ctx)
	return err
}

// OpenReport is Open, returning the report.
func (c *Client) OpenReport(ctx context.Context) (Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run(ctx, "open", true, func(ctx context.Context, i int, d Driver) error {
		err := d.Open(ctx)
		c.open[i] = err == nil
		return err
	})
}

// Close closes every driver, open or not (Close logs out and is safe to
// repeat), and returns their errors joined.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for i, d := range c.drivers {
		if err := d.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.Name(), err))
		}
		c.open[i] = false
	}
	return errors.Join(errs...)
}

// Do runs fn on the open drivers in order until one succeeds, as the other
// operations do, and returns the report. op names the operation in it.
func (c *Client) Do(ctx context.Context, op string, fn func(ctx context.Context, d Driver) error) (Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run(ctx, op, false, func(ctx context.Context, _ int, d Driver) error { return fn(ctx, d) })
}

// PowerState reads the power through the first driver that answers.
func (c *Client) PowerState(ctx context.Context) (PowerState, error) {
	var st PowerState
	_, err := c.Do(ctx, "power-state", func(ctx context.Context, d Driver) error {
		var err error
		st, err = d.PowerState(ctx)
		return err
	})
	return st, err
}

// SetPower performs a through the first driver that can.
func (c *Client) SetPower(ctx context.Context, a PowerAction) error {
	_, err := c.Do(ctx, "power-"+string(a), func(ctx context.Context, d Driver) error { return d.SetPower(ctx, a) })
	return err
}

// SetBootOverride sets the one-time boot device through the first driver
// whose BMC keeps it.
func (c *Client) SetBootOverride(ctx context.Context, o BootOverride) error {
	if err := o.Validate(); err != nil {
		return err
	}
	_, err := c.Do(ctx, "boot-"+string(o.Device), func(ctx context.Context, d Driver) error { return d.SetBootOverride(ctx, o) })
	return err
}

// ConsoleHealth returns the first usable console health a driver reports;
// when none is usable, the last report.
func (c *Client) ConsoleHealth(ctx context.Context) (ConsoleHealth, error) {
	var last ConsoleHealth
	_, err := c.Do(ctx, "console-health", func(ctx context.Context, d Driver) error {
		h, err := d.ConsoleHealth(ctx)
		if err != nil {
			return err
		}
		last = h
		return h.Err() // an unusable console: try the next protocol
	})
	if errors.Is(err, ErrConsoleUnusable) {
		return last, nil
	}
	return last, err
}
