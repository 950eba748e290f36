package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/internal/progress"
)

// command is what to do on each host.
type command struct {
	// name is the command as typed, e.g. "power cycle".
	name string
	// op names the operation in bmc.Client reports, e.g. "power-cycle".
	op string
	// fn does it through one driver. It returns the host's result in a
	// word or two, and the console health for console check.
	fn func(ctx context.Context, d bmc.Driver) (string, *bmc.ConsoleHealth, error)
}

// powerResults is what each power action leaves the host as.
var powerResults = map[bmc.PowerAction]string{
	bmc.PowerActionOn:      "on",
	bmc.PowerActionOff:     "off",
	bmc.PowerActionSoftOff: "shutting down",
	bmc.PowerActionCycle:   "cycled",
	bmc.PowerActionReset:   "reset",
}

// parseCommand parses the command and its arguments.
func parseCommand(args []string) (command, error) {
	if len(args) == 0 {
		return command{}, usagef("no command: want power, boot or console")
	}
	sub := ""
	if len(args) > 1 {
		sub = args[1]
	}
	rest := args[min(2, len(args)):]
	switch args[0] {
	case "power":
		if len(rest) > 0 {
			return command{}, usagef("power %s: unexpected %q", sub, strings.Join(rest, " "))
		}
		if sub == "status" {
			return command{name: "power status", op: "power-state", fn: func(ctx context.Context, d bmc.Driver) (string, *bmc.ConsoleHealth, error) {
				s, err := d.PowerState(ctx)
				return string(s), nil, err
			}}, nil
		}
		a := bmc.PowerAction(sub)
		if !a.Valid() {
			return command{}, usagef("power %q: want status, on, off, soft-off, cycle or reset", sub)
		}
		return command{name: "power " + sub, op: "power-" + sub, fn: func(ctx context.Context, d bmc.Driver) (string, *bmc.ConsoleHealth, error) {
			if err := d.SetPower(ctx, a); err != nil {
				return "", nil, err
			}
			return powerResults[a], nil, nil
		}}, nil
	case "boot":
		fs := flag.NewFlagSet("boot", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		legacy := fs.Bool("legacy", false, "legacy BIOS boot instead of UEFI")
		if err := fs.Parse(rest); err != nil {
			return command{}, usagef("boot %s: %v", sub, err)
		}
		if fs.NArg() > 0 {
			return command{}, usagef("boot %s: unexpected %q", sub, strings.Join(fs.Args(), " "))
		}
		o := bmc.BootOverride{Device: bmc.BootDevice(sub), Mode: bmc.BootUEFI}
		if *legacy {
			o.Mode = bmc.BootLegacy
		}
		if strings.HasPrefix(sub, "-") || o.Validate() != nil {
			return command{}, usagef("boot %q: want pxe, disk or cd (then --legacy, optionally)", sub)
		}
		result := fmt.Sprintf("next boot %s/%s", o.Device, o.Mode)
		return command{name: "boot " + sub, op: "boot-" + sub, fn: func(ctx context.Context, d bmc.Driver) (string, *bmc.ConsoleHealth, error) {
			if err := d.SetBootOverride(ctx, o); err != nil {
				return "", nil, err
			}
			return result, nil, nil
		}}, nil
	case "console":
		if sub != "check" || len(rest) > 0 {
			return command{}, usagef("console: want 'console check'")
		}
		return command{name: "console check", op: "console-health", fn: func(ctx context.Context, d bmc.Driver) (string, *bmc.ConsoleHealth, error) {
			h, err := d.ConsoleHealth(ctx)
			if err != nil {
				return "", nil, err
			}
			if err := h.Err(); err != nil {
				// An error, so that a bmc.Client tries its next protocol.
				return "unusable", &h, err
			}
			return "usable " + h.Console, &h, nil
		}}, nil
	}
	return command{}, usagef("unknown command %q: want power, boot or console", args[0])
}

// outcome is one host's result beyond its error.
type outcome struct {
	Result string
	// Driver is the protocol that answered ("redfish", "ipmi").
	Driver  string
	Console *bmc.ConsoleHealth
	// Attempts are the tries of a bmc.Client, failed opens included.
	Attempts []attempt
}

// attempt is one driver's try at one operation, as the JSON output shows
// it.
type attempt struct {
	Op         string  `json:"op"`
	Driver     string  `json:"driver"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
}

func attempts(r bmc.Report, onlyFailed bool) []attempt {
	var out []attempt
	for _, a := range r.Attempts {
		if onlyFailed && a.Err == nil {
			continue
		}
		at := attempt{Op: r.Op, Driver: a.Driver, DurationMS: ms(a.Duration)}
		if a.Err != nil {
			at.Error = a.Err.Error()
		}
		out = append(out, at)
	}
	return out
}

// hostOp runs cmd on one host's driver: straight on a single driver, or
// through the Client's drivers in order, recording which one answered.
func hostOp(cmd command) func(ctx context.Context, d bmc.Driver) (outcome, error) {
	return func(ctx context.Context, d bmc.Driver) (outcome, error) {
		var o outcome
		m, ok := d.(*multiDriver)
		if !ok {
			o.Driver = d.Name()
			var err error
			o.Result, o.Console, err = cmd.fn(ctx, d)
			return o, err
		}
		o.Attempts = attempts(m.openReport(), true)
		rep, err := m.Do(ctx, cmd.op, func(ctx context.Context, d bmc.Driver) error {
			var err error
			o.Result, o.Console, err = cmd.fn(ctx, d)
			return err
		})
		o.Driver = rep.Answered
		o.Attempts = append(o.Attempts, attempts(rep, false)...)
		if err != nil && o.Result != "unusable" {
			o.Result = ""
		}
		return o, err
	}
}

// execute runs cmd on every host of p, with a progress bar when p says so.
func execute(ctx context.Context, p *runPlan, cmd command, stderr io.Writer) ([]bmc.Result[outcome], time.Duration) {
	opts := &bmc.FanOutOptions{
		Concurrency: p.cfg.concurrency,
		HostTimeout: p.cfg.timeout,
		Credentials: p.creds,
	}
	if p.progress {
		bar := progress.Start(stderr, len(p.hosts), "hosts")
		defer bar.Stop()
		opts.Progress = func(pr bmc.Progress) {
			bar.Update(progress.State{Done: pr.Done, Total: pr.Total, Failed: pr.Failed})
		}
	}
	start := time.Now()
	results := bmc.FanOut(ctx, p.hosts, p.dial, hostOp(cmd), opts)
	elapsed := time.Since(start)
	if len(p.drivers) == 1 {
		// A host that failed before its operation (dial, credentials,
		// open) still names the one protocol it was tried with.
		for i := range results {
			if results[i].Value.Driver == "" {
				results[i].Value.Driver = p.drivers[0]
			}
		}
	}
	return results, elapsed
}

// hostError renders a host's error on one line, without the "bmc: host:"
// prefix of FanOut that the host column already says.
func hostError(host string, err error) string {
	if err == nil {
		return ""
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "bmc: "+host+": ")
	return strings.Join(strings.Fields(s), " ")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
