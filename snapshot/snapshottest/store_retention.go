package snapshottest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
)

// blobClock is the settable clock of the blob store retention tests use.
type blobClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *blobClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *blobClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// retentionFixture adds a blob store to a store fixture.
type retentionFixture struct {
	*storeFixture
	blobs *memblob.Store
	clock *blobClock
}

func setupRetention(t *testing.T, newStore NewStore) *retentionFixture {
	f := setupStore(t, newStore)
	c := &blobClock{t: f.now}
	return &retentionFixture{storeFixture: f, blobs: memblob.New(&memblob.Options{Now: c.now}), clock: c}
}

// put stores a blob of n bytes made from seed, stamped with the fixture's
// current time, and returns its BlobInfo.
func (f *retentionFixture) put(t testing.TB, seed, n int) snapshot.BlobInfo {
	t.Helper()
	data, d := RandomBlob(uint64(seed), n)
	f.clock.set(f.now)
	bi, err := f.blobs.Put(f.ctx, d, int64(n), bytes.NewReader(data))
	require.NoError(t, err)
	return snapshot.BlobInfo{Digest: bi.Digest, Size: bi.Size}
}

func (f *retentionFixture) params(policy snapshot.RetentionPolicy, inUse ...string) snapshot.PurgeParams {
	return snapshot.PurgeParams{Store: f.st, Blobs: f.blobs, Policy: policy, Now: func() time.Time { return f.now },
		InUse: func(context.Context) (map[string]bool, error) {
			m := map[string]bool{}
			for _, id := range inUse {
				m[id] = true
			}
			return m, nil
		}}
}

func (f *retentionFixture) present(t testing.TB, b snapshot.BlobInfo) bool {
	t.Helper()
	_, err := f.blobs.Stat(f.ctx, b.Digest)
	if err != nil {
		require.ErrorIs(t, err, snapshot.ErrBlobNotFound)
		return false
	}
	return true
}

func ids(items []snapshot.PlanItem) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func digests(bs ...snapshot.BlobInfo) []snapshot.Digest {
	out := []snapshot.Digest{}
	for _, b := range bs {
		out = append(out, b.Digest)
	}
	sortDigests(out)
	return out
}

// testRetention: a catalogue with every case the policy distinguishes;
// Plan changes nothing, Purge does what Plan said, and a second Purge
// finds nothing to do.
func testRetention(t *testing.T, newStore NewStore) {
	f := setupRetention(t, newStore)
	const day = 24 * time.Hour
	policy := snapshot.RetentionPolicy{KeepReleased: 2, DeprecatedTTL: 7 * day, AbandonBuildsAfter: 2 * day, BlobGrace: time.Hour}

	shared := f.put(t, 1, 1000)   // referenced by a purged and a kept snapshot
	onlyOld := f.put(t, 2, 2000)  // only the expired deprecated snapshot's
	orphanOld := f.put(t, 3, 300) // nobody's, old
	onlyR3 := f.put(t, 4, 400)    // only the snapshot being deprecated's
	rest := f.put(t, 5, 500)

	f.create(t, "abandoned", "rhel-9")
	f.bring(t, "old-dep", "rhel-9", snapshot.StateDeprecated, shared, onlyOld)
	f.bring(t, "old-dep-pinned", "rhel-9", snapshot.StateDeprecated, rest)
	_, err := f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "old-dep-pinned", Pinned: true, By: "ops", At: f.tick()})
	require.NoError(t, err)
	f.bring(t, "r1-pinned", "rhel-9", snapshot.StateReleased, rest)
	_, err = f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "r1-pinned", Pinned: true, By: "ops", At: f.tick()})
	require.NoError(t, err)
	f.bring(t, "r2-in-use", "rhel-9", snapshot.StateReleased, rest)
	f.bring(t, "r3", "rhel-9", snapshot.StateReleased, onlyR3)
	f.bring(t, "r8-only", "rhel-8", snapshot.StateReleased, rest)

	f.now = f.now.Add(10 * day)
	f.bring(t, "r4", "rhel-9", snapshot.StateReleased, shared)
	f.bring(t, "r5", "rhel-9", snapshot.StateReleased, rest)
	f.bring(t, "new-dep", "rhel-9", snapshot.StateDeprecated, rest)
	f.bring(t, "validated", "rhel-9", snapshot.StateValidated, rest)
	orphanNew := f.put(t, 6, 600) // nobody's, inside the grace period
	f.now = f.now.Add(30 * time.Minute)

	before := map[string]*snapshot.Snapshot{}
	page, err := f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{})
	require.NoError(t, err)
	for _, s := range page.Snapshots {
		before[s.ID] = f.get(t, s.ID)
	}

	pl, err := snapshot.Plan(f.ctx, f.params(policy, "r2-in-use"))
	require.NoError(t, err)
	require.Equal(t, []string{"r3"}, ids(pl.Deprecate))
	require.Equal(t, []string{"abandoned", "old-dep"}, ids(pl.Purge))
	require.Equal(t, []string{"old-dep-pinned", "r1-pinned", "r2-in-use"}, ids(pl.Held))
	require.Empty(t, pl.Building)
	require.Equal(t, digests(onlyOld, orphanOld), digests(pl.Blobs...))
	require.Equal(t, onlyOld.Size+orphanOld.Size, pl.Bytes)
	require.Equal(t, f.now, pl.At)

	for id, s := range before {
		require.Equal(t, s, f.get(t, id), "Plan changed %s", id)
	}
	for _, b := range []snapshot.BlobInfo{shared, onlyOld, orphanOld, onlyR3, rest, orphanNew} {
		require.True(t, f.present(t, b), "Plan deleted a blob")
	}

	rep, err := snapshot.Purge(f.ctx, f.params(policy, "r2-in-use"))
	require.NoError(t, err)
	require.Equal(t, pl, rep.Plan)
	require.Equal(t, []string{"r3"}, rep.Deprecated)
	require.Equal(t, []string{"abandoned", "old-dep"}, rep.Purged)
	require.Empty(t, rep.Skipped)
	require.Empty(t, rep.SweepStopped)
	require.Equal(t, 2, rep.BlobsDeleted)
	require.Equal(t, onlyOld.Size+orphanOld.Size, rep.BytesReclaimed)
	require.False(t, f.present(t, onlyOld))
	require.False(t, f.present(t, orphanOld))
	for _, b := range []snapshot.BlobInfo{shared, onlyR3, rest, orphanNew} {
		require.True(t, f.present(t, b), "Purge deleted a blob still needed")
	}
	r3 := f.get(t, "r3")
	require.Equal(t, snapshot.StateDeprecated, r3.State)
	last := r3.History[len(r3.History)-1]
	require.Equal(t, "retention", last.By)
	require.Contains(t, last.Reason, "2 newest of rhel-9")
	require.Equal(t, snapshot.StatePurged, f.get(t, "old-dep").State)
	require.Equal(t, snapshot.StatePurged, f.get(t, "abandoned").State)
	for _, id := range []string{"old-dep-pinned", "r1-pinned", "r2-in-use", "r4", "r5", "r8-only", "new-dep", "validated"} {
		require.Equal(t, before[id], f.get(t, id), "%s must not change", id)
	}

	again, err := snapshot.Purge(f.ctx, f.params(policy, "r2-in-use"))
	require.NoError(t, err)
	require.Empty(t, again.Deprecated)
	require.Empty(t, again.Purged)
	require.Zero(t, again.BlobsDeleted)
	require.Zero(t, again.BytesReclaimed)

	// Seven days on, r3 expires; its blob goes, and so does the orphan
	// whose grace ran out.
	f.now = f.now.Add(7 * 24 * time.Hour)
	later, err := snapshot.Purge(f.ctx, f.params(policy, "r2-in-use"))
	require.NoError(t, err)
	require.Equal(t, []string{"new-dep", "r3"}, later.Purged)
	require.Equal(t, onlyR3.Size+orphanNew.Size, later.BytesReclaimed)
	require.True(t, f.present(t, shared))
	require.True(t, f.present(t, rest))
}

// testSweepWaitsForBuilds: while a snapshot is building, Purge retires
// snapshots but deletes no blob; once the build is sealed, the next Purge
// sweeps.
func testSweepWaitsForBuilds(t *testing.T, newStore NewStore) {
	f := setupRetention(t, newStore)
	policy := snapshot.RetentionPolicy{DeprecatedTTL: time.Hour, BlobGrace: time.Minute}
	orphan := f.put(t, 1, 100)
	old := f.put(t, 2, 200)
	f.bring(t, "old", "rhel-9", snapshot.StateDeprecated, old)
	f.now = f.now.Add(2 * time.Hour)
	f.create(t, "build", "rhel-9")
	reused := f.put(t, 1, 100) // the build reuses the orphan: Put is a no-op
	require.Equal(t, orphan, reused)

	rep, err := snapshot.Purge(f.ctx, f.params(policy))
	require.NoError(t, err)
	require.Equal(t, []string{"old"}, rep.Purged, "retiring snapshots does not wait")
	require.Equal(t, []string{"build"}, rep.Plan.Building)
	require.Contains(t, rep.SweepStopped, "building")
	require.Zero(t, rep.BlobsDeleted)
	require.True(t, f.present(t, orphan), "the blob the build reuses survives")
	require.True(t, f.present(t, old))

	f.seal(t, "build", "rhel-9", reused)
	rep, err = snapshot.Purge(f.ctx, f.params(policy))
	require.NoError(t, err)
	require.Empty(t, rep.SweepStopped)
	require.Equal(t, 1, rep.BlobsDeleted)
	require.False(t, f.present(t, old))
	require.True(t, f.present(t, orphan), "now referenced by the sealed build")
}

// racingBlobs is a BlobStore whose first Delete runs hook first, the way
// a build registering at that moment would interleave with the sweep.
type racingBlobs struct {
	snapshot.BlobStore
	once sync.Once
	hook func()
}

func (r *racingBlobs) Delete(ctx context.Context, d snapshot.Digest) error {
	r.once.Do(r.hook)
	return r.BlobStore.Delete(ctx, d)
}

// testSweepStopsWhenBuildStarts: a build registers while the sweep runs
// and reuses the orphans it has not deleted yet; the sweep notices before
// its next deletion and stops, so no blob the build reuses is lost.
func testSweepStopsWhenBuildStarts(t *testing.T, newStore NewStore) {
	for _, sealFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("sealed=", sealFirst), func(t *testing.T) {
			f := setupRetention(t, newStore)
			var orphans []snapshot.BlobInfo
			for i := range 6 {
				orphans = append(orphans, f.put(t, 10+i, 100+i))
			}
			f.now = f.now.Add(2 * time.Hour)
			rb := &racingBlobs{BlobStore: f.blobs}
			rb.hook = func() {
				// A build registers and reuses every orphan (Put of an
				// existing blob is a no-op); with sealFirst it is even
				// sealed before the sweep looks again.
				f.create(t, "racer", "rhel-9")
				for i := range orphans {
					f.put(t, 10+i, 100+i)
				}
				if sealFirst {
					f.seal(t, "racer", "rhel-9", orphans...)
				}
			}
			p := f.params(snapshot.RetentionPolicy{BlobGrace: time.Minute})
			p.Blobs = rb
			rep, err := snapshot.Purge(f.ctx, p)
			require.NoError(t, err)
			require.Equal(t, 1, rep.BlobsDeleted, "the deletion under way when the build registered")
			require.NotEmpty(t, rep.SweepStopped)
			kept := 0
			for _, b := range orphans {
				if f.present(t, b) {
					kept++
				}
			}
			require.Equal(t, len(orphans)-1, kept, "the sweep stopped at its next deletion")
		})
	}
}

// testConcurrentPurges: two nodes purging at once retire each snapshot
// once and reclaim each blob once between them.
func testConcurrentPurges(t *testing.T, newStore NewStore) {
	f := setupRetention(t, newStore)
	var want int64
	for i := range 8 {
		b := f.put(t, 100+i, 1000+i)
		want += b.Size
		f.bring(t, fmt.Sprintf("dep-%d", i), "rhel-9", snapshot.StateDeprecated, b)
	}
	f.now = f.now.Add(48 * time.Hour)
	policy := snapshot.RetentionPolicy{DeprecatedTTL: time.Hour}
	reps := make([]*snapshot.PurgeReport, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range reps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := f.params(policy)
			now := f.now
			p.Now = func() time.Time { return now }
			reps[i], errs[i] = snapshot.Purge(context.Background(), p)
		}()
	}
	wg.Wait()
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.Equal(t, 8, len(reps[0].Purged)+len(reps[1].Purged), "each snapshot purged once")
	for _, r := range reps {
		require.Equal(t, len(r.Plan.Purge), len(r.Purged)+len(r.Skipped), "each planned purge applied or skipped")
	}
	require.Equal(t, want, reps[0].BytesReclaimed+reps[1].BytesReclaimed, "each blob reclaimed once")
	require.Equal(t, 8, reps[0].BlobsDeleted+reps[1].BlobsDeleted)
	counts, err := f.st.CountSnapshots(f.ctx)
	require.NoError(t, err)
	require.Equal(t, map[snapshot.State]int{snapshot.StatePurged: 8}, counts)
}
