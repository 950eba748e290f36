package snapshot_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// repoPkg is a package of a test repository, with yumrepotest.Fill's content.
func repoPkg(name, arch, evr string) yumrepotest.Package {
	return yumrepotest.Package{Name: name, Arch: arch, EVR: evr}
}

// writeTestRepo writes a yum repository with the given packages into dir
// (a new temporary directory if dir is "").
func writeTestRepo(t testing.TB, dir string, pkgs ...yumrepotest.Package) *yumrepotest.Repo {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	repo, err := yumrepotest.Write(context.Background(), dir, pkgs, nil)
	require.NoError(t, err)
	return repo
}

// digestOf returns the digest of a package's content in repo.
func digestOf(t testing.TB, repo *yumrepotest.Repo, name, evr, arch string) snapshot.Digest {
	t.Helper()
	p, ok := repo.Lookup(name, evr, arch)
	require.True(t, ok, "%s-%s.%s", name, evr, arch)
	return snapshot.DigestOf(p.Content)
}

// putCounter is a BlobStore that counts Puts by digest.
type putCounter struct {
	snapshot.BlobStore
	mu   sync.Mutex
	puts map[snapshot.Digest]int
}

func newPutCounter() *putCounter {
	return &putCounter{BlobStore: memblob.New(nil), puts: make(map[snapshot.Digest]int)}
}

func (s *putCounter) Put(ctx context.Context, want snapshot.Digest, size int64, r io.Reader) (snapshot.BlobInfo, error) {
	s.mu.Lock()
	s.puts[want]++
	s.mu.Unlock()
	return s.BlobStore.Put(ctx, want, size, r)
}

func (s *putCounter) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.puts {
		n += c
	}
	return n
}

var buildTime = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600))

// buildParams returns params for a build of repos into blobs.
func buildParams(t testing.TB, blobs snapshot.BlobStore, repos ...snapshot.RepoSource) snapshot.BuildParams {
	return snapshot.BuildParams{
		ID:        "snap-1",
		OSRelease: "rhel-9.4",
		Arch:      "x86_64",
		Repos:     repos,
		Blobs:     blobs,
		Keys:      newRing(t),
		Metadata:  map[string]string{"built-by": "test"},
		Now:       func() time.Time { return buildTime },
	}
}

// versions returns "name.arch" → EVR string of the manifest's packages.
func versions(m *snapshot.Manifest) map[string]string {
	out := make(map[string]string, len(m.Packages))
	for _, p := range m.Packages {
		out[p.Name+"."+p.Arch] = p.EVR.String()
	}
	return out
}

// requireSound checks the seal and that every blob is stored.
func requireSound(t *testing.T, p snapshot.BuildParams, s *snapshot.Sealed) {
	t.Helper()
	require.NoError(t, p.Keys.VerifySealed(s))
	ctx := context.Background()
	for _, pk := range s.Packages {
		info, err := p.Blobs.Stat(ctx, pk.Digest)
		require.NoError(t, err, pk.Name)
		require.Equal(t, pk.Size, info.Size, pk.Name)
	}
	for _, f := range s.BootFiles {
		info, err := p.Blobs.Stat(ctx, f.Digest)
		require.NoError(t, err, f.Name)
		require.Equal(t, f.Size, info.Size, f.Name)
	}
}

func TestBuildSelection(t *testing.T) {
	t.Parallel()
	// base has priority 10, updates priority 20: bash in updates is newer
	// but base wins it.
	base := writeTestRepo(t, "",
		repoPkg("bash", "x86_64", "5.1-1"),
		repoPkg("bash", "x86_64", "5.1-2"),
		repoPkg("bash", "i686", "5.1-3"),
		repoPkg("bash", "src", "5.1-3"),
		repoPkg("tzdata", "noarch", "2024a-1"),
		repoPkg("kernel", "x86_64", "5.14-1"),
		repoPkg("kernel-debug", "x86_64", "5.14-1"),
	)
	updates := writeTestRepo(t, "",
		repoPkg("bash", "x86_64", "5.2-1"),
		repoPkg("kernel", "x86_64", "1:5.10-1"),
		repoPkg("kernel", "x86_64", "5.15-1"),
		repoPkg("vim", "x86_64", "9.0-1"),
		repoPkg("tzdata", "noarch", "2025a-1"),
	)

	tests := []struct {
		name  string
		repos []snapshot.RepoSource
		pins  map[string]string
		want  map[string]string
	}{
		{
			name:  "newest within one repository",
			repos: []snapshot.RepoSource{{Base: base.Dir}},
			want: map[string]string{
				"bash.x86_64": "5.1-2", "tzdata.noarch": "2024a-1",
				"kernel.x86_64": "5.14-1", "kernel-debug.x86_64": "5.14-1",
			},
		},
		{
			name:  "priority beats newer",
			repos: []snapshot.RepoSource{{Base: updates.Dir, Priority: 20}, {Base: base.Dir, Priority: 10}},
			want: map[string]string{
				"bash.x86_64": "5.1-2", "tzdata.noarch": "2024a-1",
				"kernel.x86_64": "5.14-1", "kernel-debug.x86_64": "5.14-1", "vim.x86_64": "9.0-1",
			},
		},
		{
			name:  "equal priority merges",
			repos: []snapshot.RepoSource{{Base: base.Dir}, {Base: updates.Dir}},
			want: map[string]string{
				"bash.x86_64": "5.2-1", "tzdata.noarch": "2025a-1",
				"kernel.x86_64": "1:5.10-1", "kernel-debug.x86_64": "5.14-1", "vim.x86_64": "9.0-1",
			},
		},
		{
			name: "include and exclude",
			repos: []snapshot.RepoSource{
				{Base: base.Dir, Priority: 10, Include: []string{"kernel*", "bash", "tzdata"}, Exclude: []string{"*-debug", "bash"}},
				{Base: updates.Dir, Priority: 20, Exclude: []string{"vim"}},
			},
			// bash excluded from base does not hide it in updates.
			want: map[string]string{
				"bash.x86_64": "5.2-1", "tzdata.noarch": "2024a-1", "kernel.x86_64": "5.14-1",
			},
		},
		{
			name:  "pins",
			repos: []snapshot.RepoSource{{Base: base.Dir, Priority: 10}, {Base: updates.Dir, Priority: 20}},
			pins:  map[string]string{"bash": "5.1-1", "kernel": "5.15", "tzdata": "0:2025a-1"},
			want: map[string]string{
				"bash.x86_64": "5.1-1", "tzdata.noarch": "2025a-1",
				"kernel.x86_64": "5.15-1", "kernel-debug.x86_64": "5.14-1", "vim.x86_64": "9.0-1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := buildParams(t, memblob.New(nil), tt.repos...)
			p.Pins = tt.pins
			s, err := snapshot.Build(context.Background(), p)
			require.NoError(t, err)
			require.Equal(t, tt.want, versions(&s.Manifest))
			requireSound(t, p, s)
			require.Equal(t, "snap-1", s.ID)
			require.Equal(t, "x86_64", s.Arch)
			require.Equal(t, map[string]string{"built-by": "test"}, s.Metadata)
			require.Equal(t, buildTime.UTC().Truncate(time.Microsecond), s.CreatedAt)
			require.Equal(t, time.UTC, s.CreatedAt.Location())
			for _, pk := range s.Packages {
				loc, err := yumrepotest.DefaultLocation(pk.Name, pk.EVR.String(), pk.Arch)
				require.NoError(t, err)
				require.Equal(t, loc, pk.Location)
			}
		})
	}
}

func TestBuildDigestsAndSizes(t *testing.T) {
	t.Parallel()
	content := []byte("the bash rpm")
	repo := writeTestRepo(t, "", yumrepotest.Package{Name: "bash", Arch: "x86_64", EVR: "5.1-1", Content: content})
	p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: repo.Dir})
	s, err := snapshot.Build(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, s.Packages, 1)
	require.Equal(t, snapshot.DigestOf(content), s.Packages[0].Digest)
	require.Equal(t, int64(len(content)), s.Packages[0].Size)

	rc, _, err := p.Blobs.Open(context.Background(), s.Packages[0].Digest)
	require.NoError(t, err)
	defer rc.Close()
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.Equal(t, content, got)
}

func TestBuildPinNotFound(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "",
		repoPkg("bash", "x86_64", "5.1-1"),
		repoPkg("bash", "x86_64", "5.2-1"),
	)
	for name, pins := range map[string]map[string]string{
		"no such EVR":     {"bash": "5.3-1"},
		"no such release": {"bash": "5.1-7"},
		"other epoch":     {"bash": "1:5.1-1"},
		"no such name":    {"zsh": "5.9"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			blobs := newPutCounter()
			p := buildParams(t, blobs, snapshot.RepoSource{Base: repo.Dir})
			p.Pins = pins
			s, err := snapshot.Build(context.Background(), p)
			require.ErrorIs(t, err, snapshot.ErrPinNotFound)
			require.Nil(t, s)
			for name := range pins {
				require.ErrorContains(t, err, name)
			}
			require.Zero(t, blobs.total(), "nothing fetched")
		})
	}
}

func TestBuildCorruptPayload(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "",
		repoPkg("bash", "x86_64", "5.1-1"),
		yumrepotest.Package{Name: "glibc", Arch: "x86_64", EVR: "2.34-1", Corrupt: true},
	)
	p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: repo.Dir})
	s, err := snapshot.Build(context.Background(), p)
	require.Nil(t, s)
	require.ErrorIs(t, err, snapshot.ErrDigestMismatch)
	require.ErrorContains(t, err, "glibc-2.34-1.x86_64")
	_, err = p.Blobs.Stat(context.Background(), digestOf(t, repo, "glibc", "2.34-1", "x86_64"))
	require.ErrorIs(t, err, snapshot.ErrBlobNotFound)
}

func TestBuildNonSHA256Checksum(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "",
		yumrepotest.Package{Name: "bash", Arch: "x86_64", EVR: "5.1-1", ChecksumType: "sha1"},
		yumrepotest.Package{Name: "old", Arch: "i686", EVR: "1-1", ChecksumType: "md5"}, // not selected: harmless
	)
	p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: repo.Dir})
	_, err := snapshot.Build(context.Background(), p)
	require.ErrorContains(t, err, "bash-5.1-1.x86_64")
	require.ErrorContains(t, err, "sha1")
	require.NotContains(t, err.Error(), "old")
}

func TestBuildHTTP(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "",
		repoPkg("bash", "x86_64", "5.1-1"),
		repoPkg("tzdata", "noarch", "2024a-1"),
	)
	kernel := []byte("vmlinuz bytes")
	require.NoError(t, os.WriteFile(filepath.Join(repo.Dir, "vmlinuz"), kernel, 0o644))

	var mu sync.Mutex
	var gets []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets = append(gets, r.URL.Path)
		mu.Unlock()
		http.FileServer(http.Dir(repo.Dir)).ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: srv.URL + "/"})
	p.HTTPClient = srv.Client()
	p.BootFiles = []snapshot.BootFileSource{{Name: "vmlinuz", URL: srv.URL + "/vmlinuz", Digest: snapshot.DigestOf(kernel)}}
	s, err := snapshot.Build(context.Background(), p)
	require.NoError(t, err)
	requireSound(t, p, s)
	require.Equal(t, map[string]string{"bash.x86_64": "5.1-1", "tzdata.noarch": "2024a-1"}, versions(&s.Manifest))
	require.Equal(t, []snapshot.BootFile{{Name: "vmlinuz", Size: int64(len(kernel)), Digest: snapshot.DigestOf(kernel)}}, s.BootFiles)
	mu.Lock()
	require.Contains(t, gets, "/Packages/bash-5.1-1.x86_64.rpm")
	require.Contains(t, gets, "/vmlinuz")
	mu.Unlock()

	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: srv.URL})
		p.HTTPClient = srv.Client()
		p.BootFiles = []snapshot.BootFileSource{{Name: "initrd", URL: srv.URL + "/initrd.img", Digest: snapshot.DigestOf(kernel)}}
		_, err := snapshot.Build(context.Background(), p)
		require.ErrorContains(t, err, "initrd")
		require.ErrorContains(t, err, "404")
	})
}

func TestBuildSharedBlobsStoredOnce(t *testing.T) {
	t.Parallel()
	same := []byte("identical payload")
	repo := writeTestRepo(t, "",
		yumrepotest.Package{Name: "a", Arch: "x86_64", EVR: "1-1", Content: same},
		yumrepotest.Package{Name: "b", Arch: "noarch", EVR: "1-1", Content: same},
		repoPkg("c", "x86_64", "1-1"),
	)
	bootPath := filepath.Join(t.TempDir(), "vmlinuz")
	require.NoError(t, os.WriteFile(bootPath, same, 0o644))

	blobs := newPutCounter()
	p := buildParams(t, blobs, snapshot.RepoSource{Base: repo.Dir})
	p.BootFiles = []snapshot.BootFileSource{{Name: "vmlinuz", URL: bootPath, Digest: snapshot.DigestOf(same)}}
	p.Concurrency = 1
	first, err := snapshot.Build(context.Background(), p)
	require.NoError(t, err)
	requireSound(t, p, first)
	require.Equal(t, 2, blobs.total(), "one Put per distinct blob")

	// A second build over a grown repository fetches only the new blob.
	writeTestRepo(t, repo.Dir,
		yumrepotest.Package{Name: "a", Arch: "x86_64", EVR: "1-1", Content: same},
		yumrepotest.Package{Name: "b", Arch: "noarch", EVR: "1-1", Content: same},
		repoPkg("c", "x86_64", "1-1"), // Fill: the same content as before
		repoPkg("d", "x86_64", "1-1"),
	)
	p.ID, p.Parent = "snap-2", "snap-1"
	second, err := snapshot.Build(context.Background(), p)
	require.NoError(t, err)
	requireSound(t, p, second)
	require.Len(t, second.Packages, 4)
	require.Equal(t, 3, blobs.total())
	for d, n := range blobs.puts {
		require.Equal(t, 1, n, "blob %s", d)
	}
}

func TestBuildBootFileMismatch(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "", repoPkg("bash", "x86_64", "5.1-1"))
	bootPath := filepath.Join(t.TempDir(), "initrd")
	require.NoError(t, os.WriteFile(bootPath, []byte("initrd"), 0o644))
	p := buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: repo.Dir})
	p.BootFiles = []snapshot.BootFileSource{{Name: "initrd", URL: bootPath, Digest: snapshot.DigestOf([]byte("other"))}}
	_, err := snapshot.Build(context.Background(), p)
	require.ErrorIs(t, err, snapshot.ErrDigestMismatch)
	require.ErrorContains(t, err, `boot file "initrd"`)
}

func TestBuildInvalidParams(t *testing.T) {
	t.Parallel()
	// Repositories that do not exist: the build must fail before reading.
	valid := func() snapshot.BuildParams {
		return buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: "/nonexistent/repo"})
	}
	tests := []struct {
		name   string
		modify func(*snapshot.BuildParams)
		want   error
	}{
		{"empty ID", func(p *snapshot.BuildParams) { p.ID = "" }, snapshot.ErrInvalidBuild},
		{"empty OSRelease", func(p *snapshot.BuildParams) { p.OSRelease = "" }, snapshot.ErrInvalidBuild},
		{"empty Arch", func(p *snapshot.BuildParams) { p.Arch = "" }, snapshot.ErrInvalidBuild},
		{"no repos", func(p *snapshot.BuildParams) { p.Repos = nil }, snapshot.ErrInvalidBuild},
		{"empty base", func(p *snapshot.BuildParams) { p.Repos[0].Base = "" }, snapshot.ErrInvalidBuild},
		{"nil blobs", func(p *snapshot.BuildParams) { p.Blobs = nil }, snapshot.ErrInvalidBuild},
		{"nil keys", func(p *snapshot.BuildParams) { p.Keys = nil }, snapshot.ErrInvalidBuild},
		{"empty key ring", func(p *snapshot.BuildParams) { p.Keys = &snapshot.KeyRing{} }, snapshot.ErrInvalidBuild},
		{"negative concurrency", func(p *snapshot.BuildParams) { p.Concurrency = -1 }, snapshot.ErrInvalidBuild},
		{"bad pattern", func(p *snapshot.BuildParams) { p.Repos[0].Include = []string{"["} }, snapshot.ErrInvalidBuild},
		{"bad pin", func(p *snapshot.BuildParams) { p.Pins = map[string]string{"bash": "1:2:3"} }, snapshot.ErrInvalidBuild},
		{"boot file without URL", func(p *snapshot.BuildParams) {
			p.BootFiles = []snapshot.BootFileSource{{Name: "vmlinuz"}}
		}, snapshot.ErrInvalidBuild},
		{"duplicate boot file", func(p *snapshot.BuildParams) {
			p.BootFiles = []snapshot.BootFileSource{{Name: "k", URL: "/k"}, {Name: "k", URL: "/k"}}
		}, snapshot.ErrInvalidBuild},
		{"empty metadata key", func(p *snapshot.BuildParams) { p.Metadata = map[string]string{"": "x"} }, snapshot.ErrInvalidManifest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := valid()
			tt.modify(&p)
			s, err := snapshot.Build(context.Background(), p)
			require.ErrorIs(t, err, tt.want)
			require.Nil(t, s)
			require.NotContains(t, err.Error(), "nonexistent", "failed before I/O")
		})
	}
}

func TestBuildCancelled(t *testing.T) {
	t.Parallel()
	repo := writeTestRepo(t, "", repoPkg("bash", "x86_64", "5.1-1"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := snapshot.Build(ctx, buildParams(t, memblob.New(nil), snapshot.RepoSource{Base: repo.Dir}))
	require.ErrorIs(t, err, context.Canceled)
}

func TestBuildConcurrencyBounded(t *testing.T) {
	t.Parallel()
	var pkgs []yumrepotest.Package
	for i := range 12 {
		pkgs = append(pkgs, repoPkg(fmt.Sprintf("p%02d", i), "x86_64", "1-1"))
	}
	repo := writeTestRepo(t, "", pkgs...)
	blobs := &gatedStore{BlobStore: memblob.New(nil)}
	p := buildParams(t, blobs, snapshot.RepoSource{Base: repo.Dir})
	p.Concurrency = 3
	s, err := snapshot.Build(context.Background(), p)
	require.NoError(t, err)
	require.Len(t, s.Packages, 12)
	require.LessOrEqual(t, blobs.max, 3)
	require.Positive(t, blobs.max)
}

// gatedStore records how many Puts run at once.
type gatedStore struct {
	snapshot.BlobStore
	mu       sync.Mutex
	cur, max int
}

func (s *gatedStore) Put(ctx context.Context, want snapshot.Digest, size int64, r io.Reader) (snapshot.BlobInfo, error) {
	s.mu.Lock()
	s.cur++
	s.max = max(s.max, s.cur)
	s.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	defer func() {
		s.mu.Lock()
		s.cur--
		s.mu.Unlock()
	}()
	return s.BlobStore.Put(ctx, want, size, r)
}
