package snapshottest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/store"
)

// testConcurrentTransitions: for each of several snapshots, goroutines
// race to take it from one state to different states (a verdict race
// from sealed; a rollback racing a purge from deprecated). Exactly one
// change wins per snapshot, the others fail with ErrInvalidTransition,
// and the record holds the winner's state and one event for it.
func testConcurrentTransitions(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	type race struct {
		from snapshot.State
		to   []snapshot.State
	}
	races := []race{
		{snapshot.StateSealed, []snapshot.State{snapshot.StateValidated, snapshot.StateValidationFailed, snapshot.StateDeprecated}},
		{snapshot.StateDeprecated, []snapshot.State{snapshot.StateReleased, snapshot.StatePurged}},
	}
	const snapshots, perTarget = 6, 3
	type entry struct {
		id     string
		race   race
		before *snapshot.Snapshot
	}
	var entries []entry
	for i := range snapshots {
		r := races[i%len(races)]
		id := fmt.Sprintf("race-%d", i)
		entries = append(entries, entry{id, r, f.bring(t, id, "rhel-9", r.from, blob(i, i+1))})
	}
	at := f.tick()
	type result struct {
		id  string
		to  snapshot.State
		err error
	}
	results := make(chan result, snapshots*3*perTarget)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, e := range entries {
		for _, to := range e.race.to {
			for g := range perTarget {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, err := f.st.SetSnapshotState(context.Background(), snapshot.StateChange{ID: e.id, From: e.race.from,
						To: to, By: fmt.Sprintf("worker-%s-%d", to, g), At: at})
					results <- result{e.id, to, err}
				}()
			}
		}
	}
	close(start)
	wg.Wait()
	close(results)
	winners := map[string][]snapshot.State{}
	for r := range results {
		if r.err == nil {
			winners[r.id] = append(winners[r.id], r.to)
			continue
		}
		require.ErrorIs(t, r.err, snapshot.ErrInvalidTransition, "%s → %s", r.id, r.to)
	}
	for _, e := range entries {
		require.Len(t, winners[e.id], 1, "%s: exactly one change wins", e.id)
		got := f.get(t, e.id)
		require.Equal(t, winners[e.id][0], got.State)
		require.Len(t, got.History, len(e.before.History)+1, "%s: one event for the one change", e.id)
		require.Equal(t, winners[e.id][0], got.History[len(got.History)-1].To)
	}
}

// testConcurrentSeals: goroutines race to seal one building snapshot with
// different manifests. One wins; the others fail with ErrImmutable and
// leave no trace (no blob of theirs is referenced).
func testConcurrentSeals(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	const sealers = 8
	for round := range 3 {
		id := fmt.Sprintf("seal-race-%d", round)
		f.create(t, id, "rhel-9")
		params := make([]snapshot.SealParams, sealers)
		for i := range params {
			params[i] = f.sealParams(t, id, "rhel-9", blob(1000*round+i, 10+i))
		}
		errs := make([]error, sealers)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range params {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.st.SealSnapshot(context.Background(), params[i])
			}()
		}
		close(start)
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "two seals of %s won", id)
				won = i
				continue
			}
			require.ErrorIs(t, err, snapshot.ErrImmutable)
		}
		require.NotEqual(t, -1, won, "no seal of %s won", id)
		got := f.get(t, id)
		require.Equal(t, params[won].Manifest, got.Manifest)
		require.Equal(t, params[won].Seal, got.Seal)
		refs, err := f.st.ReferencedBlobs(f.ctx, nil)
		require.NoError(t, err)
		w := blob(1000*round+won, 10+won)
		require.Equal(t, w.Size, refs[w.Digest])
		for i := range sealers {
			if b := blob(1000*round+i, 10+i); i != won {
				require.NotContains(t, refs, b.Digest, "a losing seal's blob is referenced")
			}
		}
	}
}

// callEveryStore calls every Store method with ctx, each with a request
// that would otherwise succeed, and returns each method's error.
func callEveryStore(ctx context.Context, f *storeFixture, t testing.TB) map[string]error {
	calls := map[string]error{}
	_, calls["CreateSnapshot"] = f.st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: "fresh", OSRelease: "rhel-9", By: "x", At: f.tick()})
	_, calls["Snapshot"] = f.st.Snapshot(ctx, "building")
	_, calls["ListSnapshots"] = f.st.ListSnapshots(ctx, snapshot.SnapshotFilter{})
	_, calls["SealSnapshot"] = f.st.SealSnapshot(ctx, f.sealParams(t, "building", "rhel-9", blob(9, 9)))
	_, calls["SetSnapshotState"] = f.st.SetSnapshotState(ctx, snapshot.StateChange{ID: "released",
		From: snapshot.StateReleased, To: snapshot.StateDeprecated, By: "x", At: f.tick()})
	_, calls["SetSnapshotPinned"] = f.st.SetSnapshotPinned(ctx, snapshot.PinChange{ID: "released", Pinned: true, By: "x", At: f.tick()})
	_, calls["ReferencedBlobs"] = f.st.ReferencedBlobs(ctx, nil)
	_, calls["CountSnapshots"] = f.st.CountSnapshots(ctx)
	return calls
}

// testStoreCancelledContext: a cancelled context fails every method with
// context.Canceled and changes nothing.
func testStoreCancelledContext(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	building := f.bring(t, "building", "rhel-9", snapshot.StateBuilding)
	released := f.bring(t, "released", "rhel-9", snapshot.StateReleased, blob(1, 1))
	done, cancel := context.WithCancel(f.ctx)
	cancel()
	calls := callEveryStore(done, f, t)
	require.Len(t, calls, 8)
	for name, err := range calls {
		require.ErrorIs(t, err, context.Canceled, name)
	}
	require.Equal(t, building, f.get(t, "building"), "nothing changed")
	require.Equal(t, released, f.get(t, "released"), "nothing changed")
	_, err := f.st.Snapshot(f.ctx, "fresh")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testStoreClosed: after Close (twice is fine), every method fails with an
// error wrapping store.ErrClosed. Stores without Close(ctx) skip it.
func testStoreClosed(t *testing.T, newStore NewStore) {
	f := setupStore(t, newStore)
	c, ok := f.st.(interface{ Close(context.Context) error })
	if !ok {
		t.Skipf("%T has no Close(context.Context) error", f.st)
	}
	f.bring(t, "building", "rhel-9", snapshot.StateBuilding)
	f.bring(t, "released", "rhel-9", snapshot.StateReleased, blob(1, 1))
	require.NoError(t, c.Close(f.ctx))
	require.NoError(t, c.Close(f.ctx), "closing twice")
	for name, err := range callEveryStore(f.ctx, f, t) {
		require.ErrorIs(t, err, store.ErrClosed, name)
		require.False(t, errors.Is(err, store.ErrNotFound), name)
	}
}
