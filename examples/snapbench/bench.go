package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// config is what the flags set.
type config struct {
	Size    int64 // total bytes
	Blobs   int
	Rounds  int
	Dir     string
	OpenSSL string
}

func (c config) validate() error {
	switch {
	case c.Blobs < 2:
		return fmt.Errorf("-blobs %d: need at least 2 (openssl×2 splits them)", c.Blobs)
	case c.Size < int64(c.Blobs):
		return fmt.Errorf("-size %d: less than a byte a blob", c.Size)
	case c.Rounds < 1:
		return fmt.Errorf("-rounds %d: need at least 1", c.Rounds)
	}
	return nil
}

// byteSize is a flag.Value of a size with an optional unit suffix.
type byteSize int64

func (s *byteSize) String() string { return strconv.FormatInt(int64(*s), 10) }

func (s *byteSize) Set(v string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("bad size %q", v)
	}
	*s = byteSize(n * mult)
	return nil
}

// bench is a filled store and a snapshot that references all its blobs.
type bench struct {
	cfg     config
	tmp     string // removed by close
	store   *fsblob.Store
	keys    *snapshot.KeyRing
	snap    snapshot.Sealed
	files   []string // blob files, in the snapshot's order
	digests map[string]snapshot.Digest
	bytes   int64
}

// newBench fills a new fsblob store with cfg.Blobs blobs of random content
// and seals a snapshot over them. Progress goes to log.
func newBench(ctx context.Context, cfg config, log io.Writer) (*bench, error) {
	tmp, err := os.MkdirTemp(cfg.Dir, "snapbench-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, tmp: tmp, digests: make(map[string]snapshot.Digest, cfg.Blobs)}
	if err := b.fill(ctx, log); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() { _ = os.RemoveAll(b.tmp) }

func (b *bench) fill(ctx context.Context, log io.Writer) error {
	var err error
	if b.store, err = fsblob.New(filepath.Join(b.tmp, "blobs"), nil); err != nil {
		return err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if b.keys, err = snapshot.NewKeyRing("bench", map[string][]byte{"bench": key}); err != nil {
		return err
	}
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return err
	}
	src := mrand.NewChaCha8(seed)
	m := snapshot.Manifest{ID: "bench", OSRelease: "bench-1", Arch: "x86_64", CreatedAt: time.Now()}
	start := time.Now()
	per := b.cfg.Size / int64(b.cfg.Blobs)
	buf := make([]byte, per+1)
	for i := range b.cfg.Blobs {
		n := per
		if int64(i) < b.cfg.Size%int64(b.cfg.Blobs) {
			n++ // spread the remainder
		}
		data := buf[:n]
		_, _ = src.Read(data)
		d := snapshot.DigestOf(data)
		if _, err := b.store.Put(ctx, d, n, bytes.NewReader(data)); err != nil {
			return fmt.Errorf("fill the store: %w", err)
		}
		name := fmt.Sprintf("bench-%05d", i)
		m.Packages = append(m.Packages, snapshot.PackageEntry{
			Name: name, Arch: "x86_64", EVR: rpmver.EVR{Version: "1.0", Release: "1"},
			Size: n, Digest: d, Location: "Packages/" + name + "-1.0-1.x86_64.rpm",
		})
		f := filepath.Join(b.store.Dir(), "sha256", d.Hex()[:2], d.Hex()[2:])
		b.files = append(b.files, f)
		b.digests[f] = d
		b.bytes += n
	}
	if b.snap, err = b.keys.SealManifest(&m); err != nil {
		return err
	}
	fmt.Fprintf(log, "snapbench: wrote %d blobs, %s, into %s in %s\n",
		b.cfg.Blobs, human(b.bytes), b.store.Dir(), time.Since(start).Round(time.Millisecond))
	// Warm the page cache, so every method reads from memory.
	for _, f := range b.files {
		if _, _, err := hashFile(f, make([]byte, 1<<20)); err != nil {
			return err
		}
	}
	return nil
}

// A method hashes every blob once and returns the CPU time it took (user
// plus system, of the processes that did the work).
type method struct {
	name string
	run  func(ctx context.Context) (cpu time.Duration, err error)
}

func (b *bench) methods() []method {
	return []method{
		{"openssl×1", func(ctx context.Context) (time.Duration, error) { return b.openssl(ctx, 1) }},
		{"verify×1", func(ctx context.Context) (time.Duration, error) { return b.verify(ctx, 1) }},
		{"openssl×2", func(ctx context.Context) (time.Duration, error) { return b.openssl(ctx, 2) }},
		{"verify×2", func(ctx context.Context) (time.Duration, error) { return b.verify(ctx, 2) }},
		{"sha256×1", b.rawSHA256},
	}
}

// result is one method's measurements, a wall time and CPU time a round.
type result struct {
	name string
	wall []time.Duration
	cpu  []time.Duration
}

// measure runs every method once a round, in turn, for cfg.Rounds rounds.
func (b *bench) measure(ctx context.Context) ([]result, error) {
	ms := b.methods()
	res := make([]result, len(ms))
	for i, m := range ms {
		res[i].name = m.name
	}
	for range b.cfg.Rounds {
		for i, m := range ms {
			start := time.Now()
			cpu, err := m.run(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.name, err)
			}
			res[i].wall = append(res[i].wall, time.Since(start))
			res[i].cpu = append(res[i].cpu, cpu)
		}
	}
	return res, nil
}

// verify runs snapshot.Verify in full mode with the given concurrency.
func (b *bench) verify(ctx context.Context, workers int) (time.Duration, error) {
	before := selfCPU()
	rep, err := snapshot.Verify(ctx, snapshot.VerifyParams{
		Blobs: b.store, Keys: b.keys, Snapshots: []snapshot.Sealed{b.snap}, Full: true, Concurrency: workers,
	})
	cpu := selfCPU() - before
	if err != nil {
		return 0, err
	}
	if !rep.OK() || rep.Checked != len(b.files) || rep.Bytes != b.bytes {
		return 0, fmt.Errorf("verify checked %d blobs, %d bytes, problems %v", rep.Checked, rep.Bytes, rep.Problems)
	}
	return cpu, nil
}

// rawSHA256 hashes every file with crypto/sha256 in one goroutine.
func (b *bench) rawSHA256(ctx context.Context) (time.Duration, error) {
	before := selfCPU()
	buf := make([]byte, 1<<20)
	for _, f := range b.files {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		d, _, err := hashFile(f, buf)
		if err != nil {
			return 0, err
		}
		if d != b.digests[f] {
			return 0, fmt.Errorf("%s hashes to %s", f, d)
		}
	}
	return selfCPU() - before, nil
}

func hashFile(name string, buf []byte) (snapshot.Digest, int64, error) {
	f, err := os.Open(name)
	if err != nil {
		return snapshot.Digest{}, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, buf)
	if err != nil {
		return snapshot.Digest{}, 0, err
	}
	var d snapshot.Digest
	h.Sum(d[:0])
	return d, n, nil
}

// openssl runs procs `openssl dgst -sha256 -r` processes at once, each over
// its share of the files, checks every digest they print, and returns
// their CPU time.
func (b *bench) openssl(ctx context.Context, procs int) (time.Duration, error) {
	type out struct {
		cpu time.Duration
		err error
	}
	done := make(chan out, procs)
	for p := range procs {
		files := b.files[p*len(b.files)/procs : (p+1)*len(b.files)/procs]
		go func() {
			cpu, err := b.opensslOnce(ctx, files)
			done <- out{cpu, err}
		}()
	}
	var cpu time.Duration
	var errs []error
	for range procs {
		o := <-done
		cpu += o.cpu
		errs = append(errs, o.err)
	}
	return cpu, errors.Join(errs...)
}

func (b *bench) opensslOnce(ctx context.Context, files []string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, b.cfg.OpenSSL, append([]string{"dgst", "-sha256", "-r"}, files...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s dgst: %w: %s", b.cfg.OpenSSL, err, strings.TrimSpace(stderr.String()))
	}
	// Lines are "<hex> *<file>".
	n := 0
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		hexSum, file, ok := strings.Cut(sc.Text(), " *")
		d, err := snapshot.ParseDigest(hexSum)
		if !ok || err != nil || b.digests[file] != d {
			return 0, fmt.Errorf("openssl printed %q, not the digest of a blob", sc.Text())
		}
		n++
	}
	if n != len(files) {
		return 0, fmt.Errorf("openssl hashed %d of %d files", n, len(files))
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// selfCPU returns this process's user plus system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report prints the figures.
func report(w io.Writer, b *bench, res []result) {
	fmt.Fprintf(w, "snapbench: full verification of %d blobs, %s (%d bytes), fsblob in %s, page cache warm, %d rounds\n",
		b.cfg.Blobs, human(b.bytes), b.bytes, b.tmp, b.cfg.Rounds)
	fmt.Fprintf(w, "  %-10s %-28s %8s %13s %11s\n", "method", "GB/s each round", "median", "GB per CPU-s", "cores used")
	med := make(map[string]float64)
	perCore := make(map[string]float64)
	for _, r := range res {
		var rates []string
		var gbs []float64
		for _, d := range r.wall {
			g := gb(b.bytes, d)
			gbs = append(gbs, g)
			rates = append(rates, fmt.Sprintf("%.2f", g))
		}
		med[r.name] = median(gbs)
		var perCPU, cores []float64
		for i, c := range r.cpu {
			perCPU = append(perCPU, gb(b.bytes, c))
			cores = append(cores, c.Seconds()/r.wall[i].Seconds())
		}
		perCore[r.name] = median(perCPU)
		fmt.Fprintf(w, "  %-10s %-28s %8.2f %13.2f %11.2f\n", r.name, strings.Join(rates, " "), med[r.name], perCore[r.name], median(cores))
	}
	one, two, ossl := med["verify×1"]/med["openssl×1"], med["verify×2"]/med["openssl×1"], med["openssl×2"]/med["openssl×1"]
	fmt.Fprintf(w, "  verify×1 / openssl×1 = %.2f (target ≥ %.1f: %s)\n", one, targetOneCore, yes(one >= targetOneCore))
	fmt.Fprintf(w, "  verify×2 / openssl×1 = %.2f (target close to 2, ≥ %.1f: %s); openssl×2 / openssl×1 = %.2f\n",
		two, targetTwoCores, yes(two >= targetTwoCores), ossl)
	fmt.Fprintf(w, "  per CPU-second (unaffected by other work on the cores): verify×1 / openssl×1 = %.2f, verify×2 / openssl×1 = %.2f, so 2 free cores would give %.2f× openssl×1\n",
		perCore["verify×1"]/perCore["openssl×1"], perCore["verify×2"]/perCore["openssl×1"], 2*perCore["verify×2"]/perCore["openssl×1"])
	fmt.Fprintf(w, "  verify×1 / sha256×1  = %.2f wall, %.2f per CPU-second (Verify's overhead over the bare hash)\n",
		med["verify×1"]/med["sha256×1"], perCore["verify×1"]/perCore["sha256×1"])
}

func gb(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / 1e9 / d.Seconds()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}

func yes(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}
