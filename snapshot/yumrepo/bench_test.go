package yumrepo_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// benchEntries is the size of the primary.xml the Newest benchmarks read.
const benchEntries = 50000

// bigRepo writes, once per test binary, the metadata of a repository of
// 50,000 packages (12,500 names × 2 archs × 2 builds, EVRs with epochs,
// '~' and '^') as yumrepotest lays entries out (about 900 bytes each, a
// little smaller than createrepo_c's for packages with many
// dependencies), primary.xml gzip-compressed. It returns the directory.
var bigRepo = sync.OnceValues(func() (string, error) {
	dir, err := benchTempDir()
	if err != nil {
		return "", err
	}
	elems := make([]string, 0, benchEntries)
	archs := []string{"x86_64", "noarch"}
	for i := range benchEntries {
		name := fmt.Sprintf("pkg-%05d-libs", i/4)
		arch := archs[i%2]
		var evr string
		switch (i / 2) % 2 {
		case 0:
			evr = fmt.Sprintf("%d.%d.%d~rc%d-%d.el9", i%5, i%11, i%101, i%3, i%7)
		default:
			evr = fmt.Sprintf("%d:%d.%d^git%d-%d.el9_4", i%2, i%5, i%11, i%13, i%9)
		}
		e, err := yumrepotest.PackageXML(yumrepotest.Package{
			Name: name, Arch: arch, EVR: evr, Content: []byte(name + evr),
			BuildTime: 1700000000 + int64(i), FileTime: 1700000000,
		})
		if err != nil {
			return "", err
		}
		elems = append(elems, e)
	}
	primary := yumrepotest.PrimaryXML(elems...)
	benchPrimarySize = int64(len(primary))
	_, err = yumrepotest.WriteMetadata(context.Background(), dir, yumrepotest.Metadata{
		Primary: primary, OpenChecksum: true,
	})
	return dir, err
})

// benchPrimarySize is the size of bigRepo's primary.xml, uncompressed.
var benchPrimarySize int64

// benchDirs are removed by TestMain.
var benchDirs []string

func benchTempDir() (string, error) {
	dir, err := os.MkdirTemp("", "yumrepo-bench-")
	if err == nil {
		benchDirs = append(benchDirs, dir)
	}
	return dir, err
}

// peakHeap samples the live heap (runtime/metrics, heap objects) every
// 200µs while it runs; stop returns the highest value seen.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkOpenNewest50k is the whole choice of the newest packages from
// a local repository whose primary.xml lists 50,000 entries: read
// repomd.xml, stream, verify, decompress (gzip) and parse primary.xml,
// then Newest. It reports the peak live heap during the runs
// (peak-heap-MB, sampled) besides B/op.
func BenchmarkOpenNewest50k(b *testing.B) {
	dir, err := bigRepo()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(benchPrimarySize) // MB/s of uncompressed primary.xml
	runtime.GC()
	stop := peakHeap()
	b.ReportAllocs()
	var kept int
	report := testenv.BenchTime(b)
	for b.Loop() {
		repo, err := yumrepo.Open(ctx, dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		if repo.Len() != benchEntries {
			b.Fatalf("%d packages, want %d", repo.Len(), benchEntries)
		}
		kept = len(yumrepo.Newest(repo.Packages()))
	}
	peak := stop()
	if kept != benchEntries/2 {
		b.Fatalf("Newest kept %d, want %d", kept, benchEntries/2)
	}
	report()
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkNewest50k is Newest alone over 50,000 parsed packages.
func BenchmarkNewest50k(b *testing.B) {
	dir, err := bigRepo()
	if err != nil {
		b.Fatal(err)
	}
	repo, err := yumrepo.Open(context.Background(), dir, nil)
	if err != nil {
		b.Fatal(err)
	}
	pkgs := repo.Packages()
	b.ReportAllocs()
	report := testenv.BenchTime(b)
	for b.Loop() {
		if n := len(yumrepo.Newest(pkgs)); n != benchEntries/2 {
			b.Fatalf("Newest kept %d", n)
		}
	}
	report()
}
