package snapshot_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// benchPackages is the size of the manifest the seal benchmarks use; the
// target is under 20 ms for each of Seal and Verify.
const benchPackages = 20000

// bigManifest returns a manifest of n packages with realistic names,
// EVRs, sizes, digests and locations, in no particular order.
func bigManifest(n int) *snapshot.Manifest {
	m := &snapshot.Manifest{
		ID: "rhel9-2026.11", OSRelease: "rhel-9.4", Arch: "x86_64", Parent: "rhel9-2026.10",
		CreatedAt: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Metadata:  map[string]string{"built-by": "bench", "source": "https://mirror.example/rhel9"},
		BootFiles: []snapshot.BootFile{
			{Name: "vmlinuz", Size: 13 << 20, Digest: snapshot.DigestOf([]byte("vmlinuz"))},
			{Name: "initrd.img", Size: 90 << 20, Digest: snapshot.DigestOf([]byte("initrd"))},
		},
	}
	archs := []string{"x86_64", "noarch", "i686"}
	for i := range n {
		name := fmt.Sprintf("package-%05d-libs", (i*7919)%n) // scattered order
		arch := archs[i%len(archs)]
		evr := rpmver.EVR{Epoch: i % 3, Version: fmt.Sprintf("%d.%d.%d", i%7, i%13, i%101), Release: fmt.Sprintf("%d.el9_4", i%17)}
		m.Packages = append(m.Packages, snapshot.PackageEntry{
			Name: name, Arch: arch, EVR: evr,
			Size:     int64(10000 + i*37%5000000),
			Digest:   snapshot.DigestOf([]byte(name + evr.String() + arch)),
			Location: "Packages/" + name[:1] + "/" + name + "-" + evr.Version + "-" + evr.Release + "." + arch + ".rpm",
		})
	}
	return m
}

// BenchmarkSeal20k seals a manifest of 20,000 packages: validation, the
// canonical encoding (sorting included) and HMAC-SHA256.
func BenchmarkSeal20k(b *testing.B) {
	keys := newRing(b)
	m := bigManifest(benchPackages)
	b.ReportAllocs()
	report := testenv.BenchTime(b)
	for b.Loop() {
		if _, err := keys.Seal(m); err != nil {
			b.Fatal(err)
		}
	}
	report()
}

// BenchmarkVerifySeal20k verifies the seal of a manifest of 20,000
// packages: the same work as sealing plus a constant-time comparison.
func BenchmarkVerifySeal20k(b *testing.B) {
	keys := newRing(b)
	m := bigManifest(benchPackages)
	seal, err := keys.Seal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	report := testenv.BenchTime(b)
	for b.Loop() {
		if err := keys.Verify(m, seal); err != nil {
			b.Fatal(err)
		}
	}
	report()
}

// BenchmarkDecodeVerify20k decodes a stored manifest of 20,000 packages
// from its canonical encoding and verifies its seal: what a reader of the
// store does before trusting a snapshot.
func BenchmarkDecodeVerify20k(b *testing.B) {
	keys := newRing(b)
	m := bigManifest(benchPackages)
	seal, err := keys.Seal(m)
	if err != nil {
		b.Fatal(err)
	}
	data, err := m.Canonical()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	report := testenv.BenchTime(b)
	for b.Loop() {
		got, err := snapshot.DecodeManifest(data)
		if err != nil {
			b.Fatal(err)
		}
		if err := keys.Verify(got, seal); err != nil {
			b.Fatal(err)
		}
	}
	report()
}
