package snapshot_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
	"github.com/fleetkit/fleetkit/store/memstore"
)

// A monitor round over a catalogue of one snapshot: all is well, until
// the source repository republishes a package under the same version.
func ExampleMonitor_Check() {
	ctx := context.Background()
	repo, _ := os.MkdirTemp("", "monitor-example-")
	defer os.RemoveAll(repo)
	pkgs := []yumrepotest.Package{{Name: "openssl", Arch: "x86_64", EVR: "1:3.0.7-27.el9"}}
	_, _ = yumrepotest.Write(ctx, repo, pkgs, nil)

	cat, blobs := memstore.New(nil), memblob.New(nil)
	ring, _ := snapshot.NewKeyRing("k1", map[string][]byte{"k1": []byte("an example key of 32 bytes or more")})
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	_, _ = cat.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: "rhel9-a", OSRelease: "rhel-9", By: "builder", At: at})
	sealed, _ := snapshot.Build(ctx, snapshot.BuildParams{ID: "rhel9-a", OSRelease: "rhel-9", Arch: "x86_64",
		Repos: []snapshot.RepoSource{{Base: repo}}, Blobs: blobs, Keys: ring})
	canonical, _ := sealed.Canonical()
	_, _ = cat.SealSnapshot(ctx, snapshot.SealParams{ID: "rhel9-a", Manifest: canonical, Seal: sealed.Seal, By: "builder", At: at})

	events := &fleetkit.Recorder{}
	mon, _ := snapshot.NewMonitor(&snapshot.MonitorConfig{Catalogue: cat, Blobs: blobs, Keys: ring,
		Repos: []snapshot.RepoSource{{Base: repo}}, Notifier: events})
	rep, _ := mon.Check(ctx, true)
	fmt.Println(rep)

	pkgs[0].Content = []byte("rebuilt upstream, same version")
	_, _ = yumrepotest.Write(ctx, repo, pkgs, &yumrepotest.Options{Revision: "2"})
	rep, _ = mon.Check(ctx, false)
	fmt.Println(rep)
	fmt.Println(events.Kinds(), rep.Drift[0].Package)
	// Output:
	// full check of 1 snapshot(s): 0 problem(s), 0 drifted package(s), 0 unreadable repo(s)
	// quick check of 1 snapshot(s): 0 problem(s), 1 drifted package(s), 0 unreadable repo(s)
	// [snapshot.drift] openssl-1:3.0.7-27.el9.x86_64
}
