package snapshot_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// TestProgress: Build and Verify report each file and blob once, up to
// the total.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	repo := t.TempDir()
	pkgs := []yumrepotest.Package{
		{Name: "bash", Arch: "x86_64", EVR: "5.1.8-9.el9"},
		{Name: "openssl", Arch: "x86_64", EVR: "1:3.0.7-27.el9"},
		{Name: "tzdata", Arch: "noarch", EVR: "2026a-1.el9"},
	}
	_, err := yumrepotest.Write(ctx, repo, pkgs, nil)
	require.NoError(t, err)
	blobs := memblob.New(nil)
	var mu sync.Mutex
	var builds [][2]int
	sealed, err := snapshot.Build(ctx, snapshot.BuildParams{ID: "p1", OSRelease: "rhel-9", Arch: "x86_64",
		Repos: []snapshot.RepoSource{{Base: repo}}, Blobs: blobs, Keys: snapshottest.TestKeyRing(),
		Progress: func(done, total int) { mu.Lock(); builds = append(builds, [2]int{done, total}); mu.Unlock() }})
	require.NoError(t, err)
	require.Len(t, sealed.Manifest.Packages, 3)
	require.Equal(t, [][2]int{{1, 3}, {2, 3}, {3, 3}}, builds)

	var verifies [][3]int
	rep, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: blobs, Keys: snapshottest.TestKeyRing(),
		Snapshots: []snapshot.Sealed{*sealed}, Full: true,
		Progress: func(done, total, failed int) { verifies = append(verifies, [3]int{done, total, failed}) }})
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.Equal(t, [][3]int{{1, 3, 0}, {2, 3, 0}, {3, 3, 0}}, verifies)

	require.NoError(t, blobs.Delete(ctx, sealed.Manifest.Packages[0].Digest))
	verifies = nil
	_, err = snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: blobs, Keys: snapshottest.TestKeyRing(),
		Snapshots: []snapshot.Sealed{*sealed}, Concurrency: 1,
		Progress: func(done, total, failed int) { verifies = append(verifies, [3]int{done, total, failed}) }})
	require.NoError(t, err)
	require.Equal(t, [3]int{3, 3, 1}, verifies[2], "the missing blob counts as failed")
}
