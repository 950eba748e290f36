// Command fleetsim simulates a fleet's batches end to end and prints
// figures: it submits batches of power cycles (or reimages) over thousands
// of simulated hosts through lifecycle.Service, runs them with one
// lifecycle.Pool whose running jobs are capped, through the actions of
// lifecycle/actions against simulated BMCs (bmc/fakebmc, in process) whose
// every operation waits a latency drawn per host, and reports the wall
// time against an ideal and the peak memory.
//
// Run it from the repository root:
//
//	go run ./examples/fleetsim                       # 10,000 hosts, 100 batches, cap 500, 20–200ms
//	go run ./examples/fleetsim -store sqlite:///tmp/fleet.db
//	go run ./examples/fleetsim -store postgres://…   # a database of its own: it adds batches
//	go run ./examples/fleetsim -action reimage -deploy 2s
//
// The ideal is the time the work would take if the cap were always full
// and the pool cost nothing:
//
//	Σ over hosts (BMC operations on the host × the host's latency) / cap
//
// where the operations are counted on the simulated BMCs after the run
// (each waits its host's latency once), plus, for reimages, the
// simulated installs' durations. The targets are a wall time within 1.5×
// of the ideal and a peak heap under 300 MB.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/internal/procstat"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"

	_ "github.com/fleetkit/fleetkit/store/memstore"
	_ "github.com/fleetkit/fleetkit/store/pgstore"
	_ "github.com/fleetkit/fleetkit/store/sqlitestore"
)

// Targets the figures are reported against, and the default latencies.
const (
	targetRatio  = 1.5
	targetHeapMB = 300

	defaultMinLatency = 20 * time.Millisecond
	defaultMaxLatency = 200 * time.Millisecond
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	Hosts, Batches, Cap int
	MinLatency          time.Duration
	MaxLatency          time.Duration
	Action              lifecycle.Action
	Deploy              time.Duration
	Store               string
	Seed                uint64
}

func (c config) validate() error {
	switch {
	case c.Hosts < 1 || c.Batches < 1 || c.Batches > c.Hosts:
		return fmt.Errorf("need 1 ≤ batches (%d) ≤ hosts (%d)", c.Batches, c.Hosts)
	case c.Cap < 1:
		return fmt.Errorf("cap %d is less than 1", c.Cap)
	case c.MinLatency < 0 || c.MaxLatency < c.MinLatency:
		return fmt.Errorf("latency range %s..%s is not in order", c.MinLatency, c.MaxLatency)
	case c.Action != lifecycle.ActionPowerCycle && c.Action != lifecycle.ActionReimage:
		return fmt.Errorf("action %q: power-cycle or reimage", c.Action)
	case c.Deploy < 0:
		return fmt.Errorf("deploy time %s is negative", c.Deploy)
	}
	return nil
}

// run is fleetsim: it parses args, runs the simulation, prints the
// figures and returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := config{}
	var action string
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Hosts, "hosts", 10_000, "simulated hosts")
	fs.IntVar(&cfg.Batches, "batches", 100, "batches the hosts are split into")
	fs.IntVar(&cfg.Cap, "cap", 500, "jobs running at once (the pool's concurrency and global limit)")
	fs.DurationVar(&cfg.MinLatency, "min-latency", defaultMinLatency, "least latency of a host's BMC operations")
	fs.DurationVar(&cfg.MaxLatency, "max-latency", defaultMaxLatency, "most latency of a host's BMC operations")
	fs.StringVar(&action, "action", string(lifecycle.ActionPowerCycle), "action of every batch: power-cycle or reimage")
	fs.DurationVar(&cfg.Deploy, "deploy", 0, "how long a simulated install takes (reimage)")
	fs.StringVar(&cfg.Store, "store", "memory://", "store URL (memory://, sqlite:///path, postgres://…)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of the latencies")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg.Action = lifecycle.Action(action)
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleetsim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "fleetsim:", err)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "fleetsim:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "fleetsim:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	fig, err := simulate(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "fleetsim:", err)
		return 1
	}
	report(stdout, cfg, fig)
	if fig.Succeeded != cfg.Hosts || fig.Overlaps > 0 {
		return 1
	}
	return 0
}

// figures are what a run measured.
type figures struct {
	Wall, Ideal, CPU    time.Duration
	Ops                 int
	Succeeded, Failed   int
	Retried             int64
	Overlaps            int
	PeakHeap, PeakRSS   uint64
	HeapBefore          uint64
	MeanLatency, PerJob time.Duration
}

// batchCounter counts batch.finished events.
type batchCounter struct {
	mu   sync.Mutex
	n    int
	all  int
	done chan struct{}
}

func (c *batchCounter) Notify(_ context.Context, e fleetkit.Event) error {
	if e.Kind != lifecycle.EventBatchFinished {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n == c.all {
		close(c.done)
	}
	return nil
}

func simulate(ctx context.Context, cfg config) (figures, error) {
	var fig figures
	st, closer, err := lifecycle.OpenStore(ctx, cfg.Store)
	if err != nil {
		return fig, err
	}
	defer closer.Close(context.WithoutCancel(ctx))

	rng := rand.New(rand.NewPCG(cfg.Seed, cfg.Seed+1))
	hosts := make([]string, cfg.Hosts)
	bmcs := make(map[string]*fakebmc.BMC, cfg.Hosts)
	latency := make(map[string]time.Duration, cfg.Hosts)
	var sumLatency time.Duration
	for i := range hosts {
		h := fmt.Sprintf("sim%05d.dc%d.example.com", i, i%4)
		hosts[i] = h
		lat := cfg.MinLatency + time.Duration(rng.Int64N(int64(cfg.MaxLatency-cfg.MinLatency)+1))
		latency[h] = lat
		sumLatency += lat
		bmcs[h] = fakebmc.New(&fakebmc.Options{Host: h, InitialPower: bmc.PowerOn, Latency: lat, OpHistory: 64})
	}
	fig.MeanLatency = sumLatency / time.Duration(cfg.Hosts)

	rcfg := &actions.Config{
		Dial: func(_ context.Context, host string, _ bmc.Credentials) (bmc.Driver, error) {
			b, ok := bmcs[host]
			if !ok {
				return nil, fmt.Errorf("no simulated BMC for %s", host)
			}
			return b.Driver(), nil
		},
		PowerPollInterval: cfg.MinLatency,
	}
	if cfg.Action == lifecycle.ActionReimage {
		rcfg.Provisioner = fakeprov.New(&fakeprov.Options{MinDuration: cfg.Deploy, MaxDuration: cfg.Deploy, Seed: cfg.Seed,
			Booted:      fakeprov.PXEBoots(func(h string) (*fakebmc.BMC, bool) { b, ok := bmcs[h]; return b, ok }),
			CallHistory: -1})
		rcfg.ProvisionerPollInterval = max(cfg.Deploy/10, 10*time.Millisecond)
	}
	runner, err := actions.New(rcfg)
	if err != nil {
		return fig, err
	}
	svc, err := lifecycle.New(st, nil)
	if err != nil {
		return fig, err
	}
	counter := &batchCounter{all: cfg.Batches, done: make(chan struct{})}
	per := (cfg.Hosts + cfg.Batches - 1) / cfg.Batches
	submitted := 0
	for i := 0; i < cfg.Hosts; i += per {
		p := lifecycle.SubmitParams{Owner: "fleetsim", Action: cfg.Action, Hosts: hosts[i:min(i+per, cfg.Hosts)]}
		if cfg.Action == lifecycle.ActionReimage {
			p.Snapshot = "sim-snapshot"
		}
		if _, err := svc.Submit(ctx, p); err != nil {
			return fig, err
		}
		submitted++
	}
	counter.all = submitted

	pool, err := lifecycle.NewPool(st, &lifecycle.PoolConfig{
		Runner: runner, Concurrency: cfg.Cap, ClaimBatch: min(cfg.Cap, 100), Limits: lifecycle.Limits{Global: cfg.Cap},
		PollInterval: 10 * time.Millisecond, Notifier: counter,
	})
	if err != nil {
		return fig, err
	}
	mem := procstat.StartHeapSampler(10 * time.Millisecond)
	fig.HeapBefore = mem.First()
	cpu0 := procstat.CPUTime()
	start := time.Now()
	pctx, stopPool := context.WithCancel(ctx)
	poolDone := make(chan error, 1)
	go func() { poolDone <- pool.Run(pctx) }()
	select {
	case <-counter.done:
	case <-ctx.Done():
	}
	fig.Wall = time.Since(start)
	stopPool()
	if err := <-poolDone; err != nil {
		return fig, err
	}
	fig.CPU = procstat.CPUTime() - cpu0
	fig.PeakHeap = mem.Stop()
	fig.PeakRSS = procstat.PeakRSS()
	if err := ctx.Err(); err != nil {
		return fig, err
	}

	var busy time.Duration
	for h, b := range bmcs {
		n := len(b.Ops())
		fig.Ops += n
		busy += time.Duration(n) * latency[h]
		fig.Overlaps += len(b.Overlaps())
	}
	if cfg.Action == lifecycle.ActionReimage {
		busy += time.Duration(cfg.Hosts) * cfg.Deploy
	}
	fig.Ideal = busy / time.Duration(cfg.Cap)
	fig.PerJob = busy / time.Duration(cfg.Hosts)
	stats := pool.Stats()
	fig.Succeeded, fig.Failed, fig.Retried = int(stats.Succeeded), int(stats.Failed), stats.Retried
	return fig, nil
}

func report(w io.Writer, cfg config, f figures) {
	pr := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-22s "+format+"\n", append([]any{label + ":"}, args...)...)
	}
	fmt.Fprintf(w, "fleetsim: %d hosts in %d batches of %s, %d jobs at once, BMC latency %s–%s per host, store %s\n",
		cfg.Hosts, cfg.Batches, cfg.Action, cfg.Cap, cfg.MinLatency, cfg.MaxLatency, cfg.Store)
	pr("jobs", "%d succeeded, %d failed, %d retries", f.Succeeded, f.Failed, f.Retried)
	pr("BMC operations", "%d (%.1f per job; mean latency %s; overlapping pairs on one host: %d)",
		f.Ops, float64(f.Ops)/float64(cfg.Hosts), f.MeanLatency.Round(time.Millisecond), f.Overlaps)
	pr("wall time", "%s", f.Wall.Round(time.Millisecond))
	ratio := float64(f.Wall) / float64(f.Ideal)
	pr("ideal", "%s (Σ operations × latency / cap; %s of waiting per job); wall/ideal %.2f×",
		f.Ideal.Round(time.Millisecond), f.PerJob.Round(time.Millisecond), ratio)
	pr("CPU", "%s (%.2f cores busy)", f.CPU.Round(time.Millisecond), float64(f.CPU)/float64(f.Wall))
	pr("peak heap in use", "%.1f MB (sampled every 10ms; %.1f MB before the run)", mb(f.PeakHeap), mb(f.HeapBefore))
	if f.PeakRSS > 0 {
		pr("peak RSS", "%.1f MB (VmHWM, the simulated BMCs included)", mb(f.PeakRSS))
	}
	pr("targets", "within %.1f× of ideal: %s; peak heap under %d MB: %s",
		targetRatio, yes(ratio <= targetRatio), targetHeapMB, yes(mb(f.PeakHeap) < targetHeapMB))
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
