// Command sysops-bench measures the inventory cache on the reference data
// set of issue 4: 24,000 hosts, each with sysctl -a (about 1,300 lines),
// uname -a, an 800-line package list (rpm-qa) and /etc/sysctl.conf, every
// host replicated to four redis-server on loopback. It
//
//  1. starts four redis-server in a temporary directory (or uses -servers,
//     whose databases 0 and 1 it flushes with -flush),
//  2. generates every host's objects (contents, MD5, counts: each host's
//     own collection work), then publishes them to the four servers from
//     this one process (inventory.Publisher.PublishMany in batches of 50
//     hosts, MinReplicas 4; -publish-batch 1 publishes host by host),
//     timed,
//  3. writes the same hosts in sysops-api's format to database 1 (bz2
//     through the bzip2 command; -legacy-variants distinct outputs per
//     object, reused across hosts, to keep the load short: reading costs the
//     same whatever the variety),
//  4. runs the sysops-extract binary (built with go build) as a separate
//     process for each question, -runs times, and reports wall time and
//     peak RSS (getrusage of the child): the grep --count question on our
//     format and on the legacy one, and the key listing of each.
//
// Run it from the repository root:
//
//	go run ./examples/sysops-bench                  # 24,000 hosts
//	go run ./examples/sysops-bench -hosts 2000      # a quick look
//
// Targets (issue 4): grep --count ≤ 1.5 s and ≤ 300 MB on our format, key
// listing ≤ 0.3 s, publishing ≤ 15 s. sysops-api itself took 31 s and
// 1.2 GB for the grep question and 0.67 s for the listing on this data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	hosts, runs, legacyRuns int
	concurrency, variants   int
	publishBatch            int
	servers, extractBin     string
	flush, legacy           bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c config
	fs := flag.NewFlagSet("sysops-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&c.hosts, "hosts", 24000, "hosts in the data set")
	fs.IntVar(&c.runs, "runs", 3, "runs of each extraction on the fleetkit format")
	fs.IntVar(&c.legacyRuns, "legacy-runs", 1, "runs of each extraction on the legacy format")
	fs.IntVar(&c.concurrency, "concurrency", 4, "batches of hosts published at once")
	fs.IntVar(&c.publishBatch, "publish-batch", 50, "hosts in one Publisher.PublishMany (1: Publish host by host, as each host does)")
	fs.IntVar(&c.variants, "legacy-variants", 200, "distinct outputs per object in the legacy data (each compressed by the bzip2 command)")
	fs.StringVar(&c.servers, "servers", "", "comma-separated redis-server `addresses` to use instead of starting four")
	fs.BoolVar(&c.flush, "flush", false, "with -servers: flush their databases 0 and 1 first")
	fs.BoolVar(&c.legacy, "legacy", true, "also load and measure the sysops-api format")
	fs.StringVar(&c.extractBin, "extract-bin", "", "sysops-extract `binary` to run (default: go build ./examples/sysops-extract)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if c.hosts < 1 || c.runs < 1 || c.legacyRuns < 1 || c.concurrency < 1 || c.variants < 1 || c.publishBatch < 1 {
		fmt.Fprintln(stderr, "sysops-bench: -hosts, -runs, -legacy-runs, -concurrency, -publish-batch and -legacy-variants must be positive")
		return 2
	}
	if err := bench(ctx, &c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "sysops-bench: %v\n", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	tmp, err := os.MkdirTemp("", "sysops-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var addrs []string
	if c.servers != "" {
		addrs = strings.Split(c.servers, ",")
		if err := prepare(ctx, addrs, c.flush); err != nil {
			return err
		}
	} else {
		stopServers, a, err := startServers(ctx, tmp, 4)
		defer stopServers()
		if err != nil {
			return err
		}
		addrs = a
	}
	bin := c.extractBin
	if bin == "" {
		bin = filepath.Join(tmp, "sysops-extract")
		fmt.Fprintln(stderr, "building sysops-extract …")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./examples/sysops-extract")
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build ./examples/sysops-extract (run from the repository root, or give -extract-bin): %w", err)
		}
	}

	fmt.Fprintf(stderr, "publishing %d hosts to %d servers …\n", c.hosts, len(addrs))
	pubTime, sizes, err := publishAll(ctx, c, addrs)
	if err != nil {
		return err
	}
	var legacyLoad time.Duration
	if c.legacy {
		fmt.Fprintf(stderr, "writing the legacy format (%d variants per object) …\n", c.variants)
		if legacyLoad, err = loadLegacy(ctx, c, addrs); err != nil {
			return err
		}
	}
	mem, err := usedMemory(ctx, addrs[0])
	if err != nil {
		return err
	}

	servers := strings.Join(addrs, ",")
	grep := []string{"-servers", servers, "-search", "sysctl-a", "-grep", "net.core.netdev_budget", "-count", "-progress", "never"}
	list := []string{"-servers", servers, "-search", "sysctl-a", "-list-files", "-progress", "never"}
	type question struct {
		name string
		args []string
		want string
		runs int
	}
	// The answer, as sysops-extract orders it (most common first, ties by
	// line); grep also matches net.core.netdev_budget_usecs, on every host.
	want600 := c.hosts / 1000
	answer := []inventory.LineCount{
		{Line: "net.core.netdev_budget_usecs = 8000", Count: c.hosts},
		{Line: "net.core.netdev_budget = 300", Count: c.hosts - want600},
		{Line: "net.core.netdev_budget = 600", Count: want600},
	}
	sort.SliceStable(answer, func(i, j int) bool {
		if answer[i].Count != answer[j].Count {
			return answer[i].Count > answer[j].Count
		}
		return answer[i].Line < answer[j].Line
	})
	wantCount := ""
	for _, a := range answer {
		if a.Count > 0 {
			wantCount += fmt.Sprintf("%7d %s\n", a.Count, a.Line)
		}
	}
	qs := []question{
		{"grep --count, fleetkit format", grep, wantCount, c.runs},
		{"list keys, fleetkit format", list, "", c.runs},
	}
	if c.legacy {
		qs = append(qs,
			question{"grep --count, sysops-api format (--legacy)", append(append([]string{}, grep...), "-legacy"), wantCount, c.legacyRuns},
			question{"list keys, sysops-api format (--legacy)", append(append([]string{}, list...), "-legacy"), "", c.runs})
	}
	type figure struct {
		runs      int
		name      string
		best, med time.Duration
		rssMB     float64
	}
	var figs []figure
	for _, q := range qs {
		fmt.Fprintf(stderr, "measuring %s …\n", q.name)
		var walls []time.Duration
		var rss int64
		for range q.runs {
			out, wall, maxrss, err := runExtract(ctx, bin, q.args)
			if err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			if q.want != "" && out != q.want {
				return fmt.Errorf("%s: wrong answer:\n%s\nwant:\n%s", q.name, out, q.want)
			}
			if q.want == "" {
				if n := strings.Count(out, "\n"); n != c.hosts {
					return fmt.Errorf("%s: listed %d keys, want %d", q.name, n, c.hosts)
				}
			}
			walls = append(walls, wall)
			rss = max(rss, maxrss)
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		figs = append(figs, figure{q.runs, q.name, walls[0], walls[len(walls)/2], float64(rss) / 1024})
	}

	fmt.Fprintf(stdout, "sysops-bench: %d hosts × 4 objects, %d redis-server (every host on all), %d CPUs, %s\n", c.hosts, len(addrs), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(stdout, "data: %.0f MB raw per replica (sysctl-a %.1f KB, rpm-qa %.1f KB per host); stored %.0f MB of records per replica (ratio %.1f); redis used_memory %.0f MB per server (both formats)\n",
		float64(sizes.raw)/1e6, float64(sizes.sysctl)/float64(c.hosts)/1e3, float64(sizes.rpm)/float64(c.hosts)/1e3, float64(sizes.encoded)/1e6, float64(sizes.raw)/float64(sizes.encoded), float64(mem)/1e6)
	fmt.Fprintf(stdout, "publish, fleetkit format, %d hosts to 4 servers from one process (PublishMany, %d hosts a batch, %d batches at once): %.2f s (target ≤ 15 s); generating the objects beforehand (contents, MD5, counts): %.2f s\n", c.hosts, c.publishBatch, c.concurrency, pubTime.Seconds(), sizes.generate.Seconds())
	if c.legacy {
		fmt.Fprintf(stdout, "load, sysops-api format (not a target): %.2f s\n", legacyLoad.Seconds())
	}
	fmt.Fprintf(stdout, "%-46s %5s %10s %10s %12s\n", "question (sysops-extract, separate process)", "runs", "best", "median", "peak RSS")
	for _, f := range figs {
		fmt.Fprintf(stdout, "%-46s %5d %9.3fs %9.3fs %9.0f MB\n", f.name, f.runs, f.best.Seconds(), f.med.Seconds(), f.rssMB)
	}
	fmt.Fprintln(stdout, "targets: grep --count ≤ 1.5 s and ≤ 300 MB (fleetkit format); list keys ≤ 0.3 s; sysops-api: 31 s, 1.2 GB, listing 0.67 s")
	return nil
}

// runExtract runs the extract binary and returns its output, wall time
// and peak RSS in KB. The peak is the child's VmHWM, read from /proc every
// 2 ms while it runs: getrusage would report this (large) process's RSS,
// which the child inherits for an instant when it is forked.
func runExtract(ctx context.Context, bin string, args []string) (string, time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", 0, 0, err
	}
	done := make(chan struct{})
	var peak atomic.Int64
	go func() {
		status := fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if b, err := os.ReadFile(status); err == nil {
				for _, l := range strings.Split(string(b), "\n") {
					if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
						if kb > peak.Load() {
							peak.Store(kb)
						}
					}
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	err := cmd.Wait()
	wall := time.Since(start)
	close(done)
	if err != nil {
		return "", 0, 0, fmt.Errorf("%v: %s", err, errb.String())
	}
	if errb.Len() > 0 {
		return "", 0, 0, fmt.Errorf("problems reported: %s", errb.String())
	}
	return out.String(), wall, peak.Load(), nil
}

type dataSizes struct {
	raw, encoded, sysctl, rpm int64
	generate                  time.Duration
}

// publishAll generates every host's objects (on all cores), then publishes
// them in batches of publishBatch hosts, c.concurrency batches at a time.
// Only the publishing is timed: generating stands for each host's own
// collection.
func publishAll(ctx context.Context, c *config, addrs []string) (time.Duration, dataSizes, error) {
	var sizes dataSizes
	now := time.Now().UTC()
	all := make([][]inventory.Object, c.hosts)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= c.hosts {
					return
				}
				all[i] = hostObjects(i, now)
			}
		}()
	}
	wg.Wait()
	sizes.generate = time.Since(start)
	for _, objs := range all {
		for _, o := range objs {
			sizes.raw += int64(len(o.Contents))
			switch o.Name {
			case "sysctl-a":
				sizes.sysctl += int64(len(o.Contents))
			case "rpm-qa":
				sizes.rpm += int64(len(o.Contents))
			}
		}
	}

	pool := inventory.NewPool(redisshard.Connector(&redis.Options{PoolSize: c.concurrency, WriteTimeout: time.Minute, ReadTimeout: time.Minute}, nil), 0)
	defer pool.Close()
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{MinReplicas: len(addrs), WriteTimeout: time.Minute})
	if err != nil {
		return 0, sizes, err
	}
	g := inventory.Group{Name: "core1", Site: "dc1", Servers: addrs}
	var enc atomic.Int64
	errs := make(chan error, c.concurrency)
	next.Store(0)
	start = time.Now()
	for range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(int64(c.publishBatch)) - int64(c.publishBatch))
				if i >= c.hosts || ctx.Err() != nil {
					return
				}
				var ps []*inventory.PublishParams
				for j := i; j < min(i+c.publishBatch, c.hosts); j++ {
					ps = append(ps, &inventory.PublishParams{Group: g, Host: hostName(j), Objects: all[j]})
				}
				reps, err := pub.PublishMany(ctx, ps)
				if err != nil {
					errs <- err
					return
				}
				for _, rep := range reps {
					enc.Add(rep.Servers[0].Result.Bytes)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return 0, sizes, err
	}
	sizes.encoded = enc.Load()
	return el, sizes, ctx.Err()
}

// loadLegacy writes every host in sysops-api's layout to database 1 of
// every server: c.variants distinct records per object, compressed once.
func loadLegacy(ctx context.Context, c *config, addrs []string) (time.Duration, error) {
	start := time.Now()
	n := min(c.variants, c.hosts)
	variants := make([][][][]byte, n) // variant → object → five fields
	cache := map[string][]byte{}
	var mu sync.Mutex
	bz := func(b []byte) ([]byte, error) {
		mu.Lock()
		z, ok := cache[string(b)]
		mu.Unlock()
		if ok {
			return z, nil
		}
		z, err := inventorytest.Bzip2(b)
		if err != nil {
			return nil, err
		}
		if len(b) < 4096 {
			mu.Lock()
			cache[string(b)] = z
			mu.Unlock()
		}
		return z, nil
	}
	// Hosts whose sysctl differs (budget 600) get records of their own, so
	// that the legacy data answers the question as the fleetkit data does.
	var odd []int
	for i := range c.hosts {
		if budget(i) != 300 {
			odd = append(odd, i)
		}
	}
	ownIdx := map[int]int{}
	for _, i := range odd {
		ownIdx[i] = n + len(ownIdx)
	}
	jobs := make([]int, 0, n+len(odd)) // host index to build each record set from
	for v := range n {
		jobs = append(jobs, v*(c.hosts/n))
	}
	jobs = append(jobs, odd...)
	variants = append(variants, make([][][][]byte, len(odd))...)
	var next atomic.Int64
	errs := make(chan error, runtime.NumCPU())
	var wg sync.WaitGroup
	now := time.Now().UTC()
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				v := int(next.Add(1) - 1)
				if v >= len(jobs) || ctx.Err() != nil {
					return
				}
				objs := hostObjects(jobs[v], now)
				for _, o := range objs {
					texts := inventorytest.LegacyTexts(&o)
					fields := make([][]byte, len(texts))
					for j, t := range texts {
						z, err := bz(t)
						if err != nil {
							errs <- err
							return
						}
						fields[j] = z
					}
					variants[v] = append(variants[v], fields)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var werr error
	var once sync.Once
	for _, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := redis.NewClient(&redis.Options{Addr: addr, DB: inventory.LegacyDB})
			defer cl.Close()
			pipe := cl.Pipeline()
			for i := range c.hosts {
				v := variants[i%n]
				if k, ok := ownIdx[i]; ok {
					v = variants[k]
				}
				for j, name := range []string{"/etc/sysctl.conf", "rpm-qa", "sysctl-a", "uname-a"} {
					kind := inventory.KindCommand
					if j == 0 {
						kind = inventory.KindFile
					}
					k := inventory.LegacyKey(inventory.Key{Host: hostName(i), Name: name}, kind)
					f := v[j]
					pipe.RPush(ctx, k, f[0], f[1], f[2], f[3], f[4])
				}
				if pipe.Len() >= 400 || i == c.hosts-1 {
					if _, err := pipe.Exec(ctx); err != nil {
						once.Do(func() { werr = fmt.Errorf("write legacy records to %s: %w", addr, err) })
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), werr
}

func usedMemory(ctx context.Context, addr string) (int64, error) {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory of %s: %w", addr, err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory has no used_memory")
}

// prepare checks that the given servers are empty, or flushes them.
func prepare(ctx context.Context, addrs []string, flush bool) error {
	for _, a := range addrs {
		for _, db := range []int{0, inventory.LegacyDB} {
			c := redis.NewClient(&redis.Options{Addr: a, DB: db})
			n, err := c.DBSize(ctx).Result()
			if err == nil && n > 0 && flush {
				err = c.FlushDB(ctx).Err()
			} else if err == nil && n > 0 {
				err = fmt.Errorf("database %d holds %d keys: give -flush to empty it", db, n)
			}
			_ = c.Close()
			if err != nil {
				return fmt.Errorf("server %s: %w", a, err)
			}
		}
	}
	return nil
}

// startServers starts n redis-server on free loopback ports under dir.
func startServers(ctx context.Context, dir string, n int) (stop func(), addrs []string, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return func() {}, nil, fmt.Errorf("redis-server not installed (apt-get install redis-server), or give -servers: %w", err)
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}
	for i := range n {
		port, err := freePort()
		if err != nil {
			return stop, nil, err
		}
		d := filepath.Join(dir, fmt.Sprintf("redis%d", i+1))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return stop, nil, err
		}
		cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", d, "--logfile", filepath.Join(d, "redis.log"))
		if err := cmd.Start(); err != nil {
			return stop, nil, err
		}
		cmds = append(cmds, cmd)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: addr})
		ok := false
		for t := 0; t < 100 && !ok; t++ {
			ok = c.Ping(ctx).Err() == nil
			if !ok {
				time.Sleep(50 * time.Millisecond)
			}
		}
		_ = c.Close()
		if !ok {
			return stop, nil, fmt.Errorf("redis-server on %s did not start", addr)
		}
		addrs = append(addrs, addr)
	}
	return stop, addrs, nil
}
