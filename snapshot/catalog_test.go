package snapshot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/store/memstore"
)

// Both a lifecycle service and a lifecycle store can tell BatchesInUse
// which snapshots active batches use.
var (
	_ snapshot.BatchLister = (*lifecycle.Service)(nil)
	_ snapshot.BatchLister = lifecycle.Store(nil)
)

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "rhel-9.4-20260304", "R9_1:2+3@x", strings.Repeat("x", 128)} {
		require.True(t, snapshot.ValidID(id), id)
	}
	for _, id := range []string{"", "-a", ".a", "a b", "a/b", "a\\b", "é", "a\n", strings.Repeat("x", 129)} {
		require.False(t, snapshot.ValidID(id), "%q", id)
	}
}

func TestStatesValid(t *testing.T) {
	t.Parallel()
	for _, s := range snapshot.States {
		require.True(t, s.Valid())
	}
	require.False(t, snapshot.State("").Valid())
	require.False(t, snapshot.State("Released").Valid())
}

// TestCheckStateChange checks the two edges that depend on more than the
// states (the store suite checks every pair through the stores).
func TestCheckStateChange(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := &snapshot.Snapshot{ID: "s", State: snapshot.StateBuilding}
	err := snapshot.CheckStateChange(cur, snapshot.StateChange{ID: "s", From: snapshot.StateBuilding, To: snapshot.StateSealed, By: "x", At: at})
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition)
	require.ErrorContains(t, err, "SealSnapshot")

	cur = &snapshot.Snapshot{ID: "s", State: snapshot.StateDeprecated}
	rollback := snapshot.StateChange{ID: "s", From: snapshot.StateDeprecated, To: snapshot.StateReleased, By: "x", At: at}
	require.ErrorIs(t, snapshot.CheckStateChange(cur, rollback), snapshot.ErrInvalidTransition)
	cur.ReleasedAt = at.Add(-time.Hour)
	require.NoError(t, snapshot.CheckStateChange(cur, rollback))
	next := snapshot.ApplyStateChange(cur, rollback)
	require.Equal(t, at, next.ReleasedAt)
	require.Empty(t, cur.History, "Apply leaves its input alone")
	require.Len(t, next.History, 1)
}

func TestSealParamsValidate(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 1500, time.UTC)
	b1, b2 := snapshot.DigestOf([]byte("1")), snapshot.DigestOf([]byte("2"))
	m := &snapshot.Manifest{ID: "s", OSRelease: "rhel-9", Packages: []snapshot.PackageEntry{
		{Name: "a", Arch: "noarch", EVR: evr("1"), Size: 10, Digest: b1},
		{Name: "b", Arch: "noarch", EVR: evr("1"), Size: 10, Digest: b1},
	}, BootFiles: []snapshot.BootFile{{Name: "vmlinuz", Size: 5, Digest: b2}}}
	c, err := m.Canonical()
	require.NoError(t, err)
	mac := []byte{1, 2, 3}
	p, content, err := snapshot.SealParams{ID: "s", Manifest: c, Seal: snapshot.Seal{KeyID: "k", MAC: mac}, By: "x", At: at}.Validate()
	require.NoError(t, err)
	require.Equal(t, map[snapshot.Digest]int64{b1: 10, b2: 5}, content.Blobs)
	require.Equal(t, int64(15), content.TotalBytes)
	require.Equal(t, snapshot.StoredTime(at), p.At)
	mac[0] = 9
	require.Equal(t, byte(1), p.Seal.MAC[0], "Validate copies what it keeps")
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]snapshot.RetentionPolicy{
		"KeepReleased":       {KeepReleased: -1},
		"DeprecatedTTL":      {DeprecatedTTL: -time.Second},
		"AbandonBuildsAfter": {AbandonBuildsAfter: -time.Second},
		"BlobGrace":          {BlobGrace: -time.Second},
	} {
		err := p.Validate()
		require.ErrorIs(t, err, snapshot.ErrInvalidPolicy, name)
		require.ErrorContains(t, err, name)
		_, err = snapshot.Plan(context.Background(), snapshot.PurgeParams{Store: memstore.New(nil), Blobs: memblob.New(nil), Policy: p})
		require.ErrorIs(t, err, snapshot.ErrInvalidPolicy, name)
	}
	require.NoError(t, snapshot.RetentionPolicy{}.Validate())
	_, err := snapshot.Purge(context.Background(), snapshot.PurgeParams{Blobs: memblob.New(nil)})
	require.ErrorIs(t, err, snapshot.ErrInvalidPolicy, "no store")
	_, err = snapshot.Purge(context.Background(), snapshot.PurgeParams{Store: memstore.New(nil)})
	require.ErrorIs(t, err, snapshot.ErrInvalidPolicy, "no blob store")
}

// TestPurgeInUseFails: when the snapshots in use cannot be known, Purge
// retires nothing.
func TestPurgeInUseFails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New(nil)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	releaseOne(t, st, "old", at)
	releaseOne(t, st, "new", at.Add(time.Hour))
	boom := errors.New("lifecycle unreachable")
	rep, err := snapshot.Purge(ctx, snapshot.PurgeParams{Store: st, Blobs: memblob.New(nil),
		Policy: snapshot.RetentionPolicy{KeepReleased: 1},
		InUse:  func(context.Context) (map[string]bool, error) { return nil, boom }})
	require.ErrorIs(t, err, boom)
	require.Nil(t, rep)
	s, err := st.Snapshot(ctx, "old")
	require.NoError(t, err)
	require.Equal(t, snapshot.StateReleased, s.State)
}

// TestBatchesInUse: the snapshots of pending and running batches, through
// the lifecycle service, across pages; ended batches do not count.
func TestBatchesInUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, err := lifecycle.New(memstore.New(nil), nil)
	require.NoError(t, err)
	var want []string
	for i, host := range []string{"a1.example.com", "a2.example.com", "a3.example.com", "a4.example.com"} {
		id := "rhel-9-" + string(rune('a'+i))
		res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage, Hosts: []string{host}, Snapshot: id})
		require.NoError(t, err)
		if i == 3 {
			_, err := svc.Cancel(ctx, res.Batch.ID)
			require.NoError(t, err)
			continue
		}
		want = append(want, id)
	}
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReboot, Hosts: []string{"b1.example.com"}})
	require.NoError(t, err)

	got, err := snapshot.BatchesInUse(pagedLister{svc})(ctx)
	require.NoError(t, err)
	var ids []string
	for id, ok := range got {
		require.True(t, ok)
		ids = append(ids, id)
	}
	slices.Sort(ids)
	require.Equal(t, want, ids)

	_, err = snapshot.BatchesInUse(failingLister{})(ctx)
	require.ErrorContains(t, err, "list active batches")
}

// pagedLister lists one batch a page, so that BatchesInUse must follow
// cursors.
type pagedLister struct{ l snapshot.BatchLister }

func (p pagedLister) ListBatches(ctx context.Context, f lifecycle.BatchFilter) (lifecycle.BatchPage, error) {
	f.Limit = 1
	return p.l.ListBatches(ctx, f)
}

type failingLister struct{}

func (failingLister) ListBatches(context.Context, lifecycle.BatchFilter) (lifecycle.BatchPage, error) {
	return lifecycle.BatchPage{}, errors.New("down")
}
