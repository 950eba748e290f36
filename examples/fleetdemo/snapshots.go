package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// rpm is a package of the demo's yum repository; its file holds stand-in
// bytes (yumrepotest.Fill), not a real rpm.
func rpm(name, arch, evr string) yumrepotest.Package {
	return yumrepotest.Package{Name: name, Arch: arch, EVR: evr}
}

// writeYumRepo writes pkgs into dir as a yum repository: the package files
// under Packages/, a gzipped primary.xml named by its sha256 and a
// repomd.xml pointing at it. Writing again "publishes" a new revision.
func writeYumRepo(ctx context.Context, dir string, revision int, pkgs []yumrepotest.Package) error {
	_, err := yumrepotest.Write(ctx, dir, pkgs, &yumrepotest.Options{Revision: strconv.Itoa(revision)})
	return err
}

// problems writes a report's problems compactly: "kind package (snapshot)".
func problems(r *snapshot.VerifyReport) string {
	if r.OK() {
		return fmt.Sprintf("OK, %d blobs checked", r.Checked)
	}
	var parts []string
	for _, p := range r.Problems {
		what := p.Snapshot
		if p.Package != "" {
			what = p.Package + " in " + p.Snapshot
		}
		parts = append(parts, string(p.Kind)+" "+what)
	}
	return fmt.Sprintf("%d problem(s): %s", len(r.Problems), strings.Join(parts, "; "))
}

// snapshots is the demo's section 9: OS snapshots built from a yum
// repository written into dir, stored in an fsblob store there.
func snapshots(ctx context.Context, dir string) error {
	section("10. OS snapshots: build from a yum repository, seal, verify, diff")
	repoDir, blobDir := filepath.Join(dir, "repo"), filepath.Join(dir, "blobs")
	pkgs := []yumrepotest.Package{
		rpm("bash", "x86_64", "5.1.8-9.el9"),
		rpm("kernel", "x86_64", "5.14.0-427.el9"),
		rpm("kernel", "x86_64", "5.14.0-503.el9"),
		rpm("openssl", "x86_64", "1:3.0.7-27.el9"),
		rpm("tzdata", "noarch", "2026a-1.el9"),
	}
	if err := writeYumRepo(ctx, repoDir, 1, pkgs); err != nil {
		return err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keys, err := snapshot.NewKeyRing("snap-2026", map[string][]byte{"snap-2026": key})
	if err != nil {
		return err
	}
	blobs, err := fsblob.New(blobDir, nil)
	if err != nil {
		return err
	}
	build := func(id, parent string) (*snapshot.Sealed, error) {
		return snapshot.Build(ctx, snapshot.BuildParams{
			ID: id, Parent: parent, OSRelease: "9.4", Arch: "x86_64",
			Repos: []snapshot.RepoSource{{Base: repoDir}}, Blobs: blobs, Keys: keys,
		})
	}
	verify := func(full bool, snaps ...snapshot.Sealed) (*snapshot.VerifyReport, error) {
		return snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: blobs, Keys: keys, Snapshots: snaps, Full: full})
	}

	nov, err := build("rhel9-2026.11", "")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "repository of %d rpms (kernel in two versions) → snapshot %s: %d packages, sealed with key %s\n",
		len(pkgs), nov.ID, len(nov.Packages), nov.KeyID)
	rep, err := verify(true, *nov)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "verify full:", problems(rep))

	// An update is published: a newer openssl beside the old one.
	pkgs = append(pkgs, rpm("openssl", "x86_64", "1:3.0.7-28.el9"))
	if err := writeYumRepo(ctx, repoDir, 2, pkgs); err != nil {
		return err
	}
	dec, err := build("rhel9-2026.12", nov.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s (parent %s) vs its parent: %s\n", dec.ID, dec.Parent, snapshot.Diff(&nov.Manifest, &dec.Manifest))

	// Damage bash's blob in place on disk (dir/sha256/ab/cdef…), same length.
	i := slices.IndexFunc(dec.Packages, func(p snapshot.PackageEntry) bool { return p.Name == "bash" })
	h := dec.Packages[i].Digest.Hex()
	blobFile := filepath.Join(blobDir, "sha256", h[:2], h[2:])
	data, err := os.ReadFile(blobFile)
	if err != nil {
		return err
	}
	data[0] ^= 0xff
	if err := os.WriteFile(blobFile, data, 0o644); err != nil {
		return err
	}
	if rep, err = verify(false, *nov, *dec); err != nil {
		return err
	}
	fmt.Fprintln(out, "one byte of bash's blob flipped on disk; verify quick:", problems(rep))
	if rep, err = verify(true, *nov, *dec); err != nil {
		return err
	}
	fmt.Fprintln(out, "verify full:", problems(rep))

	// Tamper with a copy of the sealed manifest: claim an older openssl.
	forged := *dec
	forged.Packages = slices.Clone(dec.Packages)
	j := slices.IndexFunc(forged.Packages, func(p snapshot.PackageEntry) bool { return p.Name == "openssl" })
	forged.Packages[j].EVR, _ = rpmver.Parse("1:3.0.7-27.el9")
	if rep, err = verify(false, forged); err != nil {
		return err
	}
	fmt.Fprintln(out, "openssl's EVR edited in the sealed manifest; verify:", problems(rep))
	return nil
}
