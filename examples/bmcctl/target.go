package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/ipmibmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
	"github.com/fleetkit/fleetkit/internal/progress"
)

// hostPlaceholder is what the endpoint templates replace by the host name.
const hostPlaceholder = "{host}"

// defaultIPMIPort is the RMCP port, used when an IPMI address has none.
const defaultIPMIPort = 623

// runPlan is everything needed to act on the hosts: who, how to reach
// them, as whom.
type runPlan struct {
	cfg      *config
	hosts    []string
	creds    bmc.CredentialSource
	dial     bmc.Dialer
	drivers  []string // protocols tried, in order: "redfish", "ipmi"
	progress bool
	client   *http.Client // shared by every Redfish driver; nil without Redfish
}

func (p *runPlan) close() {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// plan checks the configuration and builds the run's plan. Every error is
// a usage error: nothing was sent to any BMC yet.
func plan(cfg *config, stderr io.Writer) (*runPlan, error) {
	p := &runPlan{cfg: cfg}
	switch {
	case cfg.output != "table" && cfg.output != "json":
		return nil, usagef("-o %q: want table or json", cfg.output)
	case cfg.concurrency < 1:
		return nil, usagef("-concurrency must be at least 1")
	case cfg.timeout <= 0:
		return nil, usagef("-timeout must be positive")
	case cfg.progress != "auto" && cfg.progress != "always" && cfg.progress != "never":
		return nil, usagef("-progress %q: want auto, always or never", cfg.progress)
	}

	// Hosts.
	switch {
	case cfg.host != "" && cfg.hostsFile != "":
		return nil, usagef("-host and -hosts exclude each other")
	case cfg.host != "":
		if err := checkHost(cfg.host); err != nil {
			return nil, usagef("-host: %v", err)
		}
		p.hosts = []string{cfg.host}
	case cfg.hostsFile != "":
		hosts, err := readHostsFile(cfg.hostsFile)
		if err != nil {
			return nil, &usageError{err.Error()}
		}
		p.hosts = hosts
	default:
		return nil, usagef("no target: give -host NAME or -hosts FILE")
	}

	// BMC endpoints.
	switch {
	case cfg.redfishURL != "" && cfg.redfishTemplate != "":
		return nil, usagef("-redfish and -redfish-template exclude each other")
	case cfg.ipmiAddr != "" && cfg.ipmiTemplate != "":
		return nil, usagef("-ipmi and -ipmi-template exclude each other")
	case cfg.redfishURL == "" && cfg.redfishTemplate == "" && cfg.ipmiAddr == "" && cfg.ipmiTemplate == "":
		return nil, usagef("no BMC: give -redfish, -redfish-template, -ipmi or -ipmi-template")
	case cfg.ipmiAddr != "" && len(p.hosts) > 1:
		// One IPMI BMC is one machine: acting on it once per host is a
		// mistake, not a fan-out.
		return nil, usagef("-ipmi names the BMC of one host; use -ipmi-template for %d hosts", len(p.hosts))
	}
	for _, t := range []struct{ flag, tmpl string }{{"-redfish-template", cfg.redfishTemplate}, {"-ipmi-template", cfg.ipmiTemplate}} {
		if t.tmpl != "" && !strings.Contains(t.tmpl, hostPlaceholder) {
			return nil, usagef("%s %q has no %s: every host would reach the same BMC", t.flag, t.tmpl, hostPlaceholder)
		}
	}
	if cfg.ipmiAddr != "" {
		if _, _, err := splitIPMI(cfg.ipmiAddr); err != nil {
			return nil, usagef("-ipmi: %v", err)
		}
	}
	if cfg.ipmiTemplate != "" {
		if _, _, err := splitIPMI(expand(cfg.ipmiTemplate, p.hosts[0])); err != nil {
			return nil, usagef("-ipmi-template: %v", err)
		}
	}

	// Credentials.
	creds, err := credentials(cfg, stderr)
	if err != nil {
		return nil, err
	}
	p.creds = creds

	// TLS, for Redfish.
	logger := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.caFile != "" && cfg.insecure {
		return nil, usagef("-ca and -insecure exclude each other: either verify against the CA or not at all")
	}
	redfish := cfg.redfishURL != "" || cfg.redfishTemplate != ""
	if !redfish && (cfg.caFile != "" || cfg.insecure) {
		return nil, usagef("-ca and -insecure are for Redfish (HTTPS); IPMI has no certificates")
	}
	if redfish {
		p.drivers = append(p.drivers, "redfish")
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.caFile != "" {
			pem, err := os.ReadFile(cfg.caFile)
			if err != nil {
				return nil, usagef("-ca: %v", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, usagef("-ca %s: no PEM certificate in it", cfg.caFile)
			}
		}
		if cfg.insecure {
			fmt.Fprintln(stderr, "bmcctl: WARNING: -insecure: TLS certificates of the BMCs are not verified; anyone on the path can read the credentials")
			tc.InsecureSkipVerify = true //nolint:gosec // explicit opt-in with -insecure, warned about
		}
		p.client = sharedClient(tc, cfg.concurrency)
	}
	if cfg.ipmiAddr != "" || cfg.ipmiTemplate != "" {
		p.drivers = append(p.drivers, "ipmi")
	}
	p.dial = dialer(cfg, p.client, logger)

	switch cfg.progress {
	case "always":
		p.progress = len(p.hosts) > 1
	case "auto":
		p.progress = len(p.hosts) > 1 && progress.IsTerminal(stderr)
	}
	return p, nil
}

// sharedClient is one HTTP client for every Redfish driver of the run, so
// that hosts behind one endpoint share its connections (and TLS
// handshakes) instead of each driver building a transport of its own.
func sharedClient(tc *tls.Config, concurrency int) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	t.MaxIdleConns = max(100, concurrency)
	t.MaxIdleConnsPerHost = max(2, concurrency)
	// Redfish drivers leave a client they were given open at logout; the
	// run closes its idle connections once, at the end (runPlan.close).
	return &http.Client{Transport: t}
}

// dialer builds each host's driver: Redfish, IPMI, or a bmc.Client trying
// Redfish then IPMI.
func dialer(cfg *config, client *http.Client, logger *slog.Logger) bmc.Dialer {
	return func(ctx context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
		var drivers []bmc.Driver
		if cfg.redfishURL != "" || cfg.redfishTemplate != "" {
			opts := &redfishbmc.Options{HTTPClient: client, Logger: logger}
			endpoint := cfg.redfishURL
			if endpoint != "" {
				opts.SystemID = host // one endpoint, many systems
			} else {
				endpoint = expand(cfg.redfishTemplate, host)
			}
			d, err := redfishbmc.New(endpoint, creds, opts)
			if err != nil {
				return nil, err
			}
			drivers = append(drivers, d)
		}
		if cfg.ipmiAddr != "" || cfg.ipmiTemplate != "" {
			addr := cfg.ipmiAddr
			if addr == "" {
				addr = expand(cfg.ipmiTemplate, host)
			}
			h, port, err := splitIPMI(addr)
			if err != nil {
				return nil, err
			}
			d, err := ipmibmc.New(h, port, creds, &ipmibmc.Options{Logger: logger})
			if err != nil {
				return nil, err
			}
			drivers = append(drivers, d)
		}
		if len(drivers) == 1 {
			return drivers[0], nil
		}
		return newMultiDriver(host, drivers, cfg.timeout/time.Duration(len(drivers))), nil
	}
}

// expand puts host in an endpoint template.
func expand(tmpl, host string) string { return strings.ReplaceAll(tmpl, hostPlaceholder, host) }

// splitIPMI splits host[:port]; the port defaults to 623.
func splitIPMI(addr string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		if strings.Contains(err.Error(), "missing port") {
			return strings.TrimSuffix(strings.TrimPrefix(addr, "["), "]"), defaultIPMIPort, nil
		}
		return "", 0, fmt.Errorf("%q is not host:port", addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", addr)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q: no host", addr)
	}
	return host, port, nil
}

// checkHost rejects names that cannot be a host.
func checkHost(h string) error {
	switch {
	case h == "":
		return fmt.Errorf("empty host name")
	case strings.ContainsFunc(h, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("host name %q has spaces or control characters", h)
	case strings.ContainsAny(h, "/?#{}"):
		return fmt.Errorf("host name %q has one of / ? # { }", h)
	}
	return nil
}

// readHostsFile reads one host per line; '#' starts a comment, blank
// lines are skipped. A host listed twice is an error: acting twice on a
// machine (a power cycle, say) is never what was meant.
func readHostsFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("-hosts: %w", err)
	}
	defer f.Close()
	return parseHosts(f, path)
}

func parseHosts(r io.Reader, name string) ([]string, error) {
	var hosts []string
	seen := make(map[string]int)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := checkHost(line); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		if first, dup := seen[line]; dup {
			return nil, fmt.Errorf("%s:%d: host %s is already on line %d", name, n, line, first)
		}
		seen[line] = n
		hosts = append(hosts, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("%s: no hosts in it", name)
	}
	return hosts, nil
}

// credentialsJSON is the -credentials file.
type credentialsJSON struct {
	Default *credJSON           `json:"default"`
	Hosts   map[string]credJSON `json:"hosts"`
	Racks   map[string]credJSON `json:"racks"`
	RackOf  map[string]string   `json:"rack_of"`
}

type credJSON struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

func (c credJSON) creds() bmc.Credentials {
	return bmc.Credentials{Username: c.User, Password: c.Password}
}

// credentials builds the credential source: the -credentials file, if
// any, with -user and the password as its default.
func credentials(cfg *config, stderr io.Writer) (bmc.CredentialSource, error) {
	src := &bmc.StaticCredentials{}
	if cfg.credentialsFile != "" {
		if err := loadCredentials(cfg.credentialsFile, src, stderr); err != nil {
			return nil, err
		}
	}
	password, havePassword := "", false
	switch {
	case cfg.passwordFile != "":
		b, err := os.ReadFile(cfg.passwordFile)
		if err != nil {
			return nil, usagef("-password-file: %v", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return nil, usagef("-password-file %s is empty", cfg.passwordFile)
		}
		havePassword = true
	case cfg.getenv(passwordEnv) != "":
		password, havePassword = cfg.getenv(passwordEnv), true
	}
	switch {
	case cfg.user != "" && !havePassword:
		return nil, usagef("-user %s: no password: set $%s or use -password-file", cfg.user, passwordEnv)
	case cfg.user != "":
		src.Default = bmc.Credentials{Username: cfg.user, Password: password}
	case cfg.passwordFile != "":
		return nil, usagef("-password-file without -user")
	case cfg.credentialsFile == "":
		return nil, usagef("no credentials: give -user (with $%s or -password-file) or -credentials FILE", passwordEnv)
	}
	return src, nil
}

// loadCredentials reads a -credentials file into src.
func loadCredentials(path string, src *bmc.StaticCredentials, stderr io.Writer) error {
	fi, err := os.Stat(path)
	if err != nil {
		return usagef("-credentials: %v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(stderr, "bmcctl: warning: credentials file %s can be read by others (mode %04o); chmod 600 it\n", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return usagef("-credentials: %v", err)
	}
	var cj credentialsJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	// json's errors name fields and offsets, never the values.
	if err := dec.Decode(&cj); err != nil {
		return usagef("-credentials %s: %v", path, err)
	}
	check := func(where string, c credJSON) error {
		if c.User == "" {
			return usagef("-credentials %s: %s: no user", path, where)
		}
		return nil
	}
	if cj.Default != nil {
		if err := check("default", *cj.Default); err != nil {
			return err
		}
		src.Default = cj.Default.creds()
	}
	src.ByHost = make(map[string]bmc.Credentials, len(cj.Hosts))
	for h, c := range cj.Hosts {
		if err := check("hosts."+h, c); err != nil {
			return err
		}
		src.ByHost[h] = c.creds()
	}
	src.ByRack = make(map[string]bmc.Credentials, len(cj.Racks))
	for r, c := range cj.Racks {
		if err := check("racks."+r, c); err != nil {
			return err
		}
		src.ByRack[r] = c.creds()
	}
	for h, r := range cj.RackOf {
		if _, ok := cj.Racks[r]; !ok {
			return usagef("-credentials %s: rack_of.%s: rack %q is not in racks", path, h, r)
		}
	}
	rackOf := cj.RackOf
	src.Rack = func(host string) string { return rackOf[host] }
	return nil
}

// multiDriver is a bmc.Client that remembers how its Open went, so the
// result of a host can say which drivers failed to open.
type multiDriver struct {
	*bmc.Client

	mu   sync.Mutex
	open bmc.Report
}

func newMultiDriver(host string, drivers []bmc.Driver, perDriver time.Duration) *multiDriver {
	m := &multiDriver{}
	m.Client = bmc.NewClient(host, drivers, &bmc.ClientOptions{
		DriverTimeout: perDriver,
		OnReport: func(r bmc.Report) {
			if r.Op == "open" {
				m.mu.Lock()
				m.open = r
				m.mu.Unlock()
			}
		},
	})
	return m
}

// openReport returns the report of Open.
func (m *multiDriver) openReport() bmc.Report {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.open
}
