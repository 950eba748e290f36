package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
	"github.com/fleetkit/fleetkit/internal/procstat"
)

// Operations the bench fans out.
const (
	opCycle  = "cycle"  // power cycle: read the power, then PowerCycle
	opStatus = "status" // read the power state
)

// config is one bench run.
type config struct {
	Systems int
	// Hosts is how many of the systems the fan-out acts on, the first
	// ones; 0 means all.
	Hosts       int
	Latency     time.Duration
	Concurrency int
	Op          string
	Endpoints   string // endpointsShared or endpointsPerHost
	// SharedClient: one http.Client for every driver (through
	// redfishbmc.Options.HTTPClient); else each driver has its own, as
	// redfishbmc.New builds it.
	SharedClient bool
	// BasicAuth: drivers send credentials with every request instead of
	// logging in to a session (redfishbmc.Options.BasicAuth).
	BasicAuth bool
	Timeout   time.Duration
}

func (c config) validate() error {
	switch {
	case c.Systems < 1:
		return errors.New("-systems must be at least 1")
	case c.Hosts < 0 || c.Hosts > c.Systems:
		return errors.New("-hosts must be between 0 (all) and -systems")
	case c.Concurrency < 1:
		return errors.New("-concurrency must be at least 1")
	case c.Latency < 0:
		return errors.New("-latency must not be negative")
	case c.Op != opCycle && c.Op != opStatus:
		return fmt.Errorf("-op %q: want %s or %s", c.Op, opCycle, opStatus)
	case c.Endpoints != endpointsShared && c.Endpoints != endpointsPerHost:
		return fmt.Errorf("-endpoints %q: want %s or %s", c.Endpoints, endpointsShared, endpointsPerHost)
	case c.Timeout <= 0:
		return errors.New("-timeout must be positive")
	}
	return nil
}

// figures are what a fan-out measured.
type figures struct {
	Hosts    int
	Wall     time.Duration
	Requests int64 // HTTP requests the fake served during the fan-out
	// SysRequests are the requests that went through a system's BMC and
	// so waited its latency.
	SysRequests int64
	Conns       int64 // TLS connections the fake accepted
	Failures    int
	FirstErr    error
	Verified    int // systems in the state the operation should leave
	Sessions    int // Redfish sessions still open after the fan-out
	HeapBefore  uint64
	PeakHeap    uint64        // heap in use, sampled during the fan-out
	PeakRSS     uint64        // VmHWM of the process; 0 where unknown
	CPU         time.Duration // user + system, the whole process
}

// ReqPerHost is the average of HTTP round trips per host's session.
func (f figures) ReqPerHost() float64 { return float64(f.Requests) / float64(f.Hosts) }

// SysReqPerHost is the average of round trips per host that waited the
// BMC's latency.
func (f figures) SysReqPerHost() float64 { return float64(f.SysRequests) / float64(f.Hosts) }

// ideal is latency × waiting-requests-per-host × hosts / concurrency: the
// wall time if the round trips that wait the BMC's latency took exactly
// that, the others (service root, login, logout) nothing, and the
// concurrency were always full. Called with one request per host, it is
// the lower bound of any operation that waits the latency once per host.
func ideal(latency time.Duration, perHost float64, hosts, concurrency int) time.Duration {
	return time.Duration(float64(latency) * perHost * float64(hosts) / float64(concurrency))
}

// bench is a fleet and the client side, ready for fan-outs.
type bench struct {
	cfg   config
	fleet *fleet
	// shared is the transport every driver's client uses, with
	// -shared-client; nil when each driver has its own.
	shared *http.Transport
}

func newBench(cfg config) (*bench, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f, err := newFleet(cfg.Systems, cfg.Latency, cfg.Endpoints)
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, fleet: f}
	if cfg.SharedClient {
		// gofish sends one request at a time per client (its
		// MaxConcurrentRequests defaults to 1), so at most Concurrency
		// connections are busy at once.
		if cfg.Endpoints == endpointsPerHost {
			// Nothing to share between hosts: room for each session in
			// flight to keep its connection between requests, not for the
			// thousands of hosts already done.
			b.shared = b.newTransport(2*cfg.Concurrency, 2)
		} else {
			// One endpoint: every driver draws on one pool, with room to
			// spare for the connections the transport dials ahead.
			idle := 2 * cfg.Concurrency
			b.shared = b.newTransport(idle, idle)
		}
	}
	return b, nil
}

// newTransport builds an HTTP transport for the fleet: the default
// transport's settings, the fleet's CA, its listener whatever the host
// name.
func (b *bench) newTransport(maxIdle, maxIdlePerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = b.fleet.dial
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: b.fleet.roots}
	t.MaxIdleConns = maxIdle
	t.MaxIdleConnsPerHost = maxIdlePerHost
	return t
}

func (b *bench) close() {
	if b.shared != nil {
		b.shared.CloseIdleConnections()
	}
	b.fleet.close()
}

// ownTransport is a driver with a transport of its own that the bench
// built, closed with it (as redfishbmc closes the transports it builds).
type ownTransport struct {
	*redfishbmc.Driver
	t *http.Transport
}

func (d ownTransport) Close(ctx context.Context) error {
	defer d.t.CloseIdleConnections()
	return d.Driver.Close(ctx)
}

// dial builds a host's Redfish driver, with an HTTP client over the shared
// transport or a transport of its own.
func (b *bench) dial(_ context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
	endpoint, systemID := b.fleet.endpoint(host)
	opts := &redfishbmc.Options{SystemID: systemID, BasicAuth: b.cfg.BasicAuth}
	switch {
	case b.shared != nil:
		opts.HTTPClient = &http.Client{Transport: b.shared}
	case b.cfg.Endpoints == endpointsShared:
		opts.RootCAs = b.fleet.roots // redfishbmc.New builds the transport
	default:
		// The per-host names need a transport of ours (to dial the one
		// listener), built as redfishbmc.New builds its own.
		t := b.newTransport(100, 2)
		opts.HTTPClient = &http.Client{Transport: t}
		d, err := redfishbmc.New(endpoint, creds, opts)
		if err != nil {
			return nil, err
		}
		return ownTransport{d, t}, nil
	}
	return redfishbmc.New(endpoint, creds, opts)
}

// run fans the operation out over every host once and measures it.
func (b *bench) run(ctx context.Context) figures {
	hosts := b.fleet.hosts
	if b.cfg.Hosts > 0 {
		hosts = hosts[:b.cfg.Hosts]
	}
	bootsBefore := make([]int, len(hosts))
	for i := range hosts {
		bootsBefore[i] = b.fleet.bmcs[i].Boots()
	}
	op := func(ctx context.Context, d bmc.Driver) (bmc.PowerState, error) {
		if b.cfg.Op == opStatus {
			return d.PowerState(ctx)
		}
		return "", d.SetPower(ctx, bmc.PowerActionCycle)
	}
	creds := &bmc.StaticCredentials{Default: bmc.Credentials{Username: "admin", Password: "password"}}

	var fig figures
	fig.Hosts = len(hosts)
	mem := procstat.StartHeapSampler(10 * time.Millisecond)
	fig.HeapBefore = mem.First()
	reqs0, sys0, conns0 := b.fleet.requests(), b.fleet.sysReqs.Load(), b.fleet.conns.Load()
	cpu0 := procstat.CPUTime()
	start := time.Now()
	results := bmc.FanOut(ctx, hosts, b.dial, op, &bmc.FanOutOptions{
		Concurrency: b.cfg.Concurrency,
		HostTimeout: b.cfg.Timeout,
		Credentials: creds,
	})
	fig.Wall = time.Since(start)
	fig.CPU = procstat.CPUTime() - cpu0
	fig.PeakHeap = mem.Stop()
	fig.Requests = b.fleet.requests() - reqs0
	fig.SysRequests = b.fleet.sysReqs.Load() - sys0
	fig.Conns = b.fleet.conns.Load() - conns0
	fig.PeakRSS = procstat.PeakRSS()
	fig.Sessions = b.fleet.sessions()
	for i, r := range results {
		if r.Err != nil {
			fig.Failures++
			if fig.FirstErr == nil {
				fig.FirstErr = r.Err
			}
			continue
		}
		switch {
		case b.cfg.Op == opStatus && r.Value == bmc.PowerOn,
			b.cfg.Op == opCycle && b.fleet.bmcs[i].Boots() == bootsBefore[i]+1 && b.fleet.bmcs[i].PowerState() == bmc.PowerOn:
			fig.Verified++
		}
	}
	return fig
}
