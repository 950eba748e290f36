package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// rpmFile is a package of the demo's yum repository: its metadata and a
// payload of random bytes standing in for the rpm.
type rpmFile struct {
	name, arch, evr string
	content         []byte
}

// href is the package's location in the repository.
func (p rpmFile) href() string { return "Packages/" + p.name + "-" + p.evr + "." + p.arch + ".rpm" }

func newRPM(name, arch, evr string) rpmFile {
	content := make([]byte, 256+16*len(name))
	_, _ = rand.Read(content)
	return rpmFile{name: name, arch: arch, evr: evr, content: content}
}

// writeYumRepo writes pkgs into dir as a yum repository: the package files
// under Packages/, a gzipped primary.xml named by its sha256 and a
// repomd.xml pointing at it. Writing again "publishes" a new revision.
func writeYumRepo(dir string, revision int, pkgs []rpmFile) error {
	for _, sub := range []string{"repodata", "Packages"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	var primary strings.Builder
	fmt.Fprintf(&primary, `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">
`, len(pkgs))
	for _, p := range pkgs {
		evr, err := rpmver.Parse(p.evr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(p.href())), p.content, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&primary, `<package type="rpm"><name>%s</name><arch>%s</arch>`+
			`<version epoch="%d" ver="%s" rel="%s"/><checksum type="sha256" pkgid="YES">%x</checksum>`+
			`<size package="%d" installed="0" archive="0"/><location href="%s"/></package>
`, p.name, p.arch, evr.Epoch, evr.Version, evr.Release, sha256.Sum256(p.content), len(p.content), p.href())
	}
	primary.WriteString("</metadata>\n")

	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	if _, err := w.Write([]byte(primary.String())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256(gz.Bytes())
	href := fmt.Sprintf("repodata/%x-primary.xml.gz", sum)
	if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(href)), gz.Bytes(), 0o644); err != nil {
		return err
	}
	repomd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <revision>%d</revision>
  <data type="primary">
    <checksum type="sha256">%x</checksum>
    <location href="%s"/>
    <size>%d</size>
  </data>
</repomd>
`, revision, sum, href, gz.Len())
	return os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte(repomd), 0o644)
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
	section("9. OS snapshots: build from a yum repository, seal, verify, diff")
	repoDir, blobDir := filepath.Join(dir, "repo"), filepath.Join(dir, "blobs")
	pkgs := []rpmFile{
		newRPM("bash", "x86_64", "5.1.8-9.el9"),
		newRPM("kernel", "x86_64", "5.14.0-427.el9"),
		newRPM("kernel", "x86_64", "5.14.0-503.el9"),
		newRPM("openssl", "x86_64", "1:3.0.7-27.el9"),
		newRPM("tzdata", "noarch", "2026a-1.el9"),
	}
	if err := writeYumRepo(repoDir, 1, pkgs); err != nil {
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
	pkgs = append(pkgs, newRPM("openssl", "x86_64", "1:3.0.7-28.el9"))
	if err := writeYumRepo(repoDir, 2, pkgs); err != nil {
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
