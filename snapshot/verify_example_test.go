package snapshot_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

func ExampleVerify() {
	ctx := context.Background()
	keys, err := snapshot.NewKeyRing("k1", map[string][]byte{"k1": []byte("an example key of at least 32 bytes")})
	if err != nil {
		fmt.Println(err)
		return
	}

	// A snapshot of two packages, of which only bash is stored.
	store := memblob.New(nil)
	entry := func(name, content string) snapshot.PackageEntry {
		d := snapshot.DigestOf([]byte(content))
		return snapshot.PackageEntry{Name: name, Arch: "x86_64", EVR: rpmver.EVR{Version: "1.0", Release: "1.el9"},
			Size: int64(len(content)), Digest: d}
	}
	bash, glibc := entry("bash", "bash rpm"), entry("glibc", "glibc rpm")
	if _, err := store.Put(ctx, bash.Digest, bash.Size, strings.NewReader("bash rpm")); err != nil {
		fmt.Println(err)
		return
	}
	snap, err := keys.SealManifest(&snapshot.Manifest{ID: "snap-1", OSRelease: "rhel-9.4",
		Packages: []snapshot.PackageEntry{bash, glibc}})
	if err != nil {
		fmt.Println(err)
		return
	}

	report, err := snapshot.Verify(ctx, snapshot.VerifyParams{
		Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}, Full: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ok:", report.OK(), "checked:", report.Checked, "bytes:", report.Bytes)
	for _, p := range report.Problems {
		fmt.Println(p.Snapshot, p.Kind, p.Package, p.Detail)
	}
	// Output:
	// ok: false checked: 2 bytes: 8
	// snap-1 missing glibc-1.0-1.el9.x86_64 blob not in the store
}
