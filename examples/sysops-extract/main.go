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
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	search, scope, site, hosts, host  string
	contents, md5sum, stat, wordcount bool
	time, listFiles, prefix           bool
	grep, regexp                      string
	count, differ, json               bool
	topology, servers, namespace      string
	legacy, allowGaps                 bool
	progress, cpuprofile              string
	health                            time.Duration
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("sysops-extract", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.search, "search", "", "object `name` glob (file path or command); without a wildcard, names containing it")
	fs.StringVar(&c.scope, "scope", "global", "`scope` of the search with -topology: local, site or global")
	fs.StringVar(&c.site, "site", "", "`site` of -scope site (default: this host's)")
	fs.StringVar(&c.hosts, "hosts", "", "host `glob` to search, e.g. 'web*.dc1'")
	fs.StringVar(&c.host, "host", "", "this host's `name`, which picks the local group (default: the machine's hostname)")
	fs.BoolVar(&c.contents, "contents", false, "print the objects' contents")
	fs.BoolVar(&c.md5sum, "md5sum", false, "print the MD5 digests")
	fs.BoolVar(&c.stat, "stat", false, "print the file metadata (mode, size, uid, gid, mtime)")
	fs.BoolVar(&c.wordcount, "wordcount", false, "print the line, word and character counts")
	fs.BoolVar(&c.time, "time", false, "print when each object was collected")
	fs.BoolVar(&c.listFiles, "list-files", false, "print the matching keys (host#name) only")
	fs.BoolVar(&c.prefix, "prefix-hostnames", false, "prefix every output line with the host name")
	fs.StringVar(&c.grep, "grep", "", "keep only the lines containing `text`")
	fs.StringVar(&c.regexp, "regexp", "", "keep only the lines matching this RE2 `expression`")
	fs.BoolVar(&c.count, "count", false, "aggregate identical lines across hosts (uniq -c), most common first")
	fs.BoolVar(&c.differ, "differ", false, "say whether every host has the same value and list those that differ")
	fs.BoolVar(&c.json, "json", false, "print JSON (one object per line; one document with -count or -differ)")
	fs.StringVar(&c.topology, "topology", "", "topology `file` (JSON or YAML) naming the replica groups")
	fs.StringVar(&c.servers, "servers", "", "comma-separated `addresses` of one replica group (instead of -topology)")
	fs.StringVar(&c.namespace, "namespace", "", "key `prefix` of the cache (redisshard.Options.Namespace)")
	fs.BoolVar(&c.legacy, "legacy", false, "read a sysops-api cache (Redis database 1)")
	fs.BoolVar(&c.allowGaps, "allow-gaps", false, "report a group with no live server instead of failing")
	fs.StringVar(&c.progress, "progress", "auto", "progress line on stderr (`mode`): auto (on a terminal), always or never")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile to `file`")
	fs.DurationVar(&c.health, "health-timeout", inventory.DefaultHealthTimeout, "time a server has to answer its health check")
	return fs
}

const usageHead = `Usage: sysops-extract --search NAME [flags]

Asks the inventory cache a question of the whole fleet. Servers come from
-topology FILE (resolved by -scope) or -servers ADDR,ADDR (one group).

Examples:
  sysops-extract -servers 127.0.0.1:6379 -search sysctl-a -grep net.core.netdev_budget -count
  sysops-extract -topology fleet.yaml -scope site -site dc1 -search /etc/resolv.conf -differ

Exit status: 0 success, 1 the extraction failed, 2 usage error.

Flags:
`

func usage(w io.Writer) {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(w)
	fmt.Fprint(w, usageHead)
	fs.PrintDefaults()
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet(&c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "sysops-extract: %v\n\n", err)
		usage(stderr)
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sysops-extract: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "sysops-extract: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "sysops-extract: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	err := extract(ctx, &c, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sysops-extract: %v (see -help)\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "sysops-extract: %v\n", err)
		return exitFailed
	}
}

// query turns the flags into a query, or a usage error.
func (c *config) query() (*inventory.Query, error) {
	if c.search == "" {
		return nil, usagef("-search is required")
	}
	modes := 0
	for _, b := range []bool{c.contents, c.md5sum, c.stat, c.wordcount, c.time, c.listFiles} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return nil, usagef("choose one of -contents, -md5sum, -stat, -wordcount, -time, -list-files")
	}
	if c.count && c.differ {
		return nil, usagef("choose one of -count and -differ")
	}
	if c.count && c.grep == "" && c.regexp == "" {
		return nil, usagef("-count aggregates the lines of -grep or -regexp: give one")
	}
	if (c.count || c.differ) && modes > 0 {
		return nil, usagef("-count and -differ print their own result: drop -contents, -md5sum, … ")
	}
	scope, err := inventory.ParseScope(c.scope)
	if err != nil {
		return nil, usagef("%v", err)
	}
	names := c.search
	if !inventory.HasWildcard(names) {
		names = "*" + names + "*"
	}
	q := &inventory.Query{
		Lookup:     inventory.Lookup{Scope: scope, Site: c.site, Host: c.host},
		Names:      names,
		Hosts:      c.hosts,
		Grep:       c.grep,
		GrepRegexp: c.regexp,
		AllowGaps:  c.allowGaps,
	}
	switch {
	case c.contents:
		q.Fields = inventory.FieldContents
	case c.md5sum:
		q.Fields = inventory.FieldMD5
	case c.stat:
		q.Fields = inventory.FieldStat
	case c.wordcount:
		q.Fields = inventory.FieldCounts
	case c.time:
		q.Fields = inventory.FieldTime
	}
	return q, nil
}

// directory returns the topology of -topology or -servers.
func (c *config) directory() (inventory.Directory, error) {
	switch {
	case c.topology != "" && c.servers != "":
		return nil, usagef("give -topology or -servers, not both")
	case c.topology != "":
		return inventory.LoadTopology(c.topology)
	case c.servers != "":
		g := inventory.Group{Name: "servers", Site: "local", Hosts: []string{"*"}}
		for _, s := range strings.Split(c.servers, ",") {
			if s = strings.TrimSpace(s); s != "" {
				g.Servers = append(g.Servers, s)
			}
		}
		t := &inventory.Topology{Groups: []inventory.Group{g}}
		if err := t.Validate(); err != nil {
			return nil, usagef("-servers: %v", err)
		}
		return t, nil
	}
	return nil, usagef("give -topology FILE or -servers ADDR,…")
}

// redisOptions are the client settings of every server: fail fast on a
// dead one, so that another of its group takes over.
func redisOptions() *redis.Options {
	return &redis.Options{DialTimeout: 2 * time.Second, ReadTimeout: 30 * time.Second, MaxRetries: 1, DialerRetries: 1, PoolSize: 8}
}

func extract(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	q, err := c.query()
	if err != nil {
		return err
	}
	dir, err := c.directory()
	if err != nil {
		return err
	}
	if c.servers != "" {
		q.Scope = inventory.ScopeGlobal
	} else if q.Host == "" && q.Scope != inventory.ScopeGlobal {
		if q.Host, err = os.Hostname(); err != nil {
			return fmt.Errorf("find this host's name for -scope %s: %w (give -host)", q.Scope, err)
		}
	}
	connect := redisshard.Connector(redisOptions(), &redisshard.Options{Namespace: c.namespace})
	if c.legacy {
		connect = redisshard.LegacyConnector(redisOptions(), nil)
	}
	pool := inventory.NewPool(connect, c.health)
	defer pool.Close()
	ex := inventory.NewExtractor(dir, pool, nil)

	x, err := ex.Extract(ctx, q)
	if err != nil {
		return err
	}
	var stop func()
	if showProgress(c.progress, stderr) {
		stop = startProgress(x, stderr)
	}
	out := newPrinter(c, stdout)
	perr := out.print(ctx, x)
	if stop != nil {
		stop()
	}
	for _, p := range x.Problems() {
		fmt.Fprintf(stderr, "sysops-extract: %s\n", p)
	}
	if n := x.Dropped(); n > 0 {
		fmt.Fprintf(stderr, "sysops-extract: and %d more undecodable records\n", n)
	}
	if err := x.Err(); err != nil {
		return err
	}
	return perr
}

// showProgress decides whether to draw the progress line.
func showProgress(mode string, stderr io.Writer) bool {
	switch mode {
	case "always":
		return true
	case "never":
		return false
	}
	f, ok := stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress redraws a progress line on w until the returned function
// is called, which erases it.
func startProgress(x *inventory.Extraction, w io.Writer) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		spin := `|/-\`
		for i := 0; ; i++ {
			select {
			case <-done:
				fmt.Fprint(w, "\r\033[K")
				return
			case <-t.C:
				n, b := x.Progress()
				el := time.Since(start).Seconds()
				fmt.Fprintf(w, "\r\033[K%c %d records  %.1f MB  %.0f records/s  %.1fs", spin[i%4], n, float64(b)/(1<<20), float64(n)/max(el, 0.001), el)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}
