package fakebmc

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"

	"github.com/fleetkit/fleetkit/bmc"
)

// DriverName is what the in-process driver's Name returns.
const DriverName = "fake"

// Compile-time checks: the in-process driver has every optional
// capability.
var (
	_ bmc.Driver         = (*driver)(nil)
	_ bmc.VirtualMedia   = (*driver)(nil)
	_ bmc.BMCResetter    = (*driver)(nil)
	_ bmc.EventLogReader = (*driver)(nil)
)

// Driver returns an in-process bmc.Driver over b that logs in with b's own
// credentials. Each call returns a new driver with its own session.
func (b *BMC) Driver() bmc.Driver { return NewDriver(b, b.creds) }

// NewDriver returns an in-process bmc.Driver (Name "fake") over b that logs
// in with creds; with wrong credentials its Open fails with bmc.ErrAuth.
//
// The driver behaves like a network driver: every call is one or more BMC
// operations (with the BMC's latency and injected failures), transient
// failures are retried with Options.Retry, power actions are decided with
// bmc.CheckPowerAction after reading the power, and a boot override is
// read back after it is set. It implements bmc.VirtualMedia,
// bmc.BMCResetter and bmc.EventLogReader.
//
// Like every bmc.Driver it is meant for one goroutine at a time; it is
// nevertheless safe for concurrent use, so tests can provoke overlaps.
func NewDriver(b *BMC, creds bmc.Credentials) bmc.Driver {
	return &driver{b: b, creds: creds}
}

// BMCOf returns the simulated BMC behind an in-process driver, for
// harnesses that only hold the bmc.Driver.
func BMCOf(d bmc.Driver) (*BMC, bool) {
	fd, ok := d.(*driver)
	if !ok {
		return nil, false
	}
	return fd.b, true
}

type driver struct {
	b     *BMC
	creds bmc.Credentials

	mu      sync.Mutex
	session uint64 // 0: not open
}

func (d *driver) Name() string { return DriverName }

// String names the driver and its user, never the password.
func (d *driver) String() string {
	return fmt.Sprintf("fakebmc driver for %q (user %q)", d.b.Host(), d.creds.Username)
}

// GoString is String, for %#v, so the password never shows.
func (d *driver) GoString() string { return d.String() }

// errorf wraps err with what was being done and to which host.
func (d *driver) errorf(err error, format string, args ...any) error {
	if host := d.b.Host(); host != "" {
		return fmt.Errorf("fakebmc: %s on %q: %w", fmt.Sprintf(format, args...), host, err)
	}
	return fmt.Errorf("fakebmc: %s: %w", fmt.Sprintf(format, args...), err)
}

// call runs one BMC operation with retries of transient failures, after
// checking the session is open.
func (d *driver) call(ctx context.Context, kind OpKind, detail string, fn func() error) error {
	return bmc.Retry(ctx, &d.b.retry, func(ctx context.Context) error {
		d.mu.Lock()
		id := d.session
		d.mu.Unlock()
		if id == 0 {
			return bmc.ErrNotOpen
		}
		return d.b.do(ctx, kind, detail, func() error {
			if !d.b.hasSessionLocked(id) {
				return fmt.Errorf("%w: session expired", bmc.ErrNotOpen)
			}
			return fn()
		})
	})
}

func (d *driver) Open(ctx context.Context) error {
	d.mu.Lock()
	open := d.session != 0
	d.mu.Unlock()
	if open {
		return nil
	}
	var id uint64
	err := bmc.Retry(ctx, &d.b.retry, func(ctx context.Context) error {
		return d.b.do(ctx, OpOpen, "", func() (err error) {
			id, err = d.b.loginLocked(d.creds)
			return err
		})
	})
	if err != nil {
		return d.errorf(err, "open session as %q", d.creds.Username)
	}
	d.mu.Lock()
	won := d.session == 0
	if won {
		d.session = id
	}
	d.mu.Unlock()
	if !won { // a concurrent Open won; keep one session
		d.b.logout(ctx, id)
	}
	return nil
}

func (d *driver) Close(ctx context.Context) error {
	d.mu.Lock()
	id := d.session
	d.session = 0
	d.mu.Unlock()
	if id != 0 {
		d.b.logout(ctx, id)
	}
	return nil
}

func (d *driver) PowerState(ctx context.Context) (bmc.PowerState, error) {
	var s bmc.PowerState
	err := d.call(ctx, OpPowerState, "", func() error {
		s = d.b.powerLocked()
		return nil
	})
	if err != nil {
		return "", d.errorf(err, "read power state")
	}
	return s, nil
}

func (d *driver) SetPower(ctx context.Context, a bmc.PowerAction) error {
	if !a.Valid() {
		_, err := bmc.CheckPowerAction(bmc.PowerUnknown, a)
		return d.errorf(err, "power")
	}
	cur, err := d.PowerState(ctx)
	if err != nil {
		return err
	}
	noop, err := bmc.CheckPowerAction(cur, a)
	if err != nil {
		return d.errorf(err, "power %s", a)
	}
	if noop {
		return nil
	}
	err = d.call(ctx, OpSetPower, string(a), func() error { return d.b.powerActionLocked(a) })
	if err != nil {
		return d.errorf(err, "power %s", a)
	}
	return nil
}

func (d *driver) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	if err := o.Validate(); err != nil {
		return d.errorf(err, "set boot override")
	}
	if err := d.call(ctx, OpSetBoot, describeBoot(o), func() error { return d.b.setBootLocked(o) }); err != nil {
		return d.errorf(err, "set boot override %s", describeBoot(o))
	}
	var got bmc.BootOverride
	var set bool
	err := d.call(ctx, OpGetBoot, "", func() error {
		got, set = d.b.bootOverrideLocked()
		return nil
	})
	if err != nil {
		return d.errorf(err, "read back boot override")
	}
	if !set || got.Device != o.Device || (o.Mode != "" && got.Mode != o.Mode) {
		seen := "none"
		if set {
			seen = describeBoot(got)
		}
		return d.errorf(bmc.ErrBootNotApplied, "set boot override %s: BMC reports %s", describeBoot(o), seen)
	}
	return nil
}

func describeBoot(o bmc.BootOverride) string {
	if o.Mode == "" {
		return string(o.Device)
	}
	return string(o.Device) + "/" + string(o.Mode)
}

func (d *driver) ConsoleHealth(ctx context.Context) (bmc.ConsoleHealth, error) {
	start := d.b.now()
	var h bmc.ConsoleHealth
	err := d.call(ctx, OpConsole, "", func() error {
		h = bmc.ConsoleHealth{Reachable: true, Authenticated: true, Console: "SOL"}
		h.Enabled = !d.b.consoleOff
		h.Answering = h.Enabled && !d.b.consoleMute
		switch {
		case !h.Enabled:
			h.Detail = "serial over LAN is disabled on the BMC"
		case !h.Answering:
			h.Detail = "serial over LAN is enabled but did not answer"
		}
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, bmc.ErrNotOpen) || ctx.Err() != nil:
		return bmc.ConsoleHealth{}, d.errorf(err, "console health")
	case errors.Is(err, bmc.ErrAuth):
		h = bmc.ConsoleHealth{Reachable: true, Detail: err.Error()}
	default:
		h = bmc.ConsoleHealth{Detail: err.Error()}
	}
	h.Latency = d.b.now().Sub(start)
	return h, nil
}

func (d *driver) InsertMedia(ctx context.Context, imageURL string) error {
	detail := imageURL
	if u, err := url.Parse(imageURL); err == nil {
		detail = u.Redacted()
	} else {
		detail = "(unparsable URL)"
	}
	if err := d.call(ctx, OpInsertMedia, detail, func() error { return d.b.insertMediaLocked(imageURL) }); err != nil {
		return d.errorf(err, "insert virtual media")
	}
	return nil
}

func (d *driver) EjectMedia(ctx context.Context) error {
	if err := d.call(ctx, OpEjectMedia, "", func() error { d.b.media = ""; return nil }); err != nil {
		return d.errorf(err, "eject virtual media")
	}
	return nil
}

func (d *driver) ResetBMC(ctx context.Context) error {
	if err := d.call(ctx, OpResetBMC, "", func() error { d.b.resetBMCLocked(); return nil }); err != nil {
		return d.errorf(err, "reset BMC")
	}
	return nil
}

func (d *driver) EventLog(ctx context.Context) ([]bmc.LogEntry, error) {
	var out []bmc.LogEntry
	err := d.call(ctx, OpEventLog, "", func() error {
		out = append([]bmc.LogEntry(nil), d.b.sel...)
		return nil
	})
	if err != nil {
		return nil, d.errorf(err, "read event log")
	}
	return out, nil
}
