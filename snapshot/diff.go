package snapshot

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// ManifestDiff is what changes when hosts move from one snapshot to
// another, as [Diff] computes it. Every slice is sorted by name, then arch
// (boot files by name), then by version, so that equal inputs give equal
// diffs whatever the order of the manifests' slices.
type ManifestDiff struct {
	Added   []PackageEntry // packages only the new manifest has
	Removed []PackageEntry // packages only the old manifest has

	// Upgraded and Downgraded are packages whose single entry for a name
	// and arch has a newer, respectively older, EVR in the new manifest
	// (by [rpmver.CompareEVR]).
	Upgraded   []Change
	Downgraded []Change

	// Rebuilt are packages with the same EVR in both manifests but a
	// different digest or size: the same version built again, which is
	// worth a look before rolling out.
	Rebuilt []Change

	// BootFiles are boot files added, removed or changed (another digest
	// or size).
	BootFiles []BootFileChange
}

// Change is one package present in both manifests under the same name and
// arch, with its entry in the old (From) and the new (To) manifest.
type Change struct {
	Name string
	Arch string
	From PackageEntry
	To   PackageEntry
}

// BootFileChange is one boot file that differs between two manifests. From
// is nil when the file was added, To is nil when it was removed, and both
// are set when its digest or size changed.
type BootFileChange struct {
	Name string
	From *BootFile
	To   *BootFile
}

// Diff reports how next differs from old. A nil manifest counts as an empty
// one. Diff does not validate its inputs; it never fails and its result
// does not depend on the order of either manifest's slices.
//
// Packages are matched by name and arch. Where each manifest holds exactly
// one entry for a name and arch, the entries compare by
// [rpmver.CompareEVR]: a newer EVR is an upgrade, an older one a downgrade,
// and an equal one with another digest or size is a rebuild. Where either
// manifest holds several entries for a name and arch (installonly packages
// such as kernel, of which a host keeps several versions), the two groups
// are compared as sets: entries with equal EVRs are paired first (and
// reported as rebuilt if their digest or size differ), and every entry left
// over is reported as removed (old) or added (new), never as an upgrade,
// because which old kernel a new one "replaces" is not defined.
//
// A change of Location alone, or of an EVR's spelling that CompareEVR
// calls equal ("1.0" and "1.00"), is not reported.
//
// Boot files are matched by name; one whose digest or size differs is
// reported as changed.
func Diff(old, next *Manifest) ManifestDiff {
	var d ManifestDiff
	oldPkgs, newPkgs := sortedPackages(old), sortedPackages(next)
	for len(oldPkgs) > 0 || len(newPkgs) > 0 {
		var key PackageEntry
		switch {
		case len(oldPkgs) == 0:
			key = newPkgs[0]
		case len(newPkgs) == 0:
			key = oldPkgs[0]
		case compareNameArch(oldPkgs[0], newPkgs[0]) <= 0:
			key = oldPkgs[0]
		default:
			key = newPkgs[0]
		}
		var o, n []PackageEntry
		o, oldPkgs = cutGroup(oldPkgs, key)
		n, newPkgs = cutGroup(newPkgs, key)
		d.addGroup(o, n)
	}

	sortChanges(d.Upgraded)
	sortChanges(d.Downgraded)
	sortChanges(d.Rebuilt)
	d.BootFiles = diffBootFiles(old, next)
	return d
}

// addGroup adds to d the differences between o and n, the entries of one
// name and arch in the old and the new manifest, each sorted by
// comparePackages.
func (d *ManifestDiff) addGroup(o, n []PackageEntry) {
	if len(o) == 1 && len(n) == 1 {
		d.addPair(o[0], n[0])
		return
	}
	// Merge the two sorted groups, pairing entries with equal EVRs.
	i, j := 0, 0
	for i < len(o) && j < len(n) {
		switch c := rpmver.CompareEVR(o[i].EVR, n[j].EVR); {
		case c < 0:
			d.Removed = append(d.Removed, o[i])
			i++
		case c > 0:
			d.Added = append(d.Added, n[j])
			j++
		default:
			d.addPair(o[i], n[j])
			i++
			j++
		}
	}
	d.Removed = append(d.Removed, o[i:]...)
	d.Added = append(d.Added, n[j:]...)
}

// addPair classifies a matched pair of entries.
func (d *ManifestDiff) addPair(from, to PackageEntry) {
	ch := Change{Name: from.Name, Arch: from.Arch, From: from, To: to}
	switch c := rpmver.CompareEVR(from.EVR, to.EVR); {
	case c < 0:
		d.Upgraded = append(d.Upgraded, ch)
	case c > 0:
		d.Downgraded = append(d.Downgraded, ch)
	case from.Digest != to.Digest || from.Size != to.Size:
		d.Rebuilt = append(d.Rebuilt, ch)
	}
}

// sortedPackages returns a sorted copy of m's packages (none for nil m).
func sortedPackages(m *Manifest) []PackageEntry {
	if m == nil {
		return nil
	}
	pkgs := slices.Clone(m.Packages)
	slices.SortFunc(pkgs, comparePackages)
	return pkgs
}

// compareNameArch orders packages by name, then arch.
func compareNameArch(a, b PackageEntry) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch))
}

// cutGroup splits the leading entries of pkgs that have key's name and arch
// from the rest.
func cutGroup(pkgs []PackageEntry, key PackageEntry) (group, rest []PackageEntry) {
	k := 0
	for k < len(pkgs) && compareNameArch(pkgs[k], key) == 0 {
		k++
	}
	return pkgs[:k], pkgs[k:]
}

// sortChanges sorts changes by name, arch, then old and new entry.
func sortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int {
		return cmp.Or(comparePackages(a.From, b.From), comparePackages(a.To, b.To))
	})
}

// diffBootFiles compares the boot files of old and new by name. Should a
// manifest (invalidly) hold several files of one name, identical files are
// paired first and the rest reported as added or removed, as for packages.
func diffBootFiles(old, next *Manifest) []BootFileChange {
	o, n := sortedBootFiles(old), sortedBootFiles(next)
	var out []BootFileChange
	for len(o) > 0 || len(n) > 0 {
		var name string
		switch {
		case len(o) == 0:
			name = n[0].Name
		case len(n) == 0:
			name = o[0].Name
		default:
			name = min(o[0].Name, n[0].Name)
		}
		var og, ng []BootFile
		og, o = cutBootGroup(o, name)
		ng, n = cutBootGroup(n, name)
		if len(og) == 1 && len(ng) == 1 {
			if og[0] != ng[0] {
				out = append(out, BootFileChange{Name: name, From: &og[0], To: &ng[0]})
			}
			continue
		}
		i, j := 0, 0
		for i < len(og) || j < len(ng) {
			switch c := compareBootFiles(og, ng, i, j); {
			case c < 0:
				out = append(out, BootFileChange{Name: name, From: &og[i]})
				i++
			case c > 0:
				out = append(out, BootFileChange{Name: name, To: &ng[j]})
				j++
			default:
				i++
				j++
			}
		}
	}
	return out
}

// compareBootFiles compares og[i] and ng[j], an exhausted side sorting
// last.
func compareBootFiles(og, ng []BootFile, i, j int) int {
	switch {
	case i == len(og):
		return 1
	case j == len(ng):
		return -1
	}
	return compareBootFile(og[i], ng[j])
}

// compareBootFile orders boot files by name, digest and size.
func compareBootFile(a, b BootFile) int {
	return cmp.Or(
		cmp.Compare(a.Name, b.Name),
		bytes.Compare(a.Digest[:], b.Digest[:]),
		cmp.Compare(a.Size, b.Size),
	)
}

// sortedBootFiles returns a sorted copy of m's boot files (none for nil m).
func sortedBootFiles(m *Manifest) []BootFile {
	if m == nil {
		return nil
	}
	files := slices.Clone(m.BootFiles)
	slices.SortFunc(files, compareBootFile)
	return files
}

// cutBootGroup splits the leading files of files named name from the rest.
func cutBootGroup(files []BootFile, name string) (group, rest []BootFile) {
	k := 0
	for k < len(files) && files[k].Name == name {
		k++
	}
	return files[:k], files[k:]
}

// Empty reports whether d records no change at all.
func (d ManifestDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 &&
		len(d.Upgraded) == 0 && len(d.Downgraded) == 0 &&
		len(d.Rebuilt) == 0 && len(d.BootFiles) == 0
}

// maxListed is how many changes String spells out per category.
const maxListed = 3

// String returns a one-line summary for people, such as
//
//	3 added, 1 removed, 2 upgraded (kernel 5.14.0-1 → 5.14.0-2, bash 5.1-1 → 5.1-2), 0 downgraded, 0 rebuilt, 0 boot files changed
//
// naming the first few upgrades, downgrades and rebuilds, or "no changes"
// when d is empty. Its wording is not stable; programs should read the
// fields.
func (d ManifestDiff) String() string {
	if d.Empty() {
		return "no changes"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d added, %d removed, %d upgraded", len(d.Added), len(d.Removed), len(d.Upgraded))
	writeChanges(&b, d.Upgraded)
	fmt.Fprintf(&b, ", %d downgraded", len(d.Downgraded))
	writeChanges(&b, d.Downgraded)
	fmt.Fprintf(&b, ", %d rebuilt", len(d.Rebuilt))
	writeChanges(&b, d.Rebuilt)
	if len(d.BootFiles) == 1 {
		b.WriteString(", 1 boot file changed")
	} else {
		fmt.Fprintf(&b, ", %d boot files changed", len(d.BootFiles))
	}
	return b.String()
}

// writeChanges writes " (name from → to, …)" for the first maxListed
// changes of cs, or nothing if cs is empty.
func writeChanges(b *strings.Builder, cs []Change) {
	if len(cs) == 0 {
		return
	}
	b.WriteString(" (")
	for i, c := range cs {
		if i == maxListed {
			b.WriteString(", …")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if c.From.EVR == c.To.EVR {
			fmt.Fprintf(b, "%s %s", c.Name, c.To.EVR)
		} else {
			fmt.Fprintf(b, "%s %s → %s", c.Name, c.From.EVR, c.To.EVR)
		}
	}
	b.WriteByte(')')
}
