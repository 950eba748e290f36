package snapshot_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func evr(v string) rpmver.EVR { return rpmver.EVR{Version: v, Release: "1"} }

// releaseOne records snapshot id, created at at, sealed, validated and
// released.
func releaseOne(t testing.TB, st snapshot.Store, id string, at time.Time) {
	t.Helper()
	ctx := context.Background()
	_, err := st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "ci", At: at})
	require.NoError(t, err)
	m := snapshottest.TestManifest(id, "rhel-9", "", at, snapshot.BlobInfo{Digest: snapshot.DigestOf([]byte(id)), Size: 1})
	sealed, err := snapshottest.TestKeyRing().SealManifest(m)
	require.NoError(t, err)
	c, err := sealed.Canonical()
	require.NoError(t, err)
	_, err = st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: sealed.Seal, By: "ci", At: at})
	require.NoError(t, err)
	for _, s := range [][2]snapshot.State{{snapshot.StateSealed, snapshot.StateValidated}, {snapshot.StateValidated, snapshot.StateReleased}} {
		_, err = st.SetSnapshotState(ctx, snapshot.StateChange{ID: id, From: s[0], To: s[1], By: "ci", At: at})
		require.NoError(t, err)
	}
}

// The life of a snapshot in the catalogue: registered before its build
// writes anything, sealed with its manifest, validated, released. A sealed
// manifest cannot be changed, and nothing is released without validation.
func ExampleStore() {
	ctx := context.Background()
	var st snapshot.Store = memstore.New(nil) // or sqlitestore, pgstore
	ring, _ := snapshot.NewKeyRing("k1", map[string][]byte{"k1": []byte("an example key of 32 bytes or more")})
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)

	_, _ = st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: "rhel-9.4-20261102", OSRelease: "rhel-9.4", By: "builder", At: at})
	// ... Build writes the blobs, then the manifest is sealed:
	m := &snapshot.Manifest{ID: "rhel-9.4-20261102", OSRelease: "rhel-9.4", Arch: "x86_64", CreatedAt: at,
		Packages: []snapshot.PackageEntry{{Name: "bash", Arch: "x86_64", EVR: evr("5.1.8"), Size: 1843,
			Digest: snapshot.DigestOf([]byte("bash")), Location: "Packages/bash.rpm"}}}
	seal, _ := ring.Seal(m)
	canonical, _ := m.Canonical()
	s, _ := st.SealSnapshot(ctx, snapshot.SealParams{ID: m.ID, Manifest: canonical, Seal: seal, By: "builder", At: at.Add(time.Minute)})
	fmt.Println(s.State, s.TotalBytes, s.Seal.KeyID)

	_, err := st.SetSnapshotState(ctx, snapshot.StateChange{ID: m.ID, From: snapshot.StateSealed, To: snapshot.StateReleased, By: "eve", At: at})
	fmt.Println(errors.Is(err, snapshot.ErrInvalidTransition))

	for _, to := range []snapshot.State{snapshot.StateValidated, snapshot.StateReleased} {
		s, _ = st.SetSnapshotState(ctx, snapshot.StateChange{ID: m.ID, From: s.State, To: to, By: "ossa", At: at.Add(time.Hour)})
	}
	m.Metadata = map[string]string{"sneaky": "change"}
	changed, _ := m.Canonical()
	_, err = st.SealSnapshot(ctx, snapshot.SealParams{ID: m.ID, Manifest: changed, Seal: seal, By: "eve", At: at})
	fmt.Println(errors.Is(err, snapshot.ErrImmutable))

	s, _ = st.Snapshot(ctx, m.ID)
	sealed, _ := s.Sealed()
	fmt.Println(ring.VerifySealed(sealed) == nil)
	for _, e := range s.History {
		fmt.Printf("%s %s→%s\n", e.By, e.From, e.To)
	}
	// Output:
	// sealed 1843 k1
	// true
	// true
	// true
	// builder →building
	// builder building→sealed
	// ossa sealed→validated
	// ossa validated→released
}

// Retention: keep the newest released snapshot per OS release, purge
// deprecated ones after a week, and reclaim the blobs nothing else uses.
// Plan is the dry run; Purge applies it.
func ExamplePurge() {
	ctx := context.Background()
	st := memstore.New(nil)
	blobs := memblob.New(&memblob.Options{Now: func() time.Time { return time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC) }})
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ring, _ := snapshot.NewKeyRing("k1", map[string][]byte{"k1": []byte("an example key of 32 bytes or more")})

	// Three released snapshots, each with a blob of its own.
	for i, id := range []string{"rhel-9-a", "rhel-9-b", "rhel-9-c"} {
		at := now.AddDate(0, 0, -30+i)
		content := bytes.Repeat([]byte(id), 1000)
		d := snapshot.DigestOf(content)
		_, _ = blobs.Put(ctx, d, int64(len(content)), bytes.NewReader(content))
		_, _ = st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "builder", At: at})
		m := &snapshot.Manifest{ID: id, OSRelease: "rhel-9", CreatedAt: at, Packages: []snapshot.PackageEntry{
			{Name: "pkg", Arch: "noarch", EVR: evr("1"), Size: int64(len(content)), Digest: d}}}
		seal, _ := ring.Seal(m)
		c, _ := m.Canonical()
		_, _ = st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: seal, By: "builder", At: at})
		for _, to := range []snapshot.State{snapshot.StateValidated, snapshot.StateReleased} {
			s, _ := st.Snapshot(ctx, id)
			_, _ = st.SetSnapshotState(ctx, snapshot.StateChange{ID: id, From: s.State, To: to, By: "ossa", At: at})
		}
	}

	p := snapshot.PurgeParams{Store: st, Blobs: blobs,
		Policy: snapshot.RetentionPolicy{KeepReleased: 1, DeprecatedTTL: 7 * 24 * time.Hour},
		// In a service: snapshot.BatchesInUse(lifecycleService).
		InUse: func(context.Context) (map[string]bool, error) { return map[string]bool{"rhel-9-a": true}, nil },
		Now:   func() time.Time { return now }}
	plan, _ := snapshot.Plan(ctx, p)
	fmt.Println("deprecate:", len(plan.Deprecate), plan.Deprecate[0].ID)
	fmt.Println("held:", plan.Held[0].ID, plan.Held[0].Reason)

	rep, _ := snapshot.Purge(ctx, p)
	fmt.Println("deprecated:", rep.Deprecated, "reclaimed:", rep.BytesReclaimed)

	now = now.AddDate(0, 0, 8) // a week later
	rep, _ = snapshot.Purge(ctx, p)
	fmt.Println("purged:", rep.Purged, "reclaimed:", rep.BlobsDeleted, "blob,", rep.BytesReclaimed, "bytes")
	// Output:
	// deprecate: 1 rhel-9-b
	// held: rhel-9-a in use by an active batch; would be: released, older than the 1 newest of rhel-9
	// deprecated: [rhel-9-b] reclaimed: 0
	// purged: [rhel-9-b] reclaimed: 1 blob, 8000 bytes
}
