package yumrepo_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// bashContent is the stand-in content of samplePrimary's first package.
var bashContent = yumrepotest.Fill("bash", "0:5.2.15-2.fc39", "x86_64")

func wantSample(t *testing.T, repo *yumrepo.Repo) {
	t.Helper()
	pkgs := repo.Packages()
	require.Len(t, pkgs, 3)
	require.Equal(t, 3, repo.Len())
	require.Equal(t, "1700000000", repo.Revision())
	require.Equal(t, yumrepo.Package{
		Name:      "bash",
		Arch:      "x86_64",
		EVR:       rpmver.EVR{Epoch: 0, Version: "5.2.15", Release: "2.fc39"},
		Checksum:  yumrepo.Checksum{Type: "sha256", Value: fmt.Sprintf("%x", sha256.Sum256(bashContent))},
		Size:      int64(len(bashContent)),
		Location:  "Packages/b/bash-5.2.15-2.fc39.x86_64.rpm",
		BuildTime: 1690000000,
		FileTime:  1700000001,
	}, pkgs[0])
	require.Equal(t, "tzdata", pkgs[2].Name)
	require.Equal(t, rpmver.EVR{Epoch: 1, Version: "2024a", Release: "1.fc39"}, pkgs[2].EVR)
}

func TestOpenCompressions(t *testing.T) {
	t.Parallel()
	for _, comp := range []string{"gz", "xz", "zst", ""} {
		t.Run("comp="+comp, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: comp, openChecksum: "auto"})
			repo, err := yumrepo.Open(context.Background(), dir, nil)
			require.NoError(t, err)
			wantSample(t, repo)
			require.Equal(t, dir, repo.Base())
		})
	}
}

func TestOpenMagicBeatsMissingExtension(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A gzip file whose name has no compression extension.
	data := compress(t, "gz", samplePrimary())
	href := "repodata/primary"
	src := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "gz"})
	require.NoError(t, os.CopyFS(dir, os.DirFS(src)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "repodata", "primary"), data, 0o644))
	repomd := filepath.Join(dir, "repodata", "repomd.xml")
	b, err := os.ReadFile(repomd)
	require.NoError(t, err)
	s := string(b)
	i := strings.Index(s, `<location href="`) + len(`<location href="`)
	j := strings.Index(s[i:], `"`)
	s = s[:i] + href + s[i+j:]
	s = strings.Replace(s, sha256hex(compress(t, "gz", samplePrimary())), sha256hex(data), 1)
	require.NoError(t, os.WriteFile(repomd, []byte(s), 0o644))
	repo, err := yumrepo.Open(context.Background(), dir, nil)
	require.NoError(t, err)
	require.Equal(t, 3, repo.Len())
}

func TestOpenFileURL(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "gz"})
	repo, err := yumrepo.Open(context.Background(), "file://"+filepath.ToSlash(dir), nil)
	require.NoError(t, err)
	wantSample(t, repo)
}

func TestOpenChecksumMismatch(t *testing.T) {
	t.Parallel()
	bad := strings.Repeat("ab", 32)
	for _, comp := range []string{"gz", "xz", "zst", ""} {
		t.Run("comp="+comp, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: comp, checksum: bad})
			_, err := yumrepo.Open(context.Background(), dir, nil)
			require.ErrorIs(t, err, yumrepo.ErrChecksum)
			require.ErrorContains(t, err, "primary.xml")
			require.ErrorContains(t, err, "expected "+bad)
			require.ErrorContains(t, err, "got "+sha256hex(compress(t, comp, samplePrimary()))[:8])
		})
	}
	t.Run("open-checksum", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "gz", openChecksum: bad})
		_, err := yumrepo.Open(context.Background(), dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrChecksum)
		require.ErrorContains(t, err, "open-checksum")
	})
	t.Run("corrupt file reported as checksum", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "gz"})
		matches, err := filepath.Glob(filepath.Join(dir, "repodata", "*-primary.xml.gz"))
		require.NoError(t, err)
		require.Len(t, matches, 1)
		b, err := os.ReadFile(matches[0])
		require.NoError(t, err)
		b[len(b)/2] ^= 0xff
		require.NoError(t, os.WriteFile(matches[0], b, 0o644))
		_, err = yumrepo.Open(context.Background(), dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrChecksum)
	})
}

func TestOpenNotRepo(t *testing.T) {
	t.Parallel()
	t.Run("missing repomd", func(t *testing.T) {
		t.Parallel()
		_, err := yumrepo.Open(context.Background(), t.TempDir(), nil)
		require.ErrorIs(t, err, yumrepo.ErrNotRepo)
		require.ErrorContains(t, err, "repomd.xml")
	})
	t.Run("no primary entry", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), noPrimary: true})
		_, err := yumrepo.Open(context.Background(), dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrNotRepo)
	})
	t.Run("primary file missing", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), href: "repodata/gone-primary.xml.gz"})
		_, err := yumrepo.Open(context.Background(), dir, nil)
		require.Error(t, err)
		require.ErrorContains(t, err, "gone-primary.xml.gz")
		require.NotErrorIs(t, err, yumrepo.ErrNotRepo)
	})
}

func TestOpenBadHref(t *testing.T) {
	t.Parallel()
	hrefs := []string{
		"../primary.xml.gz",
		"repodata/../../primary.xml.gz",
		"/etc/primary.xml.gz",
		"http://evil.example/primary.xml.gz",
		"file:///etc/passwd",
		`repodata\..\..\x.xml`,
		"C:/x.xml",
	}
	for _, href := range hrefs {
		t.Run("repomd "+href, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: samplePrimary(), href: href})
			_, err := yumrepo.Open(context.Background(), dir, nil)
			require.ErrorIs(t, err, yumrepo.ErrUnsafeHref)
		})
		t.Run("package "+href, func(t *testing.T) {
			t.Parallel()
			primary := primaryXML(
				pkgXML("ok", "noarch", "0", "1", "1", "Packages/ok.rpm"),
				pkgXML("evil", "noarch", "0", "1", "1", strings.ReplaceAll(href, `\`, `\`)),
			)
			dir := writeRepo(t, repoSpec{primary: primary, comp: "gz"})
			_, err := yumrepo.Open(context.Background(), dir, nil)
			require.ErrorIs(t, err, yumrepo.ErrUnsafeHref)
			require.ErrorContains(t, err, "primary.xml.gz:")
		})
	}
	t.Run("xml:base", func(t *testing.T) {
		t.Parallel()
		pkg := strings.Replace(pkgXML("evil", "noarch", "0", "1", "1", "Packages/evil.rpm"),
			"<location ", `<location xml:base="http://evil.example/" `, 1)
		dir := writeRepo(t, repoSpec{primary: primaryXML(pkg)})
		_, err := yumrepo.Open(context.Background(), dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrUnsafeHref)
	})
}

func TestOpenMalformed(t *testing.T) {
	t.Parallel()
	good := pkgXML("bash", "x86_64", "0", "5.2", "1", "Packages/bash.rpm")
	tests := []struct {
		name    string
		primary string
		want    string
	}{
		{"unclosed element", string(primaryXML(good))[:len(primaryXML(good))-20], "line"},
		{"mismatched tag", strings.Replace(string(primaryXML(good)), "</arch>", "</name>", 1), "line 5"},
		{"bad epoch", string(primaryXML(strings.Replace(good, `epoch="0"`, `epoch="x"`, 1))), `:6: bad epoch "x"`},
		{"bad size", string(primaryXML(strings.Replace(good, fmt.Sprintf(`package="%d"`, len(yumrepotest.Fill("bash", "0:5.2-1", "x86_64"))), `package="-1"`, 1))), "bad size package"},
		{"no name", string(primaryXML(strings.Replace(good, "<name>bash</name>", "", 1))), ":3: package without a name"},
		{"no location", string(primaryXML(strings.Replace(good, `<location href="Packages/bash.rpm"/>`, "", 1))), "without a location"},
		{"wrong root", `<repomd></repomd>`, "want <metadata>"},
		{"empty", ``, "no root element"},
		{"not xml", `hello`, "text before the root element"},
		{"element in name", string(primaryXML(strings.Replace(good, "<name>bash</name>", "<name><b/></name>", 1))), "inside <name>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: []byte(tc.primary)})
			_, err := yumrepo.Open(context.Background(), dir, nil)
			require.ErrorIs(t, err, yumrepo.ErrMalformed)
			require.ErrorContains(t, err, "-primary.xml")
			require.ErrorContains(t, err, tc.want)
		})
	}
	t.Run("repomd", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "repodata"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"),
			[]byte("<repomd>\n<data type=\"primary\">\n</repomd>"), 0o644))
		_, err := yumrepo.Open(context.Background(), dir, nil)
		require.ErrorIs(t, err, yumrepo.ErrMalformed)
		require.ErrorContains(t, err, "repomd.xml")
		require.ErrorContains(t, err, "line 3")
	})
}

func TestOpenSkipsOtherPackageTypes(t *testing.T) {
	t.Parallel()
	other := strings.Replace(pkgXML("x", "noarch", "0", "1", "1", "../evil"), `type="rpm"`, `type="deb"`, 1)
	noEpoch := strings.Replace(pkgXML("y", "noarch", "", "1", "", "y.rpm"), `epoch="0" `, "", 1) // no epoch attribute: epoch 0
	require.NotContains(t, noEpoch, "<version epoch")
	dir := writeRepo(t, repoSpec{primary: primaryXML(other, noEpoch)})
	repo, err := yumrepo.Open(context.Background(), dir, nil)
	require.NoError(t, err)
	pkgs := repo.Packages()
	require.Len(t, pkgs, 1)
	require.Equal(t, rpmver.EVR{Version: "1"}, pkgs[0].EVR)
}

func TestOpenTooLarge(t *testing.T) {
	t.Parallel()
	for _, comp := range []string{"gz", "xz", "zst", ""} {
		t.Run("comp="+comp, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: comp})
			_, err := yumrepo.Open(context.Background(), dir, &yumrepo.Options{MaxMetadataSize: 1000})
			require.ErrorIs(t, err, yumrepo.ErrTooLarge)
			_, err = yumrepo.Open(context.Background(), dir, &yumrepo.Options{MaxMetadataSize: int64(len(samplePrimary()))})
			require.NoError(t, err)
		})
	}
}

func TestOpenContextCanceled(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "gz"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := yumrepo.Open(ctx, dir, nil)
	require.ErrorIs(t, err, context.Canceled)

	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	_, err = yumrepo.Open(ctx, srv.URL, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestOpenHTTP(t *testing.T) {
	t.Parallel()
	for _, comp := range []string{"gz", "xz", "zst", ""} {
		t.Run("comp="+comp, func(t *testing.T) {
			t.Parallel()
			dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: comp, openChecksum: "auto"})
			srv := httptest.NewServer(http.StripPrefix("/repo", http.FileServer(http.Dir(dir))))
			t.Cleanup(srv.Close)
			repo, err := yumrepo.Open(context.Background(), srv.URL+"/repo/", nil)
			require.NoError(t, err)
			wantSample(t, repo)
			require.Equal(t, srv.URL+"/repo/Packages/b/bash-5.2.15-2.fc39.x86_64.rpm",
				repo.Packages()[0].URL(repo.Base()))
		})
	}
	t.Run("tls", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "zst"})
		srv := httptest.NewTLSServer(http.FileServer(http.Dir(dir)))
		t.Cleanup(srv.Close)
		repo, err := yumrepo.Open(context.Background(), srv.URL, &yumrepo.Options{HTTPClient: srv.Client()})
		require.NoError(t, err)
		wantSample(t, repo)
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		_, err := yumrepo.Open(context.Background(), srv.URL, nil)
		require.ErrorIs(t, err, yumrepo.ErrNotRepo)
	})
	t.Run("server error redacts password", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}))
		t.Cleanup(srv.Close)
		u := strings.Replace(srv.URL, "http://", "http://user:hunter2@", 1)
		_, err := yumrepo.Open(context.Background(), u, nil)
		require.ErrorContains(t, err, "500")
		require.NotContains(t, err.Error(), "hunter2")
	})
	t.Run("checksum mismatch", func(t *testing.T) {
		t.Parallel()
		dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "xz", checksum: strings.Repeat("0", 64)})
		srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
		t.Cleanup(srv.Close)
		_, err := yumrepo.Open(context.Background(), srv.URL, nil)
		require.ErrorIs(t, err, yumrepo.ErrChecksum)
	})
}

func TestOpenBadBase(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "ftp://example.com/repo", "file://remote.example/repo", "http:///nohost"} {
		_, err := yumrepo.Open(context.Background(), base, nil)
		require.Error(t, err, base)
	}
}

func TestPackageURL(t *testing.T) {
	t.Parallel()
	p := yumrepo.Package{Location: "Packages/c/c++ lib#1?.rpm"}
	require.Equal(t, "https://mirror.example/fedora/Packages/c/c++%20lib%231%3F.rpm", p.URL("https://mirror.example/fedora/"))
	require.Equal(t, filepath.Join("/srv/repo", "Packages", "c", "c++ lib#1?.rpm"), p.URL("/srv/repo"))
}

func TestConcurrentOpen(t *testing.T) {
	t.Parallel()
	dir := writeRepo(t, repoSpec{primary: samplePrimary(), comp: "zst"})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			repo, err := yumrepo.Open(context.Background(), dir, nil)
			if err == nil && repo.Len() != 3 {
				err = fmt.Errorf("got %d packages", repo.Len())
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
