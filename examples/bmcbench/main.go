// Command bmcbench measures a fan-out over thousands of simulated BMCs and
// prints figures: a power cycle (or a power-state read) of every host
// through its own Redfish driver (bmc/redfishbmc: log in, act, log out),
// bmc.FanOut bounding how many run at once, against fakebmc servers over
// TLS on loopback that wait a simulated latency on every operation of a
// system. The systems start powered on; after the run, every one is
// checked (booted exactly once, on again) and no session may be left open.
//
// Run it from the repository root:
//
//	go run ./examples/bmcbench                        # 5000 hosts, 20ms, 256 at once, power cycle
//	go run ./examples/bmcbench -op status             # a power-state read instead
//	go run ./examples/bmcbench -basic-auth            # credentials on every request, no session
//	go run ./examples/bmcbench -endpoints per-host    # a Redfish service (and TLS handshakes) per host
//	go run ./examples/bmcbench -shared-client=false   # a transport per driver
//	go run ./examples/bmcbench -hosts 100             # act on the first 100 of the 5000 systems
//
// It prints the wall time against an ideal,
//
//	latency × waiting-requests-per-host × hosts / concurrency
//
// where waiting-requests-per-host is counted, not assumed: the HTTP round
// trips the fake served during the run below a system or its manager
// (/redfish/v1/Systems/{id}/…, /redfish/v1/Managers/{id}/…), which wait
// the BMC's latency, over the hosts. The others (service root, session
// login and logout) answer at once and are left out of the ideal, though
// the report counts them. The target is a wall time within 1.5× of that
// ideal and a peak heap under 200 MB. The report also gives the lower
// bound of any operation that waits the latency once per host, latency ×
// hosts / concurrency, and the wall time's ratio to it. Memory and CPU
// figures are the whole process's: the simulated BMCs, and the server
// half of every TLS handshake, run in it too.
//
// Two layouts of endpoints (-endpoints):
//
//   - shared (the default): one fakebmc.Server over TLS with every system
//     behind it, each driver picking its system with
//     redfishbmc.Options.SystemID (which it reads directly, GET
//     /redfish/v1/Systems/{SystemID}), over one pool of connections.
//   - per-host: each host has its own Redfish service, as a fleet of real
//     BMCs does: one fakebmc.Server of one system per host, all on one
//     loopback TLS listener, told apart by name (host0001.bmc.test, …).
//     Each host costs a TLS handshake.
//
// The shared HTTP client (the default; -shared-client=false gives each
// driver a transport of its own, built as redfishbmc.New builds it) keeps
// up to 2 × concurrency idle connections to the one endpoint of the
// shared layout (MaxIdleConnsPerHost), so one pool of connections serves
// every driver; with per-host endpoints it keeps 2 per host, 2 ×
// concurrency in all. (gofish sends one request at a time per driver.)
//
// BenchmarkFanOut (bench_test.go) runs a fan-out of 500 hosts under go
// test -bench and reports the ratio to the ideal as a metric.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Targets the figures are reported against.
const (
	targetRatio    = 1.5
	targetHeapMB   = 200
	bytesPerMB     = 1 << 20
	defaultSystems = 5000
)

// run is bmcbench: it parses args, runs the bench, prints the figures to
// stdout and returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := config{}
	fs := flag.NewFlagSet("bmcbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Systems, "systems", defaultSystems, "simulated systems, one host each")
	fs.IntVar(&cfg.Hosts, "hosts", 0, "act on the first `N` systems only (0: all); to time a few sessions against many systems")
	fs.DurationVar(&cfg.Latency, "latency", 20*time.Millisecond, "simulated latency of every BMC operation")
	fs.IntVar(&cfg.Concurrency, "concurrency", 256, "hosts worked on at once (bmc.FanOutOptions.Concurrency)")
	fs.StringVar(&cfg.Op, "op", opCycle, "operation on every host: cycle (power cycle) or status (read the power)")
	fs.StringVar(&cfg.Endpoints, "endpoints", endpointsShared, "endpoint layout: shared (one Redfish service, every system, picked by SystemID) or per-host (a Redfish service per host)")
	fs.BoolVar(&cfg.SharedClient, "shared-client", true, "one HTTP client for every driver; false: each driver builds its own")
	fs.BoolVar(&cfg.BasicAuth, "basic-auth", false, "HTTP basic auth on every request instead of a Redfish session (no login and logout round trips)")
	fs.DurationVar(&cfg.Timeout, "timeout", 2*time.Minute, "time allowed to each host")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the fan-out to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bmcbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "bmcbench:", err)
		return 2
	}
	b, err := newBench(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bmcbench:", err)
		return 1
	}
	defer b.close()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "bmcbench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "bmcbench:", err)
			return 1
		}
	}
	fig := b.run(ctx)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	report(stdout, cfg, fig)
	if fig.Failures > 0 || fig.Verified != fig.Hosts {
		return 1
	}
	return 0
}

// report prints the figures of a run.
func report(w io.Writer, cfg config, f figures) {
	what := "power cycle"
	if cfg.Op == opStatus {
		what = "power-state read"
	}
	client := "one shared HTTP client"
	if !cfg.SharedClient {
		client = "an HTTP client per driver"
	}
	pr := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-18s %s\n", label, fmt.Sprintf(format, args...))
	}
	session := "log in, act, log out"
	if cfg.BasicAuth {
		session = "basic auth on every request, no session"
	}
	fmt.Fprintf(w, "bmcbench: %s of %d hosts through redfishbmc (%s), %s endpoints, %s\n",
		what, f.Hosts, session, cfg.Endpoints, client)
	if f.Hosts != cfg.Systems {
		fmt.Fprintf(w, "  (%d systems served, %d acted on)\n", cfg.Systems, f.Hosts)
	}
	pr("hosts", "%d", f.Hosts)
	pr("concurrency", "%d", cfg.Concurrency)
	pr("latency", "%s per BMC operation", cfg.Latency)
	pr("wall time", "%s", f.Wall.Round(time.Millisecond))
	pr("round trips", "%d HTTP requests (fakebmc Server.Requests): %.2f per host, of which %.2f wait the BMC's latency",
		f.Requests, f.ReqPerHost(), f.SysReqPerHost())
	id := ideal(cfg.Latency, f.SysReqPerHost(), f.Hosts, cfg.Concurrency)
	pr("ideal", "latency × waiting-requests-per-host × hosts / concurrency = %s × %.2f × %d / %d = %s",
		cfg.Latency, f.SysReqPerHost(), f.Hosts, cfg.Concurrency, id.Round(time.Millisecond))
	ratio := ratioOf(f.Wall, id)
	pr("ratio to ideal", "%.2f× (target ≤ %.1f×)", ratio, targetRatio)
	bound := ideal(cfg.Latency, 1, f.Hosts, cfg.Concurrency)
	pr("lower bound", "per-host-operation lower bound, one latency per host: latency × hosts / concurrency = %s × %d / %d = %s, ratio %.2f×",
		cfg.Latency, f.Hosts, cfg.Concurrency, bound.Round(time.Millisecond), ratioOf(f.Wall, bound))
	pr("throughput", "%s hosts/s, %s requests/s", rate(f.Hosts, f.Wall), rate(int(f.Requests), f.Wall))
	if f.FirstErr != nil {
		pr("failures", "%d of %d (first: %v)", f.Failures, f.Hosts, f.FirstErr)
	} else {
		pr("failures", "%d of %d", f.Failures, f.Hosts)
	}
	pr("verified", "%d of %d systems %s; %d sessions left open", f.Verified, f.Hosts, verifiedAs(cfg.Op), f.Sessions)
	pr("TLS connections", "%d accepted by the fake (%.2f per host)", f.Conns, float64(f.Conns)/float64(f.Hosts))
	pr("peak heap in use", "%.1f MB (runtime/metrics, sampled every 10ms; %.1f MB before the fan-out)",
		mb(f.PeakHeap), mb(f.HeapBefore))
	if f.PeakRSS > 0 {
		pr("peak RSS", "%.1f MB (VmHWM of the process, the simulated BMCs included)", mb(f.PeakRSS))
	}
	pr("CPU time", "%s user+system (%.2f cores busy on average; client and simulated BMCs together)",
		f.CPU.Round(time.Millisecond), f.CPU.Seconds()/f.Wall.Seconds())
	pr("targets", "within %.1f× of ideal: %s; peak heap under %d MB: %s",
		targetRatio, yes(ratio <= targetRatio), targetHeapMB, yes(mb(f.PeakHeap) < targetHeapMB))
}

func verifiedAs(op string) string {
	if op == opStatus {
		return "read as on"
	}
	return "booted exactly once and on again"
}

func ratioOf(wall, ideal time.Duration) float64 {
	if ideal <= 0 {
		return 0
	}
	return float64(wall) / float64(ideal)
}

// rate renders n per second of d, with decimals when it is small.
func rate(n int, d time.Duration) string {
	r := float64(n) / d.Seconds()
	if r < 10 {
		return fmt.Sprintf("%.2f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

func mb(b uint64) float64 { return float64(b) / bytesPerMB }

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "NO"
}
