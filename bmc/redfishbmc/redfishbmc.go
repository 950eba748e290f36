package redfishbmc

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

// Compile-time checks: the driver and the optional capabilities it has.
var (
	_ bmc.Driver         = (*Driver)(nil)
	_ bmc.BMCResetter    = (*Driver)(nil)
	_ bmc.EventLogReader = (*Driver)(nil)
	_ bmc.VirtualMedia   = (*Driver)(nil)
	_ fmt.Stringer       = (*Driver)(nil)
	_ fmt.GoStringer     = (*Driver)(nil)
)

// Defaults of Options.
const (
	DefaultPollInterval = time.Second
	DefaultPowerTimeout = time.Minute
)

// logoutTimeout bounds the logout of Close when the caller's ctx is
// already done: a session slot on a BMC is worth a few more seconds.
const logoutTimeout = 10 * time.Second

// Options configures a Driver. nil means the defaults.
type Options struct {
	// AllowHTTP permits an http:// endpoint. Credentials and session
	// tokens then cross the network in clear text: for a lab or a BMC
	// behind a TLS-terminating proxy on the same host only.
	AllowHTTP bool
	// RootCAs are the certificate authorities trusted for the BMC's TLS
	// certificate; nil means the system's pool.
	RootCAs *x509.CertPool
	// InsecureSkipVerify turns TLS certificate verification off, for BMCs
	// with self-signed certificates nobody collected. An explicit,
	// logged, opt-in: verification is on by default.
	InsecureSkipVerify bool
	// HTTPClient, when set, is used as it is, transport included; it
	// cannot be combined with RootCAs or InsecureSkipVerify (configure its
	// transport instead).
	HTTPClient *http.Client
	// BasicAuth sends the credentials with every request instead of
	// opening a Redfish session (POST to the session service, an
	// X-Auth-Token on each request, DELETE on Close). For BMCs whose
	// session service is broken or whose session slots are scarce.
	BasicAuth bool
	// SystemID picks the computer system (its Redfish Id, e.g.
	// "System.Embedded.1") on BMCs that manage several. Empty picks the
	// only one, or the first by @odata.id.
	SystemID string
	// Retry says how transient failures (HTTP 429, 502, 503, 504, timeouts,
	// dropped connections) are retried; nil means bmc's defaults.
	Retry *bmc.RetryPolicy
	// PollInterval is how often SetPower reads the power state while it
	// waits for it to settle (default 1s).
	PollInterval time.Duration
	// PowerTimeout is how long SetPower waits, after on and off, for the
	// BMC to report the new state, and in the cycle fallback (ForceOff,
	// then On) for the system to be off before powering it on. Default
	// one minute; negative means on and off return as soon as the BMC
	// accepted the request (the cycle fallback still waits, for one
	// minute).
	PowerTimeout time.Duration
	// Logger receives what the driver does (sessions, retries, choices of
	// reset type); nil discards. Credentials and tokens are never logged.
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
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

// Driver is a bmc.Driver for one computer system behind one Redfish
// service, through gofish.
//
// A Driver is safe for concurrent use: its calls are serialised, one at a
// time, which is also how BMCs prefer to be spoken to.
type Driver struct {
	endpoint string // scheme://host[:port], validated
	creds    bmc.Credentials
	opts     Options
	http     *http.Client
	log      *slog.Logger

	mu sync.Mutex
	// supplied is the client handed to NewFromClient, until Open takes it.
	supplied *gofish.APIClient
	// ownSession: the driver made the client and can log in again.
	ownSession bool
	// ownTransport: the driver built its HTTP client, so it may close the
	// client's idle connections at logout. A client the caller passed
	// (Options.HTTPClient, NewFromClient) may be shared by many drivers:
	// closing its connections would cost every other driver a new TLS
	// handshake.
	ownTransport bool
	client       *gofish.APIClient // nil when not open; bound to context.Background
	systemURI    string
	managerURI   string // resolved on first use
}

// New returns a driver for the Redfish service at endpoint, which logs in
// with creds when opened.
//
// endpoint is "https://host[:port]", or a bare "host[:port]" (https is
// implied); "http://…" needs Options.AllowHTTP. It carries no path, query
// or user information. New does no I/O; Open connects.
func New(endpoint string, creds bmc.Credentials, opts *Options) (*Driver, error) {
	o := opts.withDefaults()
	ep, err := parseEndpoint(endpoint, o.AllowHTTP)
	if err != nil {
		return nil, err
	}
	if creds.Username == "" {
		return nil, fmt.Errorf("redfishbmc: %s: %w: empty user name", ep, bmc.ErrInvalidArgument)
	}
	hc, err := httpClient(&o)
	if err != nil {
		return nil, fmt.Errorf("redfishbmc: %s: %w", ep, err)
	}
	if o.InsecureSkipVerify {
		o.Logger.Warn("redfishbmc: TLS certificate verification is off", "endpoint", ep)
	}
	return &Driver{endpoint: ep, creds: creds, opts: o, http: hc, log: o.Logger, ownSession: true,
		ownTransport: o.HTTPClient == nil}, nil
}

// NewFromClient returns a driver over a gofish client the caller already
// connected (and authenticated) with gofish.ConnectContext. The driver
// takes the client over: Open resolves the system through it, and Close
// logs its session out, after which the driver cannot be opened again. A
// driver made this way does not know the credentials, so it cannot log in
// again when the BMC drops the session: it reports bmc.ErrAuth instead.
//
// Of opts, only SystemID, Retry, PollInterval, PowerTimeout and Logger
// apply; the transport is the client's.
func NewFromClient(c *gofish.APIClient, opts *Options) (*Driver, error) {
	if c == nil || c.Service == nil {
		return nil, fmt.Errorf("redfishbmc: %w: nil or unconnected gofish client", bmc.ErrInvalidArgument)
	}
	o := opts.withDefaults()
	return &Driver{
		// gofish keeps the client's endpoint to itself; errors still
		// carry the full URL of a failed request.
		endpoint: "(gofish client)", opts: o, http: c.HTTPClient, log: o.Logger,
		supplied: c.WithContext(context.Background()),
	}, nil
}

// parseEndpoint validates a BMC endpoint and returns scheme://host[:port].
// Errors quote the endpoint without any user information in it.
func parseEndpoint(endpoint string, allowHTTP bool) (string, error) {
	raw := strings.TrimSpace(endpoint)
	if raw == "" {
		return "", fmt.Errorf("redfishbmc: %w: empty endpoint", bmc.ErrInvalidArgument)
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the input, which may hold a password.
		return "", fmt.Errorf("redfishbmc: %w: endpoint is not a URL", bmc.ErrInvalidArgument)
	}
	bad := func(why string) error {
		return fmt.Errorf("redfishbmc: %w: endpoint %s: %s", bmc.ErrInvalidArgument, u.Redacted(), why)
	}
	switch {
	case u.User != nil:
		u.User = nil
		return "", bad("credentials do not belong in the URL (use bmc.Credentials)")
	case u.Scheme == "http" && !allowHTTP:
		return "", bad("plain http sends credentials in clear text; use https or set Options.AllowHTTP")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", bad("scheme must be https (or http with Options.AllowHTTP)")
	case u.Host == "" || u.Hostname() == "":
		return "", bad("no host")
	case u.Path != "" && u.Path != "/":
		return "", bad("no path please: the driver finds /redfish/v1 itself")
	case u.RawQuery != "" || u.Fragment != "":
		return "", bad("no query or fragment please")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", bad("bad port")
		}
	}
	// Re-encoded: a zone in an IPv6 literal ("%25eth0") stays escaped.
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String(), nil
}

// httpClient builds the HTTP client of New: the default transport's dial
// and proxy settings, TLS verified against RootCAs unless the caller opted
// out.
func httpClient(o *Options) (*http.Client, error) {
	if o.HTTPClient != nil {
		if o.RootCAs != nil || o.InsecureSkipVerify {
			return nil, fmt.Errorf("%w: Options.HTTPClient cannot be combined with RootCAs or InsecureSkipVerify; configure its transport", bmc.ErrInvalidArgument)
		}
		return o.HTTPClient, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            o.RootCAs,
		InsecureSkipVerify: o.InsecureSkipVerify, //nolint:gosec // explicit opt-in, logged by New
	}
	t.MaxIdleConnsPerHost = 2
	return &http.Client{Transport: t}, nil
}

// GoString is String, so that %#v, which would otherwise print the
// driver's fields, never shows the password either.
func (d *Driver) GoString() string { return d.String() }

// Name returns "redfish".
func (d *Driver) Name() string { return "redfish" }

// String names the endpoint and the user, never the password.
func (d *Driver) String() string {
	if d.creds.Username == "" {
		return "redfish " + d.endpoint
	}
	return fmt.Sprintf("redfish %s as %q", d.endpoint, d.creds.Username)
}

// Open connects and logs in (a Redfish session, or basic authentication
// with Options.BasicAuth), then finds the computer system: Options.SystemID,
// else the only (or first) one. It fails with an error wrapping
// bmc.ErrAuth when the BMC refuses the credentials, bmc.ErrNotFound when
// the system does not exist, and retries transient failures. Opening an
// open driver does nothing.
func (d *Driver) Open(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != nil {
		return nil
	}
	if !d.ownSession && d.supplied == nil {
		return fmt.Errorf("redfishbmc: open %s: %w: the gofish client of NewFromClient was logged out by Close; build a new one", d.endpoint, bmc.ErrNotOpen)
	}
	return bmc.Retry(ctx, d.opts.Retry, func(ctx context.Context) error {
		c, err := d.login(ctx)
		if err != nil {
			return err
		}
		uri, err := d.findSystem(ctx, c)
		if err != nil {
			if d.ownSession {
				d.logout(ctx, c)
			}
			return err
		}
		d.client, d.systemURI, d.managerURI, d.supplied = c, uri, "", nil
		d.log.Debug("redfishbmc: open", "endpoint", d.endpoint, "system", uri, "basic_auth", d.opts.BasicAuth)
		return nil
	})
}

// login returns an authenticated client bound to context.Background (the
// caller's ctx is never kept), or the client of NewFromClient.
func (d *Driver) login(ctx context.Context) (*gofish.APIClient, error) {
	if !d.ownSession {
		return d.supplied, nil
	}
	c, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint:          d.endpoint,
		Username:          d.creds.Username,
		Password:          d.creds.Password,
		HTTPClient:        d.http,
		BasicAuth:         d.opts.BasicAuth,
		ReuseConnections:  true,
		NoModifyTransport: true,
	})
	if err != nil {
		return nil, d.interpret("log in to "+d.endpoint, err)
	}
	c = c.WithContext(context.Background())
	if !d.opts.BasicAuth {
		s, err := c.GetSession()
		if err != nil || s.Token == "" {
			// Without a token there is no logging out of it either.
			return nil, fmt.Errorf("redfishbmc: log in to %s: the BMC created no session token (X-Auth-Token); try Options.BasicAuth", d.endpoint)
		}
		if s.ID == "" {
			d.log.Warn("redfishbmc: the BMC gave no session Location; Close cannot log out", "endpoint", d.endpoint)
		}
	}
	return c, nil
}

// findSystem resolves the URI of the system this driver controls. Reading
// the systems also proves that basic-auth credentials are accepted.
func (d *Driver) findSystem(ctx context.Context, c *gofish.APIClient) (string, error) {
	c = c.WithContext(ctx)
	if d.opts.SystemID != "" {
		// Redfish fixes the Systems collection's URI: ask for the system
		// itself, one request, rather than reading every member of a
		// collection that may hold thousands. A BMC that lays its URIs out
		// otherwise answers 404 and gets the full search below.
		uri := "/redfish/v1/Systems/" + url.PathEscape(d.opts.SystemID)
		if id, odataID, err := systemIdentity(c, uri); err == nil && id == d.opts.SystemID {
			return cmp.Or(odataID, uri), nil
		}
	}
	systems, err := c.Service.Systems()
	if err != nil && (len(systems) == 0 || d.opts.SystemID == "") {
		return "", d.interpret("list systems of "+d.endpoint, err)
	}
	slices.SortFunc(systems, func(a, b *schemas.ComputerSystem) int { return strings.Compare(a.ODataID, b.ODataID) })
	var ids []string
	for _, s := range systems {
		if d.opts.SystemID == "" || s.ID == d.opts.SystemID {
			if len(systems) > 1 && d.opts.SystemID == "" {
				d.log.Info("redfishbmc: several systems, using the first", "endpoint", d.endpoint, "system", s.ODataID, "count", len(systems))
			}
			return s.ODataID, nil
		}
		ids = append(ids, s.ID)
	}
	if err != nil { // the one we want may be among those that failed
		return "", d.interpret(fmt.Sprintf("find system %q on %s", d.opts.SystemID, d.endpoint), err)
	}
	if len(systems) == 0 {
		return "", fmt.Errorf("redfishbmc: %s: %w: the BMC lists no computer system", d.endpoint, bmc.ErrNotFound)
	}
	return "", fmt.Errorf("redfishbmc: %s: %w: no system %q (the BMC has %v)", d.endpoint, bmc.ErrNotFound, d.opts.SystemID, ids)
}

// systemIdentity reads only the Id and @odata.id of the resource at uri:
// Open needs to know the system is there, not to decode all of it.
func systemIdentity(c *gofish.APIClient, uri string) (id, odataID string, err error) {
	resp, err := c.Get(uri)
	defer schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		return "", "", err
	}
	var v struct {
		ID      string `json:"Id"`
		ODataID string `json:"@odata.id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return "", "", err
	}
	return v.ID, v.ODataID, nil
}

// Close logs out (DELETE of the Redfish session) and forgets the session,
// even when the logout fails (the error then says so). It is safe to call
// more than once and after a failed Open. When ctx is already done, the
// logout still gets a few seconds of its own, so the BMC's session slot is
// not left taken. A session the BMC has already dropped counts as logged
// out.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.client
	if c == nil {
		c = d.supplied // NewFromClient's, never opened: ours to log out all the same
	}
	d.client, d.supplied, d.systemURI, d.managerURI = nil, nil, "", ""
	if c == nil {
		return nil
	}
	return d.logout(ctx, c)
}

// logout deletes c's session, if it has one, and closes the idle
// connections of a transport the driver built.
func (d *Driver) logout(ctx context.Context, c *gofish.APIClient) error {
	if d.ownTransport {
		defer c.HTTPClient.CloseIdleConnections()
	}
	s, err := c.GetSession()
	if err != nil || s.ID == "" {
		return nil // basic auth, or a session without a Location
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), logoutTimeout)
		defer cancel()
	}
	err = bmc.Retry(ctx, d.opts.Retry, func(ctx context.Context) error {
		_, err := c.WithContext(ctx).Delete(s.ID)
		return d.interpret("log out of "+d.endpoint, err)
	})
	switch {
	case err == nil:
		d.log.Debug("redfishbmc: logged out", "endpoint", d.endpoint)
		return nil
	case errors.Is(err, bmc.ErrNotFound), httpStatus(err) == http.StatusUnauthorized:
		return nil // the session is gone already
	}
	d.log.Warn("redfishbmc: logout failed", "endpoint", d.endpoint, "err", err)
	return err
}

// do runs op on the open session, bounded by ctx, retrying transient
// failures. When the BMC answers 401 (it dropped or expired the session),
// do logs in once more and repeats op; a second 401 is bmc.ErrAuth. op
// gets a client bound to its attempt's ctx and returns errors already
// interpreted. d.mu must be held.
func (d *Driver) do(ctx context.Context, what string, op func(ctx context.Context, c *gofish.APIClient) error) error {
	if d.client == nil {
		return fmt.Errorf("redfishbmc: %s: %w", what, bmc.ErrNotOpen)
	}
	relogged := false
	return bmc.Retry(ctx, d.opts.Retry, func(ctx context.Context) error {
		err := op(ctx, d.client.WithContext(ctx))
		if httpStatus(err) != http.StatusUnauthorized || relogged || !d.ownSession || d.opts.BasicAuth {
			return err
		}
		relogged = true
		d.log.Info("redfishbmc: session refused, logging in again", "endpoint", d.endpoint)
		c, lerr := d.login(ctx)
		if lerr != nil {
			return lerr
		}
		// The refused session is not logged out: the BMC no longer
		// knows it.
		d.client = c
		return op(ctx, d.client.WithContext(ctx))
	})
}

// system reads the driver's computer system through c.
func (d *Driver) system(c *gofish.APIClient, what string) (*schemas.ComputerSystem, error) {
	sys, err := schemas.GetObject[schemas.ComputerSystem](c, d.systemURI)
	if err != nil {
		return nil, d.interpret(what+" "+d.endpoint+d.systemURI, err)
	}
	return sys, nil
}
