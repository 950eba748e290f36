package snapshot_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// pkg builds a package entry from "[epoch:]version[-release]"; its digest
// and size follow from seed, so that equal seeds give equal builds.
func pkg(t testing.TB, name, arch, evr string, seed byte) snapshot.PackageEntry {
	t.Helper()
	e, err := rpmver.Parse(evr)
	require.NoError(t, err)
	return snapshot.PackageEntry{
		Name:     name,
		Arch:     arch,
		EVR:      e,
		Size:     1000 + int64(seed),
		Digest:   snapshot.DigestOf([]byte{seed}),
		Location: fmt.Sprintf("Packages/%s-%s.%s.rpm", name, evr, arch),
	}
}

func boot(name string, seed byte) snapshot.BootFile {
	return snapshot.BootFile{Name: name, Size: 100 + int64(seed), Digest: snapshot.DigestOf([]byte{'b', seed})}
}

func manifest(id string, pkgs []snapshot.PackageEntry, files ...snapshot.BootFile) *snapshot.Manifest {
	return &snapshot.Manifest{ID: id, OSRelease: "rhel-9.4", Arch: "x86_64", Packages: pkgs, BootFiles: files}
}

func TestDiff(t *testing.T) {
	t.Parallel()

	bash1 := pkg(t, "bash", "x86_64", "5.1.8-6.el9", 1)
	bash2 := pkg(t, "bash", "x86_64", "5.1.8-9.el9", 2)
	bash2rebuilt := bash2
	bash2rebuilt.Digest = snapshot.DigestOf([]byte("rebuilt"))
	bash2resized := bash2
	bash2resized.Size++
	bash2moved := bash2
	bash2moved.Location = "elsewhere/bash.rpm"
	glibc := pkg(t, "glibc", "x86_64", "2.34-100.el9", 3)
	glibc32 := pkg(t, "glibc", "i686", "2.34-100.el9", 4)
	glibc32new := pkg(t, "glibc", "i686", "2.34-101.el9", 5)
	epoch := pkg(t, "bind", "x86_64", "32:9.16.23-1.el9", 6)
	noEpoch := pkg(t, "bind", "x86_64", "9.18.0-1.el9", 7)
	k1 := pkg(t, "kernel", "x86_64", "5.14.0-1.el9", 11)
	k2 := pkg(t, "kernel", "x86_64", "5.14.0-2.el9", 12)
	k3 := pkg(t, "kernel", "x86_64", "5.14.0-3.el9", 13)
	k2rebuilt := k2
	k2rebuilt.Digest = snapshot.DigestOf([]byte("k2 again"))
	vmlinuz1, vmlinuz2 := boot("vmlinuz", 1), boot("vmlinuz", 2)
	initrd := boot("initramfs.img", 3)

	ps := func(p ...snapshot.PackageEntry) []snapshot.PackageEntry { return p }
	ch := func(from, to snapshot.PackageEntry) snapshot.Change {
		return snapshot.Change{Name: from.Name, Arch: from.Arch, From: from, To: to}
	}

	tests := []struct {
		name     string
		old, new *snapshot.Manifest
		want     snapshot.ManifestDiff
	}{
		{
			name: "identical",
			old:  manifest("a", ps(bash1, glibc, k1, k2), vmlinuz1),
			new:  manifest("b", ps(k2, glibc, bash1, k1), vmlinuz1),
		},
		{
			name: "both nil",
		},
		{
			name: "location alone is no change",
			old:  manifest("a", ps(bash2)),
			new:  manifest("b", ps(bash2moved)),
		},
		{
			name: "added",
			old:  manifest("a", ps(bash1)),
			new:  manifest("b", ps(glibc, bash1, glibc32)),
			want: snapshot.ManifestDiff{Added: ps(glibc32, glibc)},
		},
		{
			name: "removed",
			old:  manifest("a", ps(glibc, bash1, glibc32)),
			new:  manifest("b", ps(bash1)),
			want: snapshot.ManifestDiff{Removed: ps(glibc32, glibc)},
		},
		{
			name: "from nil",
			new:  manifest("b", ps(bash1), initrd),
			want: snapshot.ManifestDiff{Added: ps(bash1), BootFiles: []snapshot.BootFileChange{{Name: initrd.Name, To: &initrd}}},
		},
		{
			name: "upgraded",
			old:  manifest("a", ps(bash1, glibc32)),
			new:  manifest("b", ps(glibc32new, bash2)),
			want: snapshot.ManifestDiff{Upgraded: []snapshot.Change{ch(bash1, bash2), ch(glibc32, glibc32new)}},
		},
		{
			name: "upgraded by epoch",
			old:  manifest("a", ps(noEpoch)),
			new:  manifest("b", ps(epoch)),
			want: snapshot.ManifestDiff{Upgraded: []snapshot.Change{ch(noEpoch, epoch)}},
		},
		{
			name: "downgraded",
			old:  manifest("a", ps(bash2, glibc)),
			new:  manifest("b", ps(bash1, glibc)),
			want: snapshot.ManifestDiff{Downgraded: []snapshot.Change{ch(bash2, bash1)}},
		},
		{
			name: "arch matters",
			old:  manifest("a", ps(glibc)),
			new:  manifest("b", ps(glibc32new)),
			want: snapshot.ManifestDiff{Added: ps(glibc32new), Removed: ps(glibc)},
		},
		{
			name: "rebuilt digest",
			old:  manifest("a", ps(bash2)),
			new:  manifest("b", ps(bash2rebuilt)),
			want: snapshot.ManifestDiff{Rebuilt: []snapshot.Change{ch(bash2, bash2rebuilt)}},
		},
		{
			name: "rebuilt size",
			old:  manifest("a", ps(bash2)),
			new:  manifest("b", ps(bash2resized)),
			want: snapshot.ManifestDiff{Rebuilt: []snapshot.Change{ch(bash2, bash2resized)}},
		},
		{
			name: "kernels rotate",
			old:  manifest("a", ps(k1, k2)),
			new:  manifest("b", ps(k3, k2)),
			want: snapshot.ManifestDiff{Added: ps(k3), Removed: ps(k1)},
		},
		{
			name: "kernel installed beside",
			old:  manifest("a", ps(k1)),
			new:  manifest("b", ps(k2, k1)),
			want: snapshot.ManifestDiff{Added: ps(k2)},
		},
		{
			name: "kernels pruned to one",
			old:  manifest("a", ps(k3, k1, k2)),
			new:  manifest("b", ps(k3)),
			want: snapshot.ManifestDiff{Removed: ps(k1, k2)},
		},
		{
			name: "kernels replaced wholesale",
			old:  manifest("a", ps(k1, k2)),
			new:  manifest("b", ps(k3)),
			want: snapshot.ManifestDiff{Added: ps(k3), Removed: ps(k1, k2)},
		},
		{
			name: "kernel rebuilt among several",
			old:  manifest("a", ps(k1, k2)),
			new:  manifest("b", ps(k2rebuilt, k3)),
			want: snapshot.ManifestDiff{Added: ps(k3), Removed: ps(k1), Rebuilt: []snapshot.Change{ch(k2, k2rebuilt)}},
		},
		{
			name: "boot files",
			old:  manifest("a", nil, vmlinuz1, initrd),
			new:  manifest("b", nil, boot("grubx64.efi", 9), vmlinuz2),
			want: snapshot.ManifestDiff{BootFiles: []snapshot.BootFileChange{
				{Name: "grubx64.efi", To: new(boot("grubx64.efi", 9))},
				{Name: "initramfs.img", From: &initrd},
				{Name: "vmlinuz", From: &vmlinuz1, To: &vmlinuz2},
			}},
		},
		{
			name: "everything",
			old:  manifest("a", ps(k1, bash1, glibc, glibc32, noEpoch), vmlinuz1),
			new:  manifest("b", ps(epoch, glibc32new, k2, k1, bash1), vmlinuz2),
			want: snapshot.ManifestDiff{
				Added:     ps(k2),
				Removed:   ps(glibc),
				Upgraded:  []snapshot.Change{ch(noEpoch, epoch), ch(glibc32, glibc32new)},
				BootFiles: []snapshot.BootFileChange{{Name: "vmlinuz", From: &vmlinuz1, To: &vmlinuz2}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := snapshot.Diff(tt.old, tt.new)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.want.Empty(), got.Empty())

			// Symmetry: swapping the manifests swaps added with removed and
			// upgraded with downgraded, and reverses every change.
			back := snapshot.Diff(tt.new, tt.old)
			require.Equal(t, reverse(got), back)
		})
	}
}

// reverse returns what Diff(new, old) should be, given Diff(old, new).
func reverse(d snapshot.ManifestDiff) snapshot.ManifestDiff {
	flip := func(cs []snapshot.Change) []snapshot.Change {
		var out []snapshot.Change
		for _, c := range cs {
			out = append(out, snapshot.Change{Name: c.Name, Arch: c.Arch, From: c.To, To: c.From})
		}
		return out
	}
	var boot []snapshot.BootFileChange
	for _, b := range d.BootFiles {
		boot = append(boot, snapshot.BootFileChange{Name: b.Name, From: b.To, To: b.From})
	}
	return snapshot.ManifestDiff{
		Added:      d.Removed,
		Removed:    d.Added,
		Upgraded:   flip(d.Downgraded),
		Downgraded: flip(d.Upgraded),
		Rebuilt:    flip(d.Rebuilt),
		BootFiles:  boot,
	}
}

func TestDiffEmpty(t *testing.T) {
	t.Parallel()
	m := manifest("a", []snapshot.PackageEntry{pkg(t, "bash", "x86_64", "5.1-1", 1)}, boot("vmlinuz", 1))
	d := snapshot.Diff(m, m)
	require.True(t, d.Empty())
	require.Equal(t, "no changes", d.String())
	require.True(t, snapshot.ManifestDiff{}.Empty())
	require.False(t, snapshot.ManifestDiff{BootFiles: []snapshot.BootFileChange{{Name: "x"}}}.Empty())
}

// TestDiffDeterministic checks that shuffling the manifests' slices does
// not change the diff, nor its order.
func TestDiffDeterministic(t *testing.T) {
	t.Parallel()
	var old, new []snapshot.PackageEntry
	for i := range 40 {
		name := fmt.Sprintf("pkg%02d", i%13)
		arch := []string{"x86_64", "noarch", "i686"}[i%3]
		old = append(old, pkg(t, name, arch, fmt.Sprintf("1.%d-1", i), byte(i)))
		new = append(new, pkg(t, name, arch, fmt.Sprintf("1.%d-1", i+i%4), byte(i+i%5)))
	}
	oldBoot := []snapshot.BootFile{boot("a", 1), boot("b", 2), boot("c", 3)}
	newBoot := []snapshot.BootFile{boot("b", 2), boot("c", 4), boot("d", 5)}
	want := snapshot.Diff(manifest("a", old, oldBoot...), manifest("b", new, newBoot...))
	require.False(t, want.Empty())

	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		r.Shuffle(len(old), func(i, j int) { old[i], old[j] = old[j], old[i] })
		r.Shuffle(len(new), func(i, j int) { new[i], new[j] = new[j], new[i] })
		r.Shuffle(len(oldBoot), func(i, j int) { oldBoot[i], oldBoot[j] = oldBoot[j], oldBoot[i] })
		r.Shuffle(len(newBoot), func(i, j int) { newBoot[i], newBoot[j] = newBoot[j], newBoot[i] })
		got := snapshot.Diff(manifest("a", old, oldBoot...), manifest("b", new, newBoot...))
		require.Equal(t, want, got)
		require.Equal(t, want.String(), got.String())
	}
}

func TestDiffDoesNotModifyInputs(t *testing.T) {
	t.Parallel()
	old := manifest("a", []snapshot.PackageEntry{pkg(t, "z", "x86_64", "1-1", 1), pkg(t, "a", "x86_64", "1-1", 2)}, boot("z", 1), boot("a", 2))
	new := manifest("b", nil)
	before := *old
	before.Packages = append([]snapshot.PackageEntry(nil), old.Packages...)
	before.BootFiles = append([]snapshot.BootFile(nil), old.BootFiles...)
	_ = snapshot.Diff(old, new)
	require.Equal(t, &before, old)
}

func TestManifestDiffString(t *testing.T) {
	t.Parallel()
	var up []snapshot.Change
	for _, n := range []string{"a", "b", "c", "d"} {
		up = append(up, snapshot.Change{Name: n, From: pkg(t, n, "x86_64", "1-1", 1), To: pkg(t, n, "x86_64", "1:2-1", 2)})
	}
	rebuilt := snapshot.Change{Name: "r", From: pkg(t, "r", "x86_64", "3-1", 1), To: pkg(t, "r", "x86_64", "3-1", 2)}
	tests := []struct {
		name string
		d    snapshot.ManifestDiff
		want string
	}{
		{"empty", snapshot.ManifestDiff{}, "no changes"},
		{
			"truncated",
			snapshot.ManifestDiff{Upgraded: up, Rebuilt: []snapshot.Change{rebuilt}},
			"0 added, 0 removed, 4 upgraded (a 1-1 → 1:2-1, b 1-1 → 1:2-1, c 1-1 → 1:2-1, …), 0 downgraded, 1 rebuilt (r 3-1), 0 boot files changed",
		},
		{
			"downgraded and one boot file",
			snapshot.ManifestDiff{Downgraded: up[:1], BootFiles: []snapshot.BootFileChange{{Name: "vmlinuz"}}},
			"0 added, 0 removed, 0 upgraded, 1 downgraded (a 1-1 → 1:2-1), 0 rebuilt, 1 boot file changed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.d.String())
		})
	}
}

func ExampleDiff() {
	entry := func(name, evr string) snapshot.PackageEntry {
		e, err := rpmver.Parse(evr)
		if err != nil {
			panic(err)
		}
		return snapshot.PackageEntry{Name: name, Arch: "x86_64", EVR: e, Digest: snapshot.DigestOf([]byte(name + evr))}
	}
	old := &snapshot.Manifest{ID: "2024-05", OSRelease: "rhel-9.4", Packages: []snapshot.PackageEntry{
		entry("bash", "5.1.8-6.el9"),
		entry("kernel", "5.14.0-1.el9"),
		entry("kernel", "5.14.0-2.el9"),
		entry("telnet", "0.17-85.el9"),
	}}
	new := &snapshot.Manifest{ID: "2024-06", OSRelease: "rhel-9.4", Packages: []snapshot.PackageEntry{
		entry("bash", "5.1.8-9.el9"),
		entry("kernel", "5.14.0-2.el9"),
		entry("kernel", "5.14.0-3.el9"),
		entry("tmux", "3.2a-4.el9"),
	}}

	d := snapshot.Diff(old, new)
	fmt.Println(d)
	for _, p := range d.Added {
		fmt.Println("+", p.Name, p.EVR)
	}
	for _, p := range d.Removed {
		fmt.Println("-", p.Name, p.EVR)
	}
	// Output:
	// 2 added, 2 removed, 1 upgraded (bash 5.1.8-6.el9 → 5.1.8-9.el9), 0 downgraded, 0 rebuilt, 0 boot files changed
	// + kernel 5.14.0-3.el9
	// + tmux 3.2a-4.el9
	// - kernel 5.14.0-1.el9
	// - telnet 0.17-85.el9
}
