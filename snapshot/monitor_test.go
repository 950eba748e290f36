package snapshot_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
	"github.com/fleetkit/fleetkit/store/memstore"
)

// monitorLab is a snapshot built from a yum repository into memory and
// recorded, sealed, in a catalogue.
type monitorLab struct {
	repo   string
	blobs  snapshot.BlobStore
	st     *memstore.Store
	sealed *snapshot.Sealed
	pkgs   []yumrepotest.Package
}

func newMonitorLab(t *testing.T) *monitorLab { return newMonitorLabOn(t, memblob.New(nil)) }

func newMonitorLabOn(t *testing.T, blobs snapshot.BlobStore) *monitorLab {
	t.Helper()
	ctx := context.Background()
	lab := &monitorLab{repo: t.TempDir(), blobs: blobs, st: memstore.New(nil), pkgs: []yumrepotest.Package{
		{Name: "bash", Arch: "x86_64", EVR: "5.1.8-9.el9"},
		{Name: "openssl", Arch: "x86_64", EVR: "1:3.0.7-27.el9"},
	}}
	_, err := yumrepotest.Write(ctx, lab.repo, lab.pkgs, nil)
	require.NoError(t, err)
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	_, err = lab.st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: "rhel9-a", OSRelease: "rhel-9", By: "ci", At: at})
	require.NoError(t, err)
	lab.sealed, err = snapshot.Build(ctx, snapshot.BuildParams{ID: "rhel9-a", OSRelease: "rhel-9", Arch: "x86_64",
		Repos: []snapshot.RepoSource{{Base: lab.repo}}, Blobs: lab.blobs, Keys: snapshottest.TestKeyRing(),
		Now: func() time.Time { return at }})
	require.NoError(t, err)
	c, err := lab.sealed.Canonical()
	require.NoError(t, err)
	_, err = lab.st.SealSnapshot(ctx, snapshot.SealParams{ID: "rhel9-a", Manifest: c, Seal: lab.sealed.Seal, By: "ci", At: at})
	require.NoError(t, err)
	return lab
}

func (lab *monitorLab) monitor(t *testing.T, n fleetkit.Notifier) *snapshot.Monitor {
	t.Helper()
	m, err := snapshot.NewMonitor(&snapshot.MonitorConfig{Catalogue: lab.st, Blobs: lab.blobs, Keys: snapshottest.TestKeyRing(),
		Repos: []snapshot.RepoSource{{Base: lab.repo}}, Notifier: n, Interval: 5 * time.Millisecond, FullEvery: 2})
	require.NoError(t, err)
	return m
}

func TestMonitorCleanRound(t *testing.T) {
	lab := newMonitorLab(t)
	rec := &fleetkit.Recorder{}
	rep, err := lab.monitor(t, rec).Check(context.Background(), true)
	require.NoError(t, err)
	require.True(t, rep.OK(), "%s: %+v", rep, rep.Verify.Problems)
	require.Equal(t, 1, rep.Snapshots)
	require.Equal(t, 2, rep.Verify.Checked)
	require.Positive(t, rep.Verify.Bytes)
	require.Empty(t, rec.Events())
	require.Equal(t, "full check of 1 snapshot(s): 0 problem(s), 0 drifted package(s), 0 unreadable repo(s)", rep.String())
}

func TestMonitorFindsDamage(t *testing.T) {
	lab := newMonitorLab(t)
	rec := &fleetkit.Recorder{}
	m := lab.monitor(t, rec)
	ctx := context.Background()
	bash := lab.sealed.Manifest.Packages[0]
	require.Equal(t, "bash", bash.Name)
	require.NoError(t, lab.blobs.Delete(ctx, bash.Digest))

	rep, err := m.Check(ctx, false)
	require.NoError(t, err)
	require.False(t, rep.OK())
	require.Len(t, rep.Verify.Problems, 1)
	require.Equal(t, snapshot.ProblemMissing, rep.Verify.Problems[0].Kind)
	es := rec.Events()
	require.Len(t, es, 1)
	require.Equal(t, snapshot.EventProblem, es[0].Kind)
	require.Equal(t, "rhel9-a", es[0].Subject)
	require.Equal(t, "missing", es[0].Attrs["kind"])
	require.Equal(t, "bash-5.1.8-9.el9.x86_64", es[0].Attrs["package"])
	require.Equal(t, bash.Digest.String(), es[0].Attrs["digest"])
}

// TestMonitorDrift: upstream republishes openssl at the same EVR with
// other bytes; the unchanged package is not reported.
func TestMonitorDrift(t *testing.T) {
	lab := newMonitorLab(t)
	rec := &fleetkit.Recorder{}
	ctx := context.Background()
	pkgs := append([]yumrepotest.Package(nil), lab.pkgs...)
	pkgs[1].Content = []byte("a rebuilt openssl, same version")
	_, err := yumrepotest.Write(ctx, lab.repo, pkgs, &yumrepotest.Options{Revision: "2"})
	require.NoError(t, err)
	rep, err := lab.monitor(t, rec).Check(ctx, false)
	require.NoError(t, err)
	require.True(t, rep.Verify.OK(), "the stored blobs are intact")
	require.Len(t, rep.Drift, 1)
	d := rep.Drift[0]
	require.Equal(t, "rhel9-a", d.Snapshot)
	require.Equal(t, "openssl-1:3.0.7-27.el9.x86_64", d.Package)
	require.Equal(t, lab.sealed.Manifest.Packages[1].Digest, d.Stored)
	require.Equal(t, snapshot.DigestOf(pkgs[1].Content).Hex(), d.Upstream)
	es := rec.Events()
	require.Len(t, es, 1)
	require.Equal(t, snapshot.EventDrift, es[0].Kind)
	require.Equal(t, d.Package, es[0].Attrs["package"])
}

func TestMonitorRepoUnreachable(t *testing.T) {
	lab := newMonitorLab(t)
	rec := &fleetkit.Recorder{}
	m, err := snapshot.NewMonitor(&snapshot.MonitorConfig{Catalogue: lab.st, Blobs: lab.blobs, Keys: snapshottest.TestKeyRing(),
		Repos: []snapshot.RepoSource{{Base: t.TempDir()}}, Notifier: rec})
	require.NoError(t, err)
	rep, err := m.Check(context.Background(), false)
	require.NoError(t, err)
	require.Len(t, rep.RepoErrors, 1)
	require.False(t, rep.OK())
	require.Equal(t, snapshot.EventRepoUnreachable, rec.Events()[0].Kind)
}

// TestMonitorRun: rounds run on a schedule, full every FullEvery-th, on
// one node at a time.
func TestMonitorRun(t *testing.T) {
	dir := t.TempDir()
	blobs, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	lab := newMonitorLabOn(t, blobs)
	// Damage in place behind the store's back, same length: only a full
	// round sees it.
	bash := lab.sealed.Manifest.Packages[0]
	data := yumrepotest.Fill("bash", "5.1.8-9.el9", "x86_64")
	data[0] ^= 0xff
	h := bash.Digest.Hex()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sha256", h[:2], h[2:]), data, 0o644))

	rec := &fleetkit.Recorder{}
	locker := memstore.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	for range 2 { // two nodes
		m, err := snapshot.NewMonitor(&snapshot.MonitorConfig{Catalogue: lab.st, Blobs: lab.blobs, Keys: snapshottest.TestKeyRing(),
			Notifier: rec, Interval: 5 * time.Millisecond, FullEvery: 2, Locker: locker})
		require.NoError(t, err)
		go func() { done <- m.Run(ctx) }()
	}
	wait, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	es, err := rec.WaitFor(wait, snapshot.EventProblem, 2)
	cancel()
	require.NoError(t, <-done)
	require.NoError(t, <-done)
	require.NoError(t, err)
	for _, e := range es {
		require.Equal(t, "corrupt", e.Attrs["kind"], "full rounds find the damage; quick rounds do not")
	}
}
