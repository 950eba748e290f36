package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit statuses.
const (
	exitOK     = 0 // every host succeeded
	exitFailed = 1 // some host failed
	exitUsage  = 2 // the command line is wrong
)

// passwordEnv is the environment variable holding the BMC password.
const passwordEnv = "BMC_PASSWORD"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	host, hostsFile             string
	redfishURL, redfishTemplate string
	ipmiAddr, ipmiTemplate      string
	user, passwordFile          string
	credentialsFile             string
	caFile                      string
	insecure                    bool
	output                      string
	concurrency                 int
	timeout                     time.Duration
	progress                    string
	verbose                     bool
	serveFake                   int
	fakeLatency                 time.Duration

	// getenv reads the environment (os.Getenv; tests replace it).
	getenv func(string) string
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

const usageHead = `Usage: bmcctl [flags] <command> [args]

Commands:
  power status                       read each host's power state
  power on|off|soft-off|cycle|reset  change the power (off cuts it at once,
                                     soft-off asks the OS to shut down)
  boot pxe|disk|cd [--legacy]        boot once from a device at the next boot
                                     (UEFI unless --legacy)
  console check                      check each host's remote console is usable

Target: -host NAME, or -hosts FILE (one host per line, '#' comments) to fan
out over many hosts, -concurrency at a time, each within -timeout.

BMC: -redfish URL (one Redfish endpoint; with several systems behind it, the
host name is the system ID) or -redfish-template URL with {host}, and/or
-ipmi host:port or -ipmi-template with {host}. Given both, Redfish is tried
first, then IPMI, and the DRIVER column says which one answered.

Credentials: -user, with the password from $BMC_PASSWORD or -password-file
(never a flag: ps would show it), and/or -credentials FILE (JSON:
{"default": {"user": …, "password": …}, "hosts": {…}, "racks": {…},
"rack_of": {"host": "rack"}}); -user and the password override its default.

Examples:
  bmcctl -serve-fake 20         # simulated BMCs to try the rest on
  BMC_PASSWORD=password bmcctl -redfish https://127.0.0.1:41234 -ca ca.pem \
      -user admin -host host0001 power status
  bmcctl -redfish-template 'https://{host}-bmc.example.com' \
      -ipmi-template '{host}-bmc:623' -user root -password-file ~/.bmcpass \
      -hosts rack12.txt -concurrency 32 -o json power cycle

Exit status: 0 all hosts succeeded, 1 some host failed, 2 usage error.

Flags:
`

// newFlagSet declares the flags into cfg.
func newFlagSet(cfg *config) *flag.FlagSet {
	fs := flag.NewFlagSet("bmcctl", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // run reports errors itself
	fs.StringVar(&cfg.host, "host", "", "the one host `name` to act on")
	fs.StringVar(&cfg.hostsFile, "hosts", "", "`file` of hosts, one per line; '#' starts a comment")
	fs.StringVar(&cfg.redfishURL, "redfish", "", "Redfish endpoint `URL` of every host; with several systems behind it, the host name is the system ID")
	fs.StringVar(&cfg.redfishTemplate, "redfish-template", "", "Redfish endpoint `URL` of each host, {host} replaced by its name, e.g. 'https://{host}-bmc.example.com'")
	fs.StringVar(&cfg.ipmiAddr, "ipmi", "", "IPMI BMC `host:port` of the one host (-host)")
	fs.StringVar(&cfg.ipmiTemplate, "ipmi-template", "", "IPMI BMC `address` of each host, {host} replaced by its name, e.g. '{host}-bmc:623' (port 623 when left out)")
	fs.StringVar(&cfg.user, "user", "", "BMC user `name`; the password comes from $"+passwordEnv+" or -password-file")
	fs.StringVar(&cfg.passwordFile, "password-file", "", "`file` holding the BMC password (instead of $"+passwordEnv+")")
	fs.StringVar(&cfg.credentialsFile, "credentials", "", "JSON `file` of credentials: default, per host, per rack")
	fs.StringVar(&cfg.caFile, "ca", "", "PEM `file` of the CA certificates that sign the BMCs' TLS certificates")
	fs.BoolVar(&cfg.insecure, "insecure", false, "do not verify the BMCs' TLS certificates (prints a warning)")
	fs.StringVar(&cfg.output, "o", "table", "output `format`: table or json")
	fs.IntVar(&cfg.concurrency, "concurrency", 64, "hosts worked on at once")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "time allowed to each host (connect, log in, act, log out)")
	fs.StringVar(&cfg.progress, "progress", "auto", "progress bar on stderr (`mode`): auto (on a terminal), always or never")
	fs.BoolVar(&cfg.verbose, "v", false, "log what the drivers do to stderr (never credentials)")
	fs.IntVar(&cfg.serveFake, "serve-fake", 0, "serve `N` simulated BMCs (host0001…) as one Redfish endpoint over TLS until interrupted, to try bmcctl on")
	fs.DurationVar(&cfg.fakeLatency, "fake-latency", 0, "with -serve-fake: simulated latency of every BMC operation")
	return fs
}

// usage writes the full usage text.
func usage(w io.Writer) {
	var cfg config
	fs := newFlagSet(&cfg)
	fs.SetOutput(w)
	fmt.Fprint(w, usageHead)
	fs.PrintDefaults()
}

// run is bmcctl: it parses args, acts, writes results to stdout and
// diagnostics to stderr, and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, os.Getenv)
}

// runEnv is run with the environment read through getenv.
func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cfg := config{getenv: getenv}
	fs := newFlagSet(&cfg)
	for _, a := range args {
		if a == "--" {
			break
		}
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "password" {
			// Not a flag on purpose; say why rather than "not defined".
			return fail(stderr, usagef("there is no -password flag: a password on the command line shows in ps; set $%s or use -password-file", passwordEnv))
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		return fail(stderr, &usageError{err.Error()})
	}
	if cfg.serveFake != 0 {
		if fs.NArg() > 0 {
			return fail(stderr, usagef("-serve-fake takes no command (got %q)", strings.Join(fs.Args(), " ")))
		}
		if cfg.serveFake < 0 {
			return fail(stderr, usagef("-serve-fake wants a positive number of systems"))
		}
		if err := serveFake(ctx, cfg.serveFake, cfg.fakeLatency, stdout); err != nil {
			fmt.Fprintln(stderr, "bmcctl:", err)
			return exitFailed
		}
		return exitOK
	}
	cmd, err := parseCommand(fs.Args())
	if err != nil {
		return fail(stderr, err)
	}
	p, err := plan(&cfg, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	defer p.close()
	results, elapsed := execute(ctx, p, cmd, stderr)
	if err := writeResults(stdout, cfg.output, cmd, results, elapsed); err != nil {
		fmt.Fprintln(stderr, "bmcctl: write results:", err)
		return exitFailed
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	if cfg.output == "table" && len(results) > 1 {
		fmt.Fprintf(stderr, "%d hosts: %d succeeded, %d failed in %s\n", len(results), len(results)-failed, failed, elapsed.Round(time.Millisecond))
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "bmcctl: interrupted")
	}
	if failed > 0 {
		return exitFailed
	}
	return exitOK
}

// fail reports err and returns its exit status: 2 for a usage error, 1
// otherwise.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintln(stderr, "bmcctl:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "Run 'bmcctl -h' for usage.")
		return exitUsage
	}
	return exitFailed
}
