// Command snapbench measures full verification of an OS snapshot
// (snapshot.Verify with Full set: every blob re-read and re-hashed with
// SHA-256) against OpenSSL hashing the same files, in the same run, and
// prints the figures.
//
// It fills an fsblob store in a temporary directory with -blobs blobs of
// random content, -size bytes in all (2 GiB in 2,000 blobs by default),
// seals a snapshot that references every blob as a package, reads every
// file once so the page cache is warm, then runs -rounds rounds of, in
// turn:
//
//   - openssl×1: one `openssl dgst -sha256 -r FILE…` process over every
//     blob file (one core), its digests checked against the blobs';
//   - openssl×2: two such processes at once, each over half of the files;
//   - verify×1 and verify×2: snapshot.Verify, Full, with Concurrency 1 and
//     2, through the fsblob store; each must report no problem;
//   - sha256×1: Go's crypto/sha256 over the same files in one goroutine,
//     reading 1 MiB at a time, without snapshot.Verify around it (to tell
//     the hash's speed from Verify's overhead).
//
// For each it prints GB/s (10^9 bytes a second of wall time) in every
// round, the median, and GB per CPU-second (the bytes over the user and
// system CPU time the hashing processes, or this process, used), which
// stays meaningful when other work shares the cores, and the cores used
// (CPU time over wall time). Then the ratios the targets are stated in:
// verify×1 against openssl×1 (target ≥ 0.9) and verify×2 against
// openssl×1 (target close to 2), by wall time and by CPU time.
//
// Run it from the repository root:
//
//	go run ./examples/snapbench                       # 2 GiB in 2,000 blobs, 3 rounds
//	go run ./examples/snapbench -size 256MiB -blobs 256 -rounds 5
//	go run ./examples/snapbench -dir /var/tmp/bench   # store on another file system
//	go run ./examples/snapbench -cpuprofile cpu.out   # profile the measurements
//
// BenchmarkVerifyFull (bench_test.go) runs the same comparison, smaller,
// under go test -bench.
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
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Targets the figures are reported against.
const (
	targetOneCore  = 0.9 // verify×1 / openssl×1
	targetTwoCores = 1.8 // verify×2 / openssl×1: "close to 2×"
)

// run is snapbench: it parses args, runs the bench, prints the figures to
// stdout and returns the exit status (2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var cfg config
	size := byteSize(2 << 30)
	fs := flag.NewFlagSet("snapbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&size, "size", "total bytes of the blobs (suffixes KiB, MiB, GiB, KB, MB, GB)")
	fs.IntVar(&cfg.Blobs, "blobs", 2000, "number of blobs")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "rounds of measurements")
	fs.StringVar(&cfg.Dir, "dir", "", "`directory` to make the temporary store in (default: the system's temp dir)")
	fs.StringVar(&cfg.OpenSSL, "openssl", "openssl", "the openssl `program`")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measurements to `file`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "snapbench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg.Size = int64(size)
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "snapbench:", err)
		return 2
	}
	b, err := newBench(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "snapbench:", err)
		return 1
	}
	defer b.close()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "snapbench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "snapbench:", err)
			return 1
		}
	}
	res, err := b.measure(ctx)
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		fmt.Fprintln(stderr, "snapbench:", err)
		return 1
	}
	report(stdout, b, res)
	return 0
}
