package yumrepotest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

var samples yumrepotest.SampleCache

func TestMain(m *testing.M) {
	code := m.Run()
	if err := samples.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

func testPackages() []yumrepotest.Package {
	return []yumrepotest.Package{
		{Name: "bash", Arch: "x86_64", EVR: "5.2.15-2.fc39", BuildTime: 1690000000, FileTime: 1700000001},
		{Name: "bash", Arch: "x86_64", EVR: "5.2.26-1.fc39", Content: []byte("bash 5.2.26")},
		{Name: "tzdata", Arch: "noarch", EVR: "1:2024a-1.fc39", Location: "Packages/t/tzdata.rpm", ChecksumType: "sha512"},
		{Name: "c++ <lib>", Arch: "noarch", EVR: "1.0~rc1^git2"},
	}
}

// requireRepo checks that yumrepo reads back exactly what Write wrote.
func requireRepo(t *testing.T, written *yumrepotest.Repo, got *yumrepo.Repo) {
	t.Helper()
	require.Equal(t, len(written.Packages), got.Len())
	for i, p := range got.Packages() {
		w := written.Packages[i]
		evr, err := rpmver.Parse(w.EVR)
		require.NoError(t, err)
		sum, err := yumrepotest.Checksum(w.ChecksumType, w.Content)
		require.NoError(t, err)
		require.Equal(t, yumrepo.Package{
			Name: w.Name, Arch: w.Arch, EVR: evr,
			Checksum: yumrepo.Checksum{Type: w.ChecksumType, Value: sum},
			Size:     int64(len(w.Content)), Location: w.Location,
			BuildTime: w.BuildTime, FileTime: w.FileTime,
		}, p)
	}
}

func TestWriteEveryCompression(t *testing.T) {
	t.Parallel()
	for _, c := range yumrepotest.Compressions {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			repo, err := yumrepotest.Write(context.Background(), dir, testPackages(), &yumrepotest.Options{Compression: c, OpenChecksum: true, Revision: "7"})
			require.NoError(t, err)
			require.True(t, strings.HasSuffix(repo.PrimaryHref, "-primary"+c.Ext()), repo.PrimaryHref)
			got, err := yumrepo.Open(context.Background(), dir, nil)
			require.NoError(t, err)
			require.Equal(t, "7", got.Revision())
			requireRepo(t, repo, got)

			// Defaults filled in; files hold the content vouched for.
			p, ok := repo.Lookup("bash", "5.2.15-2.fc39", "x86_64")
			require.True(t, ok)
			require.Equal(t, "Packages/bash-5.2.15-2.fc39.x86_64.rpm", p.Location)
			require.Equal(t, yumrepotest.Fill("bash", "5.2.15-2.fc39", "x86_64"), p.Content)
			require.Equal(t, "sha256", p.ChecksumType)
			for _, p := range repo.Packages {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p.Location)))
				require.NoError(t, err)
				require.Equal(t, p.Content, b)
			}
			_, ok = repo.Lookup("bash", "5.2.15-2.fc39", "i686")
			require.False(t, ok)
		})
	}
}

func TestWriteDefaultsAndRevisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	pkgs := testPackages()
	first, err := yumrepotest.Write(ctx, dir, pkgs[:1], nil)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(first.PrimaryHref, ".xml.gz"), "gzip by default")
	// Publishing again adds files and replaces repomd.xml.
	second, err := yumrepotest.Write(ctx, dir, pkgs, nil)
	require.NoError(t, err)
	got, err := yumrepo.Open(ctx, dir, nil)
	require.NoError(t, err)
	require.Equal(t, "1", got.Revision())
	requireRepo(t, second, got)
	// Fill is deterministic and distinct.
	require.Equal(t, yumrepotest.Fill("a", "1-1", "noarch"), yumrepotest.Fill("a", "1-1", "noarch"))
	require.NotEqual(t, yumrepotest.Fill("a", "1-1", "noarch"), yumrepotest.Fill("a", "1-2", "noarch"))
}

func TestWriteCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	repo, err := yumrepotest.Write(context.Background(), dir, []yumrepotest.Package{
		{Name: "glibc", Arch: "x86_64", EVR: "2.34-1", Corrupt: true},
	}, nil)
	require.NoError(t, err)
	p := repo.Packages[0]
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p.Location)))
	require.NoError(t, err)
	require.Len(t, b, len(p.Content))
	require.NotEqual(t, p.Content, b)
	require.Equal(t, p.Content[1:], b[1:])
}

func TestWriteRefuses(t *testing.T) {
	t.Parallel()
	for name, pkgs := range map[string][]yumrepotest.Package{
		"duplicate location": {{Name: "a", Arch: "noarch", EVR: "1-1"}, {Name: "a", Arch: "noarch", EVR: "1:1-1"}},
		"bad EVR":            {{Name: "a", Arch: "noarch", EVR: "1:2:3"}},
		"no name":            {{Arch: "noarch", EVR: "1"}},
		"bad checksum type":  {{Name: "a", Arch: "noarch", EVR: "1", ChecksumType: "crc32"}},
		"location outside":   {{Name: "a", Arch: "noarch", EVR: "1", Location: "../a.rpm"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			_, err := yumrepotest.Write(context.Background(), dir, pkgs, nil)
			require.Error(t, err)
			_, err = os.Stat(filepath.Join(dir, "repodata", "repomd.xml"))
			require.ErrorIs(t, err, os.ErrNotExist, "no metadata written")
		})
	}
}

func TestWriteMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	elem, err := yumrepotest.PackageXML(yumrepotest.Package{Name: "a", Arch: "noarch", EVR: "1-1"})
	require.NoError(t, err)
	primary := yumrepotest.PrimaryXML(elem)
	lines := strings.Split(string(primary), "\n")
	require.Equal(t, `<package type="rpm">`, lines[2])
	require.Equal(t, "  <name>a</name>", lines[3])
	require.Equal(t, `  <version epoch="0" ver="1" rel="1"/>`, lines[5])

	t.Run("wrong checksums", func(t *testing.T) {
		t.Parallel()
		for _, md := range []yumrepotest.Metadata{
			{Primary: primary, Checksum: strings.Repeat("0", 64)},
			{Primary: primary, OpenChecksumValue: strings.Repeat("0", 64)},
		} {
			dir := t.TempDir()
			_, err := yumrepotest.WriteMetadata(ctx, dir, md)
			require.NoError(t, err)
			_, err = yumrepo.Open(ctx, dir, nil)
			require.ErrorIs(t, err, yumrepo.ErrChecksum)
		}
	})
	t.Run("no primary entry", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		_, err := yumrepotest.WriteMetadata(ctx, dir, yumrepotest.Metadata{Primary: primary, DataType: "filelists"})
		require.NoError(t, err)
		_, err = yumrepo.Open(ctx, dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrNotRepo)
	})
	t.Run("href", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		href, err := yumrepotest.WriteMetadata(ctx, dir, yumrepotest.Metadata{Primary: primary, Href: "../../etc/passwd", OmitPrimaryFile: true})
		require.NoError(t, err)
		require.Equal(t, "../../etc/passwd", href)
		_, err = yumrepo.Open(ctx, dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrUnsafeHref)
		_, err = yumrepotest.WriteMetadata(ctx, t.TempDir(), yumrepotest.Metadata{Primary: primary, Href: "../x.xml.gz"})
		require.ErrorContains(t, err, "leaves the repository")
	})
}

func TestRecompress(t *testing.T) {
	t.Parallel()
	for _, c := range yumrepotest.Compressions {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dir := t.TempDir()
			repo, err := yumrepotest.Write(ctx, dir, testPackages(), &yumrepotest.Options{Compression: yumrepotest.XZ, OpenChecksum: true})
			require.NoError(t, err)
			require.NoError(t, yumrepotest.Recompress(ctx, dir, c))
			md, err := os.ReadFile(filepath.Join(dir, "repodata", "repomd.xml"))
			require.NoError(t, err)
			require.Contains(t, string(md), "-primary"+c.Ext()+`"`)
			require.Contains(t, string(md), "<open-checksum")
			files, err := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml*"))
			require.NoError(t, err)
			require.Len(t, files, 1, "old primary removed")
			data, err := os.ReadFile(files[0])
			require.NoError(t, err)
			sum := sha256.Sum256(data)
			require.Equal(t, hex.EncodeToString(sum[:])+"-primary"+c.Ext(), filepath.Base(files[0]))
			got, err := yumrepo.Open(ctx, dir, nil)
			require.NoError(t, err)
			requireRepo(t, repo, got)
		})
	}
	t.Run("not a repository", func(t *testing.T) {
		t.Parallel()
		require.Error(t, yumrepotest.Recompress(context.Background(), t.TempDir(), yumrepotest.Zstd))
	})
}

func TestBuildRPMsRefusesBadInput(t *testing.T) {
	t.Parallel()
	for _, r := range []yumrepotest.RPM{
		{Name: "a", EVR: "1.0"},          // no release
		{Name: "a", EVR: "1.0 beta-1"},   // a space
		{Name: "a b", EVR: "1.0-1"},      // a space in the name
		{Name: "a", EVR: "1.0-1%{quit}"}, // a macro
	} {
		_, err := yumrepotest.BuildRPMs(context.Background(), t.TempDir(), []yumrepotest.RPM{r})
		require.Error(t, err, "%+v", r)
		require.ErrorContains(t, err, "yumrepotest: rpm")
	}
	_, err := yumrepotest.BuildRPMs(context.Background(), t.TempDir(), nil)
	require.Error(t, err)
}

// TestSampleNewest checks SampleNewest against rpm itself, and
// rpmver.Compare against rpm on every pair of sample builds of a name.
func TestSampleNewest(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "rpm", "rpm")
	byName := make(map[string][]string)
	for _, r := range yumrepotest.SampleRPMs() {
		byName[r.Name] = append(byName[r.Name], r.EVR)
	}
	require.Len(t, yumrepotest.SampleNewest, len(byName))
	var pairs [][2]string
	for name, evrs := range byName {
		require.Contains(t, evrs, yumrepotest.SampleNewest[name], name)
		for _, a := range evrs {
			for _, b := range evrs {
				pairs = append(pairs, [2]string{a, b})
			}
		}
	}
	got, err := yumrepotest.RPMVercmp(context.Background(), pairs)
	require.NoError(t, err)
	for i, p := range pairs {
		require.Equal(t, got[i], rpmver.Compare(p[0], p[1]), "rpm vs rpmver on %q, %q", p[0], p[1])
	}
	for name, evrs := range byName {
		newest := yumrepotest.SampleNewest[name]
		for _, b := range evrs {
			if b != newest {
				for i, p := range pairs {
					if p == [2]string{newest, b} {
						require.Equal(t, 1, got[i], "rpm says %s %s is not newer than %s", name, newest, b)
					}
				}
			}
		}
	}
}

func TestSampleCache(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "rpmbuild", "rpm")
	testenv.Tool(t, "createrepo_c", "createrepo-c")
	ctx := context.Background()
	for _, c := range []yumrepotest.Compression{yumrepotest.Gzip, yumrepotest.Zstd} {
		dir := t.TempDir()
		paths, err := samples.WriteRepo(ctx, dir, c)
		require.NoError(t, err)
		require.Len(t, paths, len(yumrepotest.SampleRPMs()))
		repo, err := yumrepo.Open(ctx, dir, nil)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(yumrepotest.SourceDateEpoch), repo.Revision())
		require.Equal(t, len(paths), repo.Len())
		for _, p := range repo.Packages() {
			require.Equal(t, "noarch", p.Arch)
			require.Equal(t, int64(yumrepotest.SourceDateEpoch), p.BuildTime)
			b, err := os.ReadFile(p.URL(dir))
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			require.Equal(t, hex.EncodeToString(sum[:]), p.Checksum.Value)
			require.Equal(t, int64(len(b)), p.Size)
		}
	}
}
