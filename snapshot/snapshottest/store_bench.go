package snapshottest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
)

// BenchManifestPackages is the size of the manifest BenchmarkSealSnapshot
// records: a large distribution's worth of packages.
const BenchManifestPackages = 20_000

// benchBlobs returns n distinct made-up blobs.
func benchBlobs(n, seed int) []snapshot.BlobInfo {
	out := make([]snapshot.BlobInfo, n)
	for i := range out {
		out[i] = blob(seed*1_000_000+i, 1000+i)
	}
	return out
}

// BenchmarkSealSnapshot measures recording one snapshot: CreateSnapshot,
// then SealSnapshot with a canonical manifest of BenchManifestPackages
// packages (validated and decoded by the store, its blobs recorded). The
// manifest is encoded and sealed outside the timed part.
func BenchmarkSealSnapshot(b *testing.B, newStore NewStore) {
	st := newStore(b)
	ctx := context.Background()
	ring := TestKeyRing()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	blobs := benchBlobs(BenchManifestPackages, 1)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := fmt.Sprintf("bench-%d", i)
		m := TestManifest(id, "rhel-9", "", at, blobs...)
		c, err := m.Canonical()
		if err != nil {
			b.Fatal(err)
		}
		seal, err := ring.Seal(m)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "bench", At: at}); err != nil {
			b.Fatal(err)
		}
		if _, err := st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: seal, By: "bench", At: at}); err != nil {
			b.Fatal(err)
		}
	}
}

// Sizes of the catalogue BenchmarkPlan plans over: BenchPlanSnapshots
// released snapshots of BenchPlanPackages packages each, drawn from
// BenchPlanBlobs blobs, in one OS release.
const (
	BenchPlanSnapshots = 50
	BenchPlanPackages  = 2_000
	BenchPlanBlobs     = 20_000
)

// BenchmarkPlan measures snapshot.Plan over a catalogue of
// BenchPlanSnapshots snapshots keeping the 10 newest: listing, the
// referenced blobs query, and a walk of a memblob store of BenchPlanBlobs
// blobs.
func BenchmarkPlan(b *testing.B, newStore NewStore) {
	st := newStore(b)
	ctx := context.Background()
	ring := TestKeyRing()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bs := memblob.New(&memblob.Options{Now: func() time.Time { return at }})
	all := make([]snapshot.BlobInfo, BenchPlanBlobs)
	for i := range all {
		data, d := RandomBlob(uint64(i), 64)
		bi, err := bs.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		all[i] = bi
	}
	for i := range BenchPlanSnapshots {
		id := fmt.Sprintf("plan-%03d", i)
		first := i * (BenchPlanBlobs - BenchPlanPackages) / BenchPlanSnapshots
		m := TestManifest(id, "rhel-9", "", at, all[first:first+BenchPlanPackages]...)
		c, _ := m.Canonical()
		seal, _ := ring.Seal(m)
		created := at.Add(time.Duration(i) * time.Hour)
		steps := []func() error{
			func() error {
				_, err := st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "bench", At: created})
				return err
			},
			func() error {
				_, err := st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: seal, By: "bench", At: created})
				return err
			},
		}
		for _, to := range [][2]snapshot.State{{snapshot.StateSealed, snapshot.StateValidated}, {snapshot.StateValidated, snapshot.StateReleased}} {
			steps = append(steps, func() error {
				_, err := st.SetSnapshotState(ctx, snapshot.StateChange{ID: id, From: to[0], To: to[1], By: "bench", At: created})
				return err
			})
		}
		for _, step := range steps {
			if err := step(); err != nil {
				b.Fatal(err)
			}
		}
	}
	p := snapshot.PurgeParams{Store: st, Blobs: bs, Policy: snapshot.RetentionPolicy{KeepReleased: 10},
		Now: func() time.Time { return at.Add(1000 * time.Hour) }}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pl, err := snapshot.Plan(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		if len(pl.Deprecate) != BenchPlanSnapshots-10 {
			b.Fatalf("plan deprecates %d snapshots, want %d", len(pl.Deprecate), BenchPlanSnapshots-10)
		}
	}
}
