package snapshottest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/store"
)

// NewStore returns a fresh, empty snapshot.Store for one test. Stores made
// by separate calls must not share state. It registers any cleanup with t.
type NewStore func(t testing.TB) snapshot.Store

// testKey is the HMAC key the suite seals with; it guards nothing.
var testKey = []byte("snapshottest key, 32 bytes long!")

// TestKeyRing returns the key ring the suite seals manifests with.
func TestKeyRing() *snapshot.KeyRing {
	k, err := snapshot.NewKeyRing("suite", map[string][]byte{"suite": testKey})
	if err != nil {
		panic(err) // a constant, valid key
	}
	return k
}

// TestManifest returns a valid manifest for snapshot id of osRelease, with
// one package per blob (named after its index, of the given size).
func TestManifest(id, osRelease, parent string, at time.Time, blobs ...snapshot.BlobInfo) *snapshot.Manifest {
	m := &snapshot.Manifest{ID: id, OSRelease: osRelease, Arch: "x86_64", CreatedAt: at, Parent: parent,
		Metadata: map[string]string{"built-by": "snapshottest"}}
	for i, b := range blobs {
		name := fmt.Sprintf("pkg%03d", i)
		m.Packages = append(m.Packages, snapshot.PackageEntry{Name: name, Arch: "x86_64",
			EVR: rpmver.EVR{Version: "1.0", Release: "1"}, Size: b.Size, Digest: b.Digest,
			Location: "Packages/" + name + "-1.0-1.x86_64.rpm"})
	}
	return m
}

// storeFixture is what each store test starts from.
type storeFixture struct {
	st   snapshot.Store
	ctx  context.Context
	now  time.Time
	ring *snapshot.KeyRing
}

func setupStore(t *testing.T, newStore NewStore) *storeFixture {
	t.Helper()
	t.Parallel()
	return &storeFixture{st: newStore(t), ctx: context.Background(),
		now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), ring: TestKeyRing()}
}

// tick advances the fixture's clock by a time that is not a whole
// microsecond, so that stores must truncate alike.
func (f *storeFixture) tick() time.Time {
	f.now = f.now.Add(1500*time.Microsecond + 250*time.Nanosecond)
	return f.now
}

func (f *storeFixture) create(t testing.TB, id, osRelease string) *snapshot.Snapshot {
	t.Helper()
	s, err := f.st.CreateSnapshot(f.ctx, snapshot.NewSnapshot{ID: id, OSRelease: osRelease, By: "builder", At: f.tick(), Reason: "nightly"})
	require.NoError(t, err)
	return s
}

// blob returns the BlobInfo of a made-up blob of n bytes, distinct per seed.
func blob(seed, n int) snapshot.BlobInfo {
	return snapshot.BlobInfo{Digest: snapshot.DigestOf(fmt.Appendf(nil, "blob %d", seed)), Size: int64(n)}
}

// sealParams returns the SealParams that seal snapshot id with blobs.
func (f *storeFixture) sealParams(t testing.TB, id, osRelease string, blobs ...snapshot.BlobInfo) snapshot.SealParams {
	t.Helper()
	m := TestManifest(id, osRelease, "", f.now, blobs...)
	c, err := m.Canonical()
	require.NoError(t, err)
	seal, err := f.ring.Seal(m)
	require.NoError(t, err)
	return snapshot.SealParams{ID: id, Manifest: c, Seal: seal, By: "builder", At: f.tick()}
}

func (f *storeFixture) seal(t testing.TB, id, osRelease string, blobs ...snapshot.BlobInfo) *snapshot.Snapshot {
	t.Helper()
	s, err := f.st.SealSnapshot(f.ctx, f.sealParams(t, id, osRelease, blobs...))
	require.NoError(t, err)
	return s
}

func (f *storeFixture) move(t testing.TB, id string, from, to snapshot.State) *snapshot.Snapshot {
	t.Helper()
	s, err := f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: id, From: from, To: to, By: "operator", At: f.tick(), Reason: "test"})
	require.NoError(t, err, "%s: %s → %s", id, from, to)
	return s
}

func (f *storeFixture) get(t testing.TB, id string) *snapshot.Snapshot {
	t.Helper()
	s, err := f.st.Snapshot(f.ctx, id)
	require.NoError(t, err)
	return s
}

// paths says how to bring a new snapshot to each state.
var paths = map[snapshot.State][]snapshot.State{
	snapshot.StateBuilding:         {},
	snapshot.StateSealed:           {snapshot.StateSealed},
	snapshot.StateValidated:        {snapshot.StateSealed, snapshot.StateValidated},
	snapshot.StateValidationFailed: {snapshot.StateSealed, snapshot.StateValidationFailed},
	snapshot.StateReleased:         {snapshot.StateSealed, snapshot.StateValidated, snapshot.StateReleased},
	snapshot.StateDeprecated:       {snapshot.StateSealed, snapshot.StateValidated, snapshot.StateReleased, snapshot.StateDeprecated},
	snapshot.StatePurged:           {snapshot.StateSealed, snapshot.StateValidated, snapshot.StateReleased, snapshot.StateDeprecated, snapshot.StatePurged},
}

// bring creates snapshot id and moves it to state along paths.
func (f *storeFixture) bring(t testing.TB, id, osRelease string, state snapshot.State, blobs ...snapshot.BlobInfo) *snapshot.Snapshot {
	t.Helper()
	s := f.create(t, id, osRelease)
	for _, next := range paths[state] {
		if next == snapshot.StateSealed {
			s = f.seal(t, id, osRelease, blobs...)
			continue
		}
		s = f.move(t, id, s.State, next)
	}
	require.Equal(t, state, s.State)
	return s
}

// RunStore runs the snapshot.Store conformance suite.
func RunStore(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"CreateAndGet", testCreateAndGet},
		{"CreateInvalid", testCreateInvalid},
		{"CreateDuplicate", testCreateDuplicate},
		{"NotFound", testStoreNotFound},
		{"Seal", testSeal},
		{"SealInvalid", testSealInvalid},
		{"SealedIsImmutable", testImmutable},
		{"StateMachine", testStateMachine},
		{"StaleFrom", testStaleFrom},
		{"Rollback", testRollback},
		{"Pin", testPin},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"ReferencedBlobs", testReferencedBlobs},
		{"Count", testCount},
		{"ConcurrentTransitions", testConcurrentTransitions},
		{"ConcurrentSeals", testConcurrentSeals},
		{"Retention", testRetention},
		{"SweepWaitsForBuilds", testSweepWaitsForBuilds},
		{"SweepStopsWhenBuildStarts", testSweepStopsWhenBuildStarts},
		{"ConcurrentPurges", testConcurrentPurges},
		{"CancelledContext", testStoreCancelledContext},
		{"Closed", testStoreClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func testCreateAndGet(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	at := f.tick()
	got, err := f.st.CreateSnapshot(f.ctx, snapshot.NewSnapshot{ID: "rhel-9.4-20260304", OSRelease: "rhel-9.4",
		Parent: "rhel-9.4-20260301", Pinned: true, By: "alice", At: at, Reason: "weekly"})
	require.NoError(t, err)
	want := &snapshot.Snapshot{ID: "rhel-9.4-20260304", OSRelease: "rhel-9.4", Parent: "rhel-9.4-20260301",
		State: snapshot.StateBuilding, Pinned: true, CreatedBy: "alice",
		CreatedAt: snapshot.StoredTime(at), StateAt: snapshot.StoredTime(at), UpdatedAt: snapshot.StoredTime(at),
		History: []snapshot.Event{{At: snapshot.StoredTime(at), By: "alice", To: snapshot.StateBuilding, Pinned: true, Reason: "weekly"}}}
	require.Equal(t, want, got)
	require.Equal(t, time.UTC, got.CreatedAt.Location())
	read := f.get(t, want.ID)
	require.Equal(t, want, read)

	// What callers get is theirs: changing it changes nothing stored.
	read.History[0].By = "mallory"
	read.State = snapshot.StateReleased
	require.Equal(t, want, f.get(t, want.ID))
}

func testCreateInvalid(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	good := snapshot.NewSnapshot{ID: "ok-1", OSRelease: "rhel-9", By: "alice", At: f.tick()}
	for name, mut := range map[string]func(*snapshot.NewSnapshot){
		"EmptyID":     func(p *snapshot.NewSnapshot) { p.ID = "" },
		"SlashInID":   func(p *snapshot.NewSnapshot) { p.ID = "a/b" },
		"SpaceInID":   func(p *snapshot.NewSnapshot) { p.ID = "a b" },
		"LeadingDot":  func(p *snapshot.NewSnapshot) { p.ID = ".hidden" },
		"LongID":      func(p *snapshot.NewSnapshot) { p.ID = string(make([]byte, 129)) },
		"NoOSRelease": func(p *snapshot.NewSnapshot) { p.OSRelease = "" },
		"NoActor":     func(p *snapshot.NewSnapshot) { p.By = "" },
		"NoTime":      func(p *snapshot.NewSnapshot) { p.At = time.Time{} },
		"BadParent":   func(p *snapshot.NewSnapshot) { p.Parent = "no good" },
		"OwnParent":   func(p *snapshot.NewSnapshot) { p.Parent = p.ID },
	} {
		p := good
		mut(&p)
		_, err := f.st.CreateSnapshot(f.ctx, p)
		require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot, name)
	}
	page, err := f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Snapshots, "nothing recorded")
	_, err = f.st.CreateSnapshot(f.ctx, good)
	require.NoError(t, err)
}

func testCreateDuplicate(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	first := f.bring(t, "dup", "rhel-9", snapshot.StatePurged, blob(1, 10))
	_, err := f.st.CreateSnapshot(f.ctx, snapshot.NewSnapshot{ID: "dup", OSRelease: "other", By: "bob", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrSnapshotExists, "IDs are never reused, not even after purge")
	require.Equal(t, first, f.get(t, "dup"))
}

func testStoreNotFound(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	f.create(t, "present", "rhel-9")
	_, err := f.st.Snapshot(f.ctx, "absent")
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.st.SealSnapshot(f.ctx, f.sealParams(t, "absent", "rhel-9", blob(1, 1)))
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: "absent", From: snapshot.StateBuilding,
		To: snapshot.StatePurged, By: "x", At: f.tick()})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "absent", Pinned: true, By: "x", At: f.tick()})
	require.ErrorIs(t, err, store.ErrNotFound)
	refs, err := f.st.ReferencedBlobs(f.ctx, []string{"absent"})
	require.NoError(t, err, "except may name unknown snapshots")
	require.Empty(t, refs)
}

func testSeal(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	created := f.create(t, "s1", "rhel-9")
	b1, b2 := blob(1, 1000), blob(2, 2500)
	p := f.sealParams(t, "s1", "rhel-9", b1, b2, b1) // b1 twice: two packages, one blob
	got, err := f.st.SealSnapshot(f.ctx, p)
	require.NoError(t, err)
	at := snapshot.StoredTime(p.At)
	require.Equal(t, snapshot.StateSealed, got.State)
	require.Equal(t, p.Manifest, got.Manifest)
	require.Equal(t, p.Seal, got.Seal)
	require.Equal(t, int64(3500), got.TotalBytes, "distinct blobs counted once")
	require.Equal(t, at, got.SealedAt)
	require.Equal(t, at, got.StateAt)
	require.Equal(t, at, got.UpdatedAt)
	require.Equal(t, created.CreatedAt, got.CreatedAt)
	require.True(t, got.ReleasedAt.IsZero())
	require.Equal(t, []snapshot.Event{created.History[0],
		{At: at, By: "builder", From: snapshot.StateBuilding, To: snapshot.StateSealed}}, got.History)
	read := f.get(t, "s1")
	require.Equal(t, got, read)

	sealed, err := read.Sealed()
	require.NoError(t, err)
	require.NoError(t, f.ring.VerifySealed(sealed), "the stored manifest verifies under its seal")
	require.Len(t, sealed.Packages, 3)

	refs, err := f.st.ReferencedBlobs(f.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, map[snapshot.Digest]int64{b1.Digest: b1.Size, b2.Digest: b2.Size}, refs)

	// A manifest with no content at all is sealed too.
	f.create(t, "empty", "rhel-9")
	empty := f.seal(t, "empty", "rhel-9")
	require.Equal(t, snapshot.StateSealed, empty.State)
	require.Zero(t, empty.TotalBytes)
	refs, err = f.st.ReferencedBlobs(f.ctx, []string{"s1"})
	require.NoError(t, err)
	require.Empty(t, refs)
}

func testSealInvalid(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	created := f.create(t, "s1", "rhel-9")
	good := f.sealParams(t, "s1", "rhel-9", blob(1, 10))
	other := f.sealParams(t, "s2", "rhel-9", blob(1, 10))
	wrongOS := f.sealParams(t, "s1", "rhel-8", blob(1, 10))
	withParent := TestManifest("s1", "rhel-9", "s0", f.now, blob(1, 10))
	parentBytes, err := withParent.Canonical()
	require.NoError(t, err)
	for name, mut := range map[string]func(*snapshot.SealParams){
		"NotCanonical":  func(p *snapshot.SealParams) { p.Manifest = append([]byte(" "), p.Manifest...) },
		"Garbage":       func(p *snapshot.SealParams) { p.Manifest = []byte("not a manifest") },
		"NoManifest":    func(p *snapshot.SealParams) { p.Manifest = nil },
		"OtherSnapshot": func(p *snapshot.SealParams) { p.Manifest = other.Manifest },
		"OtherOS":       func(p *snapshot.SealParams) { p.Manifest = wrongOS.Manifest },
		"OtherParent":   func(p *snapshot.SealParams) { p.Manifest = parentBytes },
		"NoKeyID":       func(p *snapshot.SealParams) { p.Seal.KeyID = "" },
		"NoMAC":         func(p *snapshot.SealParams) { p.Seal.MAC = nil },
		"NoActor":       func(p *snapshot.SealParams) { p.By = "" },
		"NoTime":        func(p *snapshot.SealParams) { p.At = time.Time{} },
	} {
		p := good
		mut(&p)
		_, err := f.st.SealSnapshot(f.ctx, p)
		require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot, name)
		require.Equal(t, created, f.get(t, "s1"), "%s: nothing changed", name)
	}
	refs, err := f.st.ReferencedBlobs(f.ctx, nil)
	require.NoError(t, err)
	require.Empty(t, refs)
	_, err = f.st.SealSnapshot(f.ctx, good)
	require.NoError(t, err)
}

func testImmutable(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	b1, b2 := blob(1, 10), blob(2, 20)
	for _, state := range []snapshot.State{snapshot.StateSealed, snapshot.StateValidated, snapshot.StateReleased,
		snapshot.StateDeprecated, snapshot.StatePurged} {
		id := "imm-" + string(state)
		before := f.bring(t, id, "rhel-9", state, b1)
		for name, p := range map[string]snapshot.SealParams{
			"Same":    f.sealParams(t, id, "rhel-9", b1),
			"Changed": f.sealParams(t, id, "rhel-9", b1, b2),
		} {
			_, err := f.st.SealSnapshot(f.ctx, p)
			require.ErrorIs(t, err, snapshot.ErrImmutable, "%s: %s", state, name)
			require.ErrorContains(t, err, id, "the error names the snapshot")
			require.Equal(t, before, f.get(t, id), "%s: %s: nothing changed", state, name)
		}
		got := f.get(t, id)
		got.Manifest[0], got.Seal.MAC[0] = 'X', got.Seal.MAC[0]^1
		require.Equal(t, before, f.get(t, id), "changing a copy changes nothing stored")
	}
	purged := f.bring(t, "abandoned", "rhel-9", snapshot.StateBuilding)
	purged = f.move(t, purged.ID, snapshot.StateBuilding, snapshot.StatePurged)
	_, err := f.st.SealSnapshot(f.ctx, f.sealParams(t, "abandoned", "rhel-9", b1))
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition, "an abandoned build cannot be sealed")
	require.Equal(t, purged, f.get(t, "abandoned"))
}

// allowed is the snapshot state machine, written out independently of the
// package's table; "rollback" marks deprecated → released, allowed only
// for a snapshot released before.
var allowed = map[snapshot.State][]snapshot.State{
	snapshot.StateBuilding:         {snapshot.StatePurged},
	snapshot.StateSealed:           {snapshot.StateValidated, snapshot.StateValidationFailed, snapshot.StateDeprecated},
	snapshot.StateValidationFailed: {snapshot.StateSealed, snapshot.StateDeprecated},
	snapshot.StateValidated:        {snapshot.StateReleased, snapshot.StateDeprecated},
	snapshot.StateReleased:         {snapshot.StateDeprecated},
	snapshot.StateDeprecated:       {snapshot.StateReleased, snapshot.StatePurged},
}

func testStateMachine(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	n := 0
	for _, from := range snapshot.States {
		for _, to := range snapshot.States {
			n++
			id := fmt.Sprintf("sm-%02d", n)
			before := f.bring(t, id, "rhel-9", from, blob(n, n))
			c := snapshot.StateChange{ID: id, From: from, To: to, By: "operator", At: f.tick(), Reason: "edge test"}
			got, err := f.st.SetSnapshotState(f.ctx, c)
			if !slices.Contains(allowed[from], to) {
				require.ErrorIs(t, err, snapshot.ErrInvalidTransition, "%s → %s must be refused", from, to)
				require.Equal(t, before, f.get(t, id), "%s → %s: nothing changed", from, to)
				continue
			}
			require.NoError(t, err, "%s → %s must be allowed", from, to)
			at := snapshot.StoredTime(c.At)
			require.Equal(t, to, got.State)
			require.Equal(t, at, got.StateAt)
			require.Equal(t, at, got.UpdatedAt)
			require.Equal(t, before.Manifest, got.Manifest)
			require.Equal(t, snapshot.Event{At: at, By: "operator", From: from, To: to, Reason: "edge test"},
				got.History[len(got.History)-1])
			require.Len(t, got.History, len(before.History)+1)
			if to == snapshot.StateReleased {
				require.Equal(t, at, got.ReleasedAt)
			} else {
				require.Equal(t, before.ReleasedAt, got.ReleasedAt)
			}
			require.Equal(t, got, f.get(t, id))
		}
	}
	// Unknown states are malformed requests, not transitions.
	f.create(t, "sm-unknown", "rhel-9")
	_, err := f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: "sm-unknown", From: snapshot.StateBuilding,
		To: "gone", By: "x", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot)
	_, err = f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: "sm-unknown", From: snapshot.StateBuilding,
		To: snapshot.StatePurged, At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot, "no actor")
	require.Equal(t, snapshot.StateBuilding, f.get(t, "sm-unknown").State)
}

func testStaleFrom(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	before := f.bring(t, "s", "rhel-9", snapshot.StateValidated, blob(1, 1))
	_, err := f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: "s", From: snapshot.StateSealed,
		To: snapshot.StateValidationFailed, By: "x", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition, "From must be the current state")
	require.ErrorContains(t, err, string(snapshot.StateValidated), "the error says what the state is")
	require.Equal(t, before, f.get(t, "s"))
}

func testRollback(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	// Never released: deprecation is no way around validation.
	f.bring(t, "never", "rhel-9", snapshot.StateSealed, blob(1, 1))
	f.move(t, "never", snapshot.StateSealed, snapshot.StateDeprecated)
	before := f.get(t, "never")
	_, err := f.st.SetSnapshotState(f.ctx, snapshot.StateChange{ID: "never", From: snapshot.StateDeprecated,
		To: snapshot.StateReleased, By: "x", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition)
	require.Equal(t, before, f.get(t, "never"))

	// Released before: a rollback.
	rel := f.bring(t, "once", "rhel-9", snapshot.StateDeprecated, blob(2, 2))
	require.False(t, rel.ReleasedAt.IsZero())
	back := f.move(t, "once", snapshot.StateDeprecated, snapshot.StateReleased)
	require.True(t, back.ReleasedAt.After(rel.ReleasedAt))
	require.Len(t, back.History, 6, "created, sealed, validated, released, deprecated, released")
}

func testPin(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	before := f.bring(t, "p", "rhel-9", snapshot.StateReleased, blob(1, 1))
	c := snapshot.PinChange{ID: "p", Pinned: true, By: "carol", At: f.tick(), Reason: "golden"}
	got, err := f.st.SetSnapshotPinned(f.ctx, c)
	require.NoError(t, err)
	at := snapshot.StoredTime(c.At)
	require.True(t, got.Pinned)
	require.Equal(t, at, got.UpdatedAt)
	require.Equal(t, before.StateAt, got.StateAt, "pinning is no state change")
	require.Equal(t, snapshot.Event{At: at, By: "carol", From: snapshot.StateReleased, To: snapshot.StateReleased,
		Pinned: true, Reason: "golden"}, got.History[len(got.History)-1])
	require.Equal(t, got, f.get(t, "p"))

	again, err := f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "p", Pinned: true, By: "dave", At: f.tick()})
	require.NoError(t, err)
	require.Equal(t, got, again, "pinning a pinned snapshot changes nothing")
	require.Equal(t, got, f.get(t, "p"))

	// A state change carries the pinned flag into its event.
	moved := f.move(t, "p", snapshot.StateReleased, snapshot.StateDeprecated)
	require.True(t, moved.History[len(moved.History)-1].Pinned)

	unpinned, err := f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "p", Pinned: false, By: "carol", At: f.tick()})
	require.NoError(t, err)
	require.False(t, unpinned.Pinned)
	require.Len(t, unpinned.History, len(moved.History)+1)

	purged := f.bring(t, "gone", "rhel-9", snapshot.StatePurged, blob(2, 2))
	_, err = f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "gone", Pinned: true, By: "carol", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition, "a purged snapshot cannot be pinned")
	require.Equal(t, purged, f.get(t, "gone"))

	_, err = f.st.SetSnapshotPinned(f.ctx, snapshot.PinChange{ID: "p", Pinned: true, By: "", At: f.tick()})
	require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot)
}

func testList(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	f.bring(t, "c-rel", "rhel-9", snapshot.StateReleased, blob(1, 1))
	f.bring(t, "a-bld", "rhel-9", snapshot.StateBuilding)
	f.bring(t, "b-rel", "rhel-8", snapshot.StateReleased, blob(2, 2))
	f.bring(t, "d-dep", "rhel-8", snapshot.StateDeprecated, blob(3, 3))
	ids := func(f snapshot.SnapshotFilter, st snapshot.Store) []string {
		t.Helper()
		page, err := st.ListSnapshots(context.Background(), f)
		require.NoError(t, err)
		require.Empty(t, page.Next)
		var out []string
		for _, s := range page.Snapshots {
			require.Nil(t, s.Manifest, "listings leave out manifests")
			require.Nil(t, s.History, "listings leave out histories")
			out = append(out, s.ID)
		}
		return out
	}
	require.Equal(t, []string{"a-bld", "b-rel", "c-rel", "d-dep"}, ids(snapshot.SnapshotFilter{}, f.st))
	require.Equal(t, []string{"b-rel", "c-rel"}, ids(snapshot.SnapshotFilter{States: []snapshot.State{snapshot.StateReleased}}, f.st))
	require.Equal(t, []string{"b-rel", "d-dep"}, ids(snapshot.SnapshotFilter{OSRelease: "rhel-8"}, f.st))
	require.Equal(t, []string{"d-dep"}, ids(snapshot.SnapshotFilter{OSRelease: "rhel-8",
		States: []snapshot.State{snapshot.StateDeprecated, snapshot.StateBuilding}}, f.st))
	require.Empty(t, ids(snapshot.SnapshotFilter{OSRelease: "rhel-7"}, f.st))

	// A listed record equals the full one without manifest and history.
	page, err := f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{OSRelease: "rhel-9", States: []snapshot.State{snapshot.StateReleased}})
	require.NoError(t, err)
	require.Len(t, page.Snapshots, 1)
	full := f.get(t, "c-rel")
	full.Manifest, full.History = nil, nil
	require.Equal(t, full, page.Snapshots[0])

	for name, bad := range map[string]snapshot.SnapshotFilter{
		"UnknownState": {States: []snapshot.State{"lost"}},
		"BadCursor":    {Cursor: "not a cursor"},
	} {
		_, err := f.st.ListSnapshots(f.ctx, bad)
		require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot, name)
	}
}

func testListPaging(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	var all, released []string
	for i := range 23 {
		id := fmt.Sprintf("pg-%02d", (i*7)%23) // created out of ID order
		state := snapshot.StateBuilding
		if i%3 == 0 {
			state = snapshot.StateReleased
			released = append(released, id)
		}
		f.bring(t, id, "rhel-9", state, blob(i, i+1))
		all = append(all, id)
	}
	slices.Sort(all)
	slices.Sort(released)
	collect := func(flt snapshot.SnapshotFilter) []string {
		t.Helper()
		var out []string
		for pages := 0; ; pages++ {
			require.Less(t, pages, 30, "paging does not end")
			page, err := f.st.ListSnapshots(f.ctx, flt)
			require.NoError(t, err)
			require.LessOrEqual(t, len(page.Snapshots), flt.PageLimit())
			for _, s := range page.Snapshots {
				out = append(out, s.ID)
			}
			if page.Next == "" {
				return out
			}
			require.Len(t, page.Snapshots, flt.PageLimit(), "only the last page is short")
			flt.Cursor = page.Next
		}
	}
	require.Equal(t, all, collect(snapshot.SnapshotFilter{Limit: 5}))
	require.Equal(t, all, collect(snapshot.SnapshotFilter{Limit: 23}))
	require.Equal(t, all, collect(snapshot.SnapshotFilter{}))
	require.Equal(t, released, collect(snapshot.SnapshotFilter{Limit: 2, States: []snapshot.State{snapshot.StateReleased}}))
	require.Equal(t, released, collect(snapshot.SnapshotFilter{Limit: 8, States: []snapshot.State{snapshot.StateReleased}}))

	page, err := f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{Limit: 23})
	require.NoError(t, err)
	require.Empty(t, page.Next, "a page that holds the rest is the last")
	page, err = f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{Cursor: all[len(all)-1]})
	require.NoError(t, err)
	require.Empty(t, page.Snapshots)
	require.NotNil(t, page.Snapshots, "an empty page is an empty slice")
	page, err = f.st.ListSnapshots(f.ctx, snapshot.SnapshotFilter{Cursor: "pg-10x", Limit: 3})
	require.NoError(t, err, "a cursor need not name an existing snapshot")
	require.Equal(t, []string{"pg-11", "pg-12", "pg-13"}, []string{page.Snapshots[0].ID, page.Snapshots[1].ID, page.Snapshots[2].ID})
}

func testReferencedBlobs(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	shared, onlyA, onlyB, onlyC := blob(1, 100), blob(2, 200), blob(3, 300), blob(4, 400)
	f.bring(t, "a", "rhel-9", snapshot.StateReleased, shared, onlyA)
	f.bring(t, "b", "rhel-9", snapshot.StateDeprecated, shared, onlyB)
	f.bring(t, "c", "rhel-9", snapshot.StateValidationFailed, onlyC)
	f.bring(t, "building", "rhel-9", snapshot.StateBuilding)
	refs := func(except ...string) map[snapshot.Digest]int64 {
		t.Helper()
		r, err := f.st.ReferencedBlobs(f.ctx, except)
		require.NoError(t, err)
		return r
	}
	set := func(bs ...snapshot.BlobInfo) map[snapshot.Digest]int64 {
		m := map[snapshot.Digest]int64{}
		for _, b := range bs {
			m[b.Digest] = b.Size
		}
		return m
	}
	require.Equal(t, set(shared, onlyA, onlyB, onlyC), refs())
	require.Equal(t, set(shared, onlyA, onlyC), refs("b"), "shared stays: a still references it")
	require.Equal(t, set(onlyC), refs("a", "b"))
	require.Equal(t, set(), refs("a", "b", "c", "building"))

	f.move(t, "b", snapshot.StateDeprecated, snapshot.StatePurged)
	require.Equal(t, set(shared, onlyA, onlyC), refs(), "purged snapshots reference nothing")
	require.Equal(t, set(onlyC), refs("a"))
}

func testCount(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	counts, err := f.st.CountSnapshots(f.ctx)
	require.NoError(t, err)
	require.Empty(t, counts)
	f.bring(t, "a", "rhel-9", snapshot.StateReleased, blob(1, 1))
	f.bring(t, "b", "rhel-9", snapshot.StateReleased, blob(2, 1))
	f.bring(t, "c", "rhel-9", snapshot.StateBuilding)
	f.bring(t, "d", "rhel-8", snapshot.StatePurged, blob(3, 1))
	counts, err = f.st.CountSnapshots(f.ctx)
	require.NoError(t, err)
	require.Equal(t, map[snapshot.State]int{snapshot.StateReleased: 2, snapshot.StateBuilding: 1, snapshot.StatePurged: 1}, counts)
}
