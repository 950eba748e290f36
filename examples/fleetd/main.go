// Command fleetd is the example server: lifecycle over HTTPS, with a
// worker pool running the batches and Prometheus metrics. Run several on
// one PostgreSQL and they share the queue, the caps and the lease rescue.
//
// Run it from the repository root, against a simulated fleet:
//
//	go run ./examples/fleetd -simulate 200 -self-signed -ca-out /tmp/fleetd-ca.pem
//	curl --cacert /tmp/fleetd-ca.pem https://127.0.0.1:8443/v1/batches \
//	    -d '{"owner":"alice","action":"power-cycle","hosts":["sim00001.dc1.example.com"]}'
//
// or against real BMCs behind one Redfish service (an aggregator, or
// fakebmc's: see examples/bmcctl -serve-fake), with TLS files of its own:
//
//	BMC_USERNAME=admin BMC_PASSWORD=… go run ./examples/fleetd \
//	    -store postgres://fleet@db/fleet -redfish https://bmc-gw:8443 -redfish-ca ca.pem \
//	    -tls-cert server.pem -tls-key server-key.pem
//
// The API (JSON; errors are {"error": …} with "conflicts" and "problems"
// where they apply; every /v1 call needs "Authorization: Bearer $FLEETD_TOKEN"
// when FLEETD_TOKEN is set):
//
//	POST /v1/batches                        submit: {owner, action, hosts, snapshot, params, priority, check_consoles}
//	GET  /v1/batches?owner=&host=&action=&state=&limit=&cursor=
//	GET  /v1/batches/{id}                   the batch with its jobs
//	POST /v1/batches/{id}/cancel
//	GET  /v1/batches/{id}/jobs/{host}/steps
//	GET  /v1/hosts/{name}
//	PUT  /v1/hosts/{name}/state             {state, reason}
//	GET  /v1/datacenters                    active operations per datacenter
//	GET  /v1/stats?since=24h&action=        success rates, runtimes, steps
//	GET  /metrics                           Prometheus
//	GET  /healthz
//
// Submissions answer 201, refusals 409 (overlap, hosts in use or
// unavailable) or 422 (malformed). SIGTERM or SIGINT stops it gracefully:
// the server stops taking requests and the pool lets running jobs finish
// (up to -shutdown-timeout) before giving the rest back to the queue.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"

	_ "github.com/fleetkit/fleetkit/store/memstore"
	_ "github.com/fleetkit/fleetkit/store/pgstore"
	_ "github.com/fleetkit/fleetkit/store/sqlitestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	listen, storeURL        string
	tlsCert, tlsKey, caOut  string
	selfSigned              bool
	workers, reimageCap     int
	simulate                int
	redfish, redfishCA      string
	shutdownTimeout         time.Duration
	simLatency, simDeployed time.Duration
}

// run is fleetd: it serves until ctx ends and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("fleetd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8443", "address to serve HTTPS on")
	fs.StringVar(&c.storeURL, "store", "sqlite://./fleet.db", "store URL (sqlite:///…, postgres://…, memory://)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fs.BoolVar(&c.selfSigned, "self-signed", false, "serve a self-signed certificate for 127.0.0.1 and localhost, made at start")
	fs.StringVar(&c.caOut, "ca-out", "", "with -self-signed: write the certificate (PEM) here for clients to trust")
	fs.IntVar(&c.workers, "workers", 64, "jobs this process runs at once (0: serve the API only)")
	fs.IntVar(&c.reimageCap, "reimage-cap", 250, "most reimages at once per datacenter, over every fleetd on the store (0: no cap)")
	fs.IntVar(&c.simulate, "simulate", 0, "simulate a fleet of N hosts (simNNNNN.dcD.example.com): in-process BMCs and installer")
	fs.DurationVar(&c.simLatency, "sim-latency", 20*time.Millisecond, "with -simulate: latency of every BMC operation")
	fs.DurationVar(&c.simDeployed, "sim-deploy", 2*time.Second, "with -simulate: how long an install takes")
	fs.StringVar(&c.redfish, "redfish", "", "Redfish service of the fleet's BMCs (one system per host, by host name); credentials from BMC_USERNAME and BMC_PASSWORD")
	fs.StringVar(&c.redfishCA, "redfish-ca", "", "CA file (PEM) for -redfish")
	fs.DurationVar(&c.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long running jobs may finish at shutdown")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if msg := c.check(fs.NArg()); msg != "" {
		fmt.Fprintln(stderr, "fleetd:", msg)
		return 2
	}
	if err := serve(ctx, c, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "fleetd:", err)
		return 1
	}
	return 0
}

func (c config) check(nargs int) string {
	switch {
	case nargs > 0:
		return "unexpected arguments"
	case c.selfSigned == (c.tlsCert != ""):
		return "give -tls-cert and -tls-key, or -self-signed (fleetd serves HTTPS only)"
	case (c.tlsCert == "") != (c.tlsKey == ""):
		return "-tls-cert and -tls-key go together"
	case c.workers < 0 || c.reimageCap < 0 || c.simulate < 0:
		return "negative -workers, -reimage-cap or -simulate"
	case c.workers > 0 && (c.simulate > 0) == (c.redfish != ""):
		return "with workers, give -simulate N or -redfish URL (the BMCs they drive)"
	}
	return ""
}

func serve(ctx context.Context, c config, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, backend, err := lifecycle.OpenStore(ctx, c.storeURL)
	if err != nil {
		return err
	}
	defer backend.Close(context.WithoutCancel(ctx))
	notifier := fleetkit.NewLogNotifier(logger, nil)
	var dir lifecycle.HostDirectory
	var runner lifecycle.Runner
	switch {
	case c.simulate > 0:
		dir, runner, err = simulatedFleet(c)
	case c.redfish != "":
		runner, err = redfishFleet(c)
	}
	if err != nil {
		return err
	}
	svc, err := lifecycle.New(st, &lifecycle.Config{Directory: dir, Notifier: notifier, Logger: logger})
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&activeCollector{svc: svc, log: logger})

	tlsConfig, err := c.tls(stdout)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	(&api{svc: svc, q: st, token: os.Getenv("FLEETD_TOKEN"), log: logger}).routes(mux)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fleetd: serving https://%s (store %s, %d workers)\n", ln.Addr(), c.storeURL, c.workers)

	var wg sync.WaitGroup
	poolCtx, stopPool := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPool()
	if c.workers > 0 {
		limits := lifecycle.Limits{}
		if c.reimageCap > 0 {
			limits.PerDatacenterAction = map[lifecycle.Action]int{lifecycle.ActionReimage: c.reimageCap}
		}
		pool, err := lifecycle.NewPool(st, &lifecycle.PoolConfig{Runner: runner, Concurrency: c.workers, Limits: limits,
			Locker: backend, Notifier: notifier, Logger: logger, Metrics: newPoolMetrics(reg), ShutdownTimeout: c.shutdownTimeout})
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := pool.Run(poolCtx); err != nil {
				logger.Error("fleetd: pool", "err", err)
			}
		})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err = <-errc:
	case <-ctx.Done():
		logger.Info("fleetd: shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	stopPool()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// tls returns the server's TLS configuration: the files given, or a new
// self-signed certificate (written to -ca-out for clients).
func (c config) tls(stdout io.Writer) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if !c.selfSigned {
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
		return cfg, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "fleetd"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	if c.caOut != "" {
		if err := os.WriteFile(c.caOut, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "fleetd: self-signed certificate written to %s\n", c.caOut)
	}
	cfg.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	return cfg, nil
}

// simulatedFleet makes c.simulate hosts with in-process simulated BMCs
// and an installer, spread over four datacenters.
func simulatedFleet(c config) (lifecycle.HostDirectory, lifecycle.Runner, error) {
	dir := lifecycle.StaticDirectory{}
	bmcs := make(map[string]*fakebmc.BMC, c.simulate)
	for i := 1; i <= c.simulate; i++ {
		h := fmt.Sprintf("sim%05d.dc%d.example.com", i, i%4+1)
		dir[h] = lifecycle.HostInfo{Datacenter: fmt.Sprintf("dc%d", i%4+1), SKU: []string{"r640", "r750"}[i%2]}
		bmcs[h] = fakebmc.New(&fakebmc.Options{Host: h, InitialPower: bmc.PowerOn, Latency: c.simLatency})
	}
	lookup := func(h string) (*fakebmc.BMC, bool) { b, ok := bmcs[h]; return b, ok }
	runner, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, h string, _ bmc.Credentials) (bmc.Driver, error) {
			b, ok := lookup(h)
			if !ok {
				return nil, lifecycle.Permanent(fmt.Errorf("%s is not in the simulated fleet", h))
			}
			return b.Driver(), nil
		},
		Provisioner:       fakeprov.New(&fakeprov.Options{MinDuration: c.simDeployed / 2, MaxDuration: c.simDeployed, Booted: fakeprov.PXEBoots(lookup)}),
		PowerPollInterval: max(c.simLatency, 10*time.Millisecond), ProvisionerPollInterval: max(c.simDeployed/10, 10*time.Millisecond),
	})
	return dir, runner, err
}

// redfishFleet drives real BMCs behind one Redfish service; reimages need
// an installer, which an embedding service provides (actions.Provisioner):
// here only the power actions run.
func redfishFleet(c config) (lifecycle.Runner, error) {
	opts := &redfishbmc.Options{}
	if c.redfishCA != "" {
		pemBytes, err := os.ReadFile(c.redfishCA)
		if err != nil {
			return nil, err
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("%s holds no PEM certificate", c.redfishCA)
		}
	}
	creds := &bmc.StaticCredentials{Default: bmc.Credentials{Username: os.Getenv("BMC_USERNAME"), Password: os.Getenv("BMC_PASSWORD")}}
	return actions.New(&actions.Config{
		Dial: func(_ context.Context, h string, cr bmc.Credentials) (bmc.Driver, error) {
			o := *opts
			o.SystemID = h
			return redfishbmc.New(c.redfish, cr, &o)
		},
		Credentials: creds,
	})
}

// activeCollector exports the active operations per datacenter at each
// scrape.
type activeCollector struct {
	svc *lifecycle.Service
	log *slog.Logger
}

var activeDesc = prometheus.NewDesc("fleetkit_active_jobs", "Unfinished jobs of active batches, by datacenter, action and state.",
	[]string{"datacenter", "action", "state"}, nil)

func (c *activeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- activeDesc }

func (c *activeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.svc.Store().ActiveCounts(ctx)
	if err != nil {
		c.log.Warn("fleetd: metrics: active counts", "err", err)
		return
	}
	for _, a := range counts {
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(a.Pending), a.Datacenter, string(a.Action), "pending")
		ch <- prometheus.MustNewConstMetric(activeDesc, prometheus.GaugeValue, float64(a.Running), a.Datacenter, string(a.Action), "running")
	}
}
