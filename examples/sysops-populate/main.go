package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

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
	host, dir, commands          string
	topology, servers, namespace string
	ttl, timeout                 time.Duration
	minReplicas                  int
	maxSize                      int64
	jsonOut                      bool
}

func newFlagSet(c *config) *flag.FlagSet {
	fs := flag.NewFlagSet("sysops-populate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.host, "host", "", "this host's `name` (default: the machine's hostname)")
	fs.StringVar(&c.dir, "dir", "", "`directory` of symlinks to the files to publish")
	fs.StringVar(&c.commands, "commands", "", "JSON `file` of command name → output to publish")
	fs.StringVar(&c.topology, "topology", "", "topology `file` (JSON or YAML); the host's group is published to")
	fs.StringVar(&c.servers, "servers", "", "comma-separated `addresses` of the host's replica group (instead of -topology)")
	fs.StringVar(&c.namespace, "namespace", "", "key `prefix` of the cache (redisshard.Options.Namespace)")
	fs.DurationVar(&c.ttl, "ttl", inventory.DefaultTTL, "how long the objects live without a new publish")
	fs.DurationVar(&c.timeout, "timeout", inventory.DefaultWriteTimeout, "time allowed to each server's write")
	fs.IntVar(&c.minReplicas, "min-replicas", 1, "servers that must take the publish for it to succeed")
	fs.Int64Var(&c.maxSize, "max-object-size", inventory.DefaultMaxObjectSize, "largest object stored, in `bytes`; larger ones are replaced by a marker")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as JSON")
	return fs
}

func usage(w io.Writer) {
	var c config
	fs := newFlagSet(&c)
	fs.SetOutput(w)
	fmt.Fprint(w, "Usage: sysops-populate [-host NAME] [-dir DIR] [-commands FILE] (-topology FILE | -servers ADDR,…) [flags]\n\nPublishes this host's objects to every server of its replica group.\n\nFlags:\n")
	fs.PrintDefaults()
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := newFlagSet(&c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "sysops-populate: %v\n\n", err)
		usage(stderr)
		return exitUsage
	}
	err := populate(ctx, &c, stdout, stderr)
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sysops-populate: %v (see -help)\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "sysops-populate: %v\n", err)
		return exitFailed
	}
}

func (c *config) group(ctx context.Context) (inventory.Group, error) {
	switch {
	case c.topology != "" && c.servers != "":
		return inventory.Group{}, &usageError{"give -topology or -servers, not both"}
	case c.servers != "":
		g := inventory.Group{Name: "servers", Site: "local"}
		for _, s := range strings.Split(c.servers, ",") {
			if s = strings.TrimSpace(s); s != "" {
				g.Servers = append(g.Servers, s)
			}
		}
		if len(g.Servers) == 0 {
			return g, &usageError{"-servers names no server"}
		}
		return g, nil
	case c.topology != "":
		topo, err := inventory.LoadTopology(c.topology)
		if err != nil {
			return inventory.Group{}, err
		}
		gs, err := topo.Resolve(ctx, inventory.Lookup{Scope: inventory.ScopeLocal, Host: c.host})
		if err != nil {
			return inventory.Group{}, err
		}
		return gs[0], nil
	}
	return inventory.Group{}, &usageError{"give -topology FILE or -servers ADDR,…"}
}

func populate(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	if c.dir == "" && c.commands == "" {
		return &usageError{"nothing to publish: give -dir and/or -commands"}
	}
	if c.host == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("find this host's name: %w (give -host)", err)
		}
		c.host = h
	}
	g, err := c.group(ctx)
	if err != nil {
		return err
	}
	objs, problems, err := inventory.Collect(ctx, &inventory.CollectParams{Dir: c.dir, Commands: c.commands, MaxObjectSize: c.maxSize})
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "sysops-populate: skipped: %v\n", p)
	}
	opts := &redis.Options{DialTimeout: 2 * time.Second, MaxRetries: 1, DialerRetries: 1}
	pool := inventory.NewPool(redisshard.Connector(opts, &redisshard.Options{Namespace: c.namespace}), 0)
	defer pool.Close()
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{
		TTL: c.ttl, WriteTimeout: c.timeout, MinReplicas: c.minReplicas, MaxObjectSize: c.maxSize,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return &usageError{err.Error()}
	}
	rep, perr := pub.Publish(ctx, &inventory.PublishParams{Group: g, Host: c.host, Objects: objs})
	if rep != nil {
		printReport(stdout, rep, c.jsonOut)
	}
	return perr
}
