package ipmibmc

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/fleetkit/fleetkit/bmc"
)

// Compile-time checks: the driver and the optional capabilities it has.
var (
	_ bmc.Driver         = (*Driver)(nil)
	_ bmc.EventLogReader = (*Driver)(nil)
	_ bmc.BMCResetter    = (*Driver)(nil)
	_ fmt.Stringer       = (*Driver)(nil)
)

// Defaults of Options.
const (
	// DefaultPort is the IPMI LAN port (RMCP, UDP 623).
	DefaultPort = 623
	// DefaultCipherSuite is RMCP+ cipher suite 3: RAKP-HMAC-SHA1,
	// HMAC-SHA1-96 integrity, AES-CBC-128 confidentiality, which every
	// RMCP+ BMC offers. The driver always asks for exactly one suite: left
	// to pick one itself, go-ipmi first lists the BMC's suites and tries
	// them in turn, which is slow against some BMCs and simulators.
	DefaultCipherSuite = 3
	// DefaultTimeout is how long one request waits for its answer.
	DefaultTimeout = 2 * time.Second
	// DefaultPollInterval and DefaultPowerTimeout: see Options.
	DefaultPollInterval = time.Second
	DefaultPowerTimeout = time.Minute
)

// Interfaces of Options.Interface, named as ipmitool's -I.
const (
	// InterfaceLanplus is IPMI v2.0 over LAN: RMCP+ sessions with RAKP
	// authentication, integrity and encryption (the default).
	InterfaceLanplus = "lanplus"
	// InterfaceLan is IPMI v1.5 over LAN: MD5-authenticated packets, no
	// encryption. For BMCs too old for RMCP+ only.
	InterfaceLan = "lan"
)

const (
	// resends is how many more times a request is sent when its answer
	// does not come within Options.Timeout (go-ipmi's retry count).
	resends = 2
	// logoutTimeout bounds the Close Session of Close when the caller's
	// ctx is already done: a session slot on a BMC is worth a second more.
	logoutTimeout = 5 * time.Second
	// maxUser and maxPassword are IPMI's limits: 16 bytes for a user
	// name, 20 for an IPMI v2.0 password (16 for v1.5).
	maxUser, maxPassword, maxPasswordV15 = 16, 20, 16
)

// Options configures a Driver. nil means the defaults.
type Options struct {
	// CipherSuite is the RMCP+ cipher suite ID the session is opened with
	// (lanplus only). Zero means DefaultCipherSuite (3); suite 0, which
	// authenticates nothing, cannot be chosen. Suite 17 (HMAC-SHA256,
	// AES-CBC-128) suits BMCs that have dropped SHA-1.
	CipherSuite int
	// Interface is InterfaceLanplus (the default) or InterfaceLan.
	Interface string
	// Timeout is how long one request waits for the BMC's answer before
	// it is sent again; a request is sent three times before the call
	// fails with a transient error (default 2s).
	Timeout time.Duration
	// Retry says how calls retry transient failures; nil means bmc's
	// defaults.
	Retry *bmc.RetryPolicy
	// PollInterval is how often SetPower reads the power state while it
	// waits for it to settle (default 1s).
	PollInterval time.Duration
	// PowerTimeout is how long SetPower waits, after on and off, for the
	// BMC to report the new state (default one minute). Negative means
	// SetPower returns as soon as the BMC accepted the chassis control
	// command, as ipmitool does.
	PowerTimeout time.Duration
	// IgnoreBootValid makes SetBootOverride accept a read-back of the
	// boot flags whose "boot flags valid" bit is clear, as long as the
	// device (and the mode, when one was asked for) match. Some BMCs
	// (OpenIPMI's ipmi_sim among them) keep the device but never report
	// the bit; on others a clear bit means the override is gone, which is
	// why it is checked by default.
	IgnoreBootValid bool
	// Logger receives what the driver does (sessions, retries, read-backs);
	// nil discards. The password is never logged.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.CipherSuite == 0 {
		out.CipherSuite = DefaultCipherSuite
	}
	if out.Interface == "" {
		out.Interface = InterfaceLanplus
	}
	if out.Timeout <= 0 {
		out.Timeout = DefaultTimeout
	}
	if out.PollInterval <= 0 {
		out.PollInterval = DefaultPollInterval
	}
	if out.PowerTimeout == 0 {
		out.PowerTimeout = DefaultPowerTimeout
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out
}

// Driver is a bmc.Driver for one BMC over IPMI LAN. Make one with New; it
// is safe for concurrent use (see the package documentation).
type Driver struct {
	host string
	port int
	addr string // host:port, for messages
	user string
	// creds sits behind a pointer so that even a %#v of a Driver value
	// (which cannot call GoString) shows an address, not the password.
	creds *bmc.Credentials
	opts  Options
	log   *slog.Logger

	// sem serialises calls: a token is taken with lock and given back
	// with unlock. A channel rather than a mutex so that waiting honours
	// ctx.
	sem chan struct{}
	// Guarded by sem:
	c *client.Client // the session; nil when not open, or stale
	// open: Open succeeded and Close was not called. With c == nil it
	// means the session was dropped (ResetBMC) and the next call opens a
	// new one.
	open bool
}

// New returns a driver for the BMC at host:port (port 0 means 623) that
// logs in with creds when opened. New does no I/O; Open connects. It fails
// with an error wrapping bmc.ErrInvalidArgument for an empty host, a bad
// port, a user name or password longer than IPMI allows, an unknown
// interface or a cipher suite go-ipmi does not implement.
func New(host string, port int, creds bmc.Credentials, opts *Options) (*Driver, error) {
	o := opts.withDefaults()
	if port == 0 {
		port = DefaultPort
	}
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(host), "["), "]")
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	bad := func(format string, args ...any) error {
		return fmt.Errorf("ipmibmc: %s: %w: %s", addr, bmc.ErrInvalidArgument, fmt.Sprintf(format, args...))
	}
	maxPw := maxPassword
	switch {
	case host == "":
		return nil, fmt.Errorf("ipmibmc: %w: empty host", bmc.ErrInvalidArgument)
	case strings.ContainsAny(host, "/@ \t\n") || strings.Contains(host, ":") && net.ParseIP(host) == nil:
		// Not quoted: it may hold a password.
		return nil, fmt.Errorf("ipmibmc: %w: the host must be a host name or an IP address (no URL, no port: that is an argument of its own; credentials go in bmc.Credentials)", bmc.ErrInvalidArgument)
	case port < 0 || port > 65535:
		return nil, bad("port %d out of range", port)
	case o.Interface == InterfaceLan:
		maxPw = maxPasswordV15
	case o.Interface != InterfaceLanplus:
		return nil, bad("interface %q: want %q or %q", o.Interface, InterfaceLanplus, InterfaceLan)
	}
	switch {
	case creds.Username == "":
		// IPMI allows an anonymous user (user 1, null name), but a fleet
		// should not rely on it: say so rather than open it by accident.
		return nil, bad("empty user name")
	case len(creds.Username) > maxUser:
		return nil, bad("user name of %d bytes: IPMI allows %d", len(creds.Username), maxUser)
	case len(creds.Password) > maxPw:
		return nil, bad("password longer than the %d bytes IPMI %s allows", maxPw, o.Interface)
	}
	if o.Interface == InterfaceLanplus {
		if o.CipherSuite < 0 || o.CipherSuite > 0xff {
			return nil, bad("cipher suite %d out of range", o.CipherSuite)
		}
		if _, _, _, ok := types.GetCipherSuiteAlgorithms(types.CipherSuiteID(o.CipherSuite)); !ok {
			return nil, bad("cipher suite %d is not one go-ipmi implements", o.CipherSuite)
		}
	}
	d := &Driver{
		host: host, port: port, addr: addr, user: creds.Username, creds: &creds, opts: o, log: o.Logger,
		sem: make(chan struct{}, 1),
	}
	return d, nil
}

// Name returns "ipmi".
func (d *Driver) Name() string { return "ipmi" }

// String names the BMC, the user and the interface, never the password.
func (d *Driver) String() string {
	if d.opts.Interface == InterfaceLanplus {
		return fmt.Sprintf("ipmi lanplus %s as %q (cipher suite %d)", d.addr, d.user, d.opts.CipherSuite)
	}
	return fmt.Sprintf("ipmi %s %s as %q", d.opts.Interface, d.addr, d.user)
}

// GoString is String, so that %#v shows no password either.
func (d *Driver) GoString() string { return d.String() }

// lock takes the driver's turn, or fails when ctx is done first.
func (d *Driver) lock(ctx context.Context) error {
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (d *Driver) unlock() { <-d.sem }

// Open connects and opens a session: the RMCP+ handshake with
// Options.CipherSuite (or an IPMI v1.5 session with Options.Interface
// "lan"), at administrator privilege. It fails with an error wrapping
// bmc.ErrAuth when the BMC refuses the credentials, and retries transient
// failures (timeouts, refused datagrams, no free session slot). Opening
// an open driver does nothing.
func (d *Driver) Open(ctx context.Context) error {
	if err := d.lock(ctx); err != nil {
		return d.errorf("open session", err)
	}
	defer d.unlock()
	if d.c != nil {
		return nil
	}
	c, err := d.connect(ctx, d.opts.Retry)
	if err != nil {
		return d.errorf("open session", err)
	}
	d.c, d.open = c, true
	return nil
}

// connect opens a new session, retrying transient failures per pol.
func (d *Driver) connect(ctx context.Context, pol *bmc.RetryPolicy) (*client.Client, error) {
	var c *client.Client
	attempt := 0
	err := bmc.Retry(ctx, pol, func(ctx context.Context) error {
		attempt++
		nc, err := d.newClient()
		if err != nil {
			return err
		}
		start := time.Now()
		if err := nc.Connect(ctx); err != nil {
			discard(nc)
			err = classify(ctx, err)
			d.log.Debug("ipmibmc: open session failed", "bmc", d.addr, "user", d.user, "attempt", attempt, "transient", bmc.IsTransient(err), "err", err)
			return err
		}
		c = nc
		d.log.Debug("ipmibmc: session open", "bmc", d.addr, "user", d.user, "interface", d.opts.Interface, "cipher_suite", d.opts.CipherSuite, "took", time.Since(start))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// newClient makes an unconnected go-ipmi client with the driver's options.
func (d *Driver) newClient() (*client.Client, error) {
	c, err := client.NewClient(d.clientHost(), d.port, d.user, d.creds.Password)
	if err != nil { // only for a user name too long, which New rejects
		return nil, fmt.Errorf("%w: %v", bmc.ErrInvalidArgument, err)
	}
	c.WithInterface(client.Interface(d.opts.Interface))
	c.WithTimeout(d.opts.Timeout)
	c.WithRetry(resends)
	c.WithMaxPrivilegeLevel(types.PrivilegeLevelAdministrator)
	if d.opts.Interface == InterfaceLanplus {
		c.WithCipherSuiteID(types.CipherSuiteID(d.opts.CipherSuite))
	}
	return c, nil
}

// clientHost is the host as go-ipmi wants it: it joins host and port with
// "%s:%d", so an IPv6 literal needs its brackets.
func (d *Driver) clientHost() string {
	if ip := net.ParseIP(d.host); ip != nil && ip.To4() == nil {
		return "[" + d.host + "]"
	}
	return d.host
}

// discard releases c's socket without a word to the BMC: go-ipmi's Close
// sends Close Session first, which, with a ctx already done, fails at
// once, before anything is sent.
func discard(c *client.Client) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.Close(ctx)
}

// Close closes the session (Close Session) and the socket. It is safe to
// call more than once and after a failed Open. The socket is always
// released; the error reports a Close Session the BMC did not confirm
// (its slot then frees itself when the BMC's session timeout expires).
// When ctx is already done, Close Session still gets a few seconds of its
// own.
func (d *Driver) Close(ctx context.Context) error {
	ctx, cancel := logoutContext(ctx)
	defer cancel()
	if err := d.lock(ctx); err != nil {
		return d.errorf("close session", err)
	}
	defer d.unlock()
	c := d.c
	d.c, d.open = nil, false
	if c == nil {
		return nil
	}
	return d.errorf("close session", d.logout(ctx, c))
}

// logoutContext gives Close Session a few seconds of its own when ctx is
// done already.
func logoutContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
}

// logout sends Close Session and releases c's socket, whatever the
// answer.
func (d *Driver) logout(ctx context.Context, c *client.Client) error {
	if err := c.Close(ctx); err != nil {
		err = classify(ctx, err)
		d.log.Warn("ipmibmc: close session failed", "bmc", d.addr, "user", d.user, "err", err)
		return err
	}
	d.log.Debug("ipmibmc: session closed", "bmc", d.addr, "user", d.user)
	return nil
}

// session returns the open session, opening a new one when the last was
// dropped (after ResetBMC). It fails with bmc.ErrNotOpen when Open was not
// called. d.sem must be held.
func (d *Driver) session(ctx context.Context) (*client.Client, error) {
	switch {
	case d.c != nil:
		return d.c, nil
	case !d.open:
		return nil, bmc.ErrNotOpen
	}
	d.log.Info("ipmibmc: opening a new session (the last one was dropped)", "bmc", d.addr, "user", d.user)
	c, err := d.connect(ctx, d.opts.Retry)
	if err != nil {
		return nil, fmt.Errorf("open a new session: %w", err)
	}
	d.c = c
	return c, nil
}

// dropSession forgets the session without closing it on the BMC (which
// no longer knows it); the next call opens a new one. d.sem must be held.
func (d *Driver) dropSession() {
	if d.c != nil {
		discard(d.c)
		d.c = nil
	}
}

// do runs op on the session, one call at a time, and names what and the
// BMC in its error. op's errors are classified already (see call).
//
// A BMC that restarted has forgotten the session and ignores its requests:
// when op fails for want of any answer, do opens a new session (one
// attempt) and runs op once more. The session it drops is not closed: a
// BMC that merely lost packets frees the slot when it times the session
// out. Requests that must not be repeated fail with errors that are not
// transient (see call), so they are not run again.
func (d *Driver) do(ctx context.Context, what string, op func(ctx context.Context, c *client.Client) error) error {
	if err := d.lock(ctx); err != nil {
		return d.errorf(what, err)
	}
	defer d.unlock()
	c, err := d.session(ctx)
	if err != nil {
		return d.errorf(what, err)
	}
	err = op(ctx, c)
	if _, answered := completionCode(err); err == nil || answered || !bmc.IsTransient(err) || ctx.Err() != nil {
		return d.errorf(what, err)
	}
	d.log.Info("ipmibmc: no answer on the session; opening a new one in case the BMC forgot it", "bmc", d.addr, "user", d.user, "err", err)
	d.dropSession()
	nc, cerr := d.connect(ctx, &bmc.RetryPolicy{MaxAttempts: 1})
	if cerr != nil {
		return d.errorf(what, fmt.Errorf("%w (and no new session: %v)", err, cerr))
	}
	d.c = nc
	return d.errorf(what, op(ctx, nc))
}

// call runs one IPMI exchange (fn, which returns go-ipmi's error),
// classifies its error and retries transient failures per Options.Retry.
// cmd names the IPMI command in errors.
//
// With noRepeat (a request that must not run twice: soft shutdown, power
// cycle, hard reset), a request that got no answer is not sent again, as
// the BMC may have acted on it and lost only the answer; the error then
// says so and is not transient. A "busy" answer is still retried: the BMC
// turned the request away.
func (d *Driver) call(ctx context.Context, cmd string, noRepeat bool, fn func(ctx context.Context) error) error {
	attempt := 0
	return bmc.Retry(ctx, d.opts.Retry, func(ctx context.Context) error {
		attempt++
		err := fn(ctx)
		if err == nil {
			return nil
		}
		_, answered := completionCode(err)
		err = fmt.Errorf("%s: %w", cmd, classify(ctx, err))
		if !bmc.IsTransient(err) {
			return err
		}
		if noRepeat && !answered {
			return fmt.Errorf("%v; not repeated: the BMC may have acted on it", err)
		}
		d.log.Debug("ipmibmc: transient failure", "bmc", d.addr, "command", cmd, "attempt", attempt, "err", err)
		return err
	})
}

// errorf prefixes err with the BMC and the operation; nil stays nil.
func (d *Driver) errorf(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("ipmibmc: %s as %q: %s: %w", d.addr, d.user, what, err)
}
