package yumrepo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// samples builds the real sample rpms once for this test binary.
var samples yumrepotest.SampleCache

func TestMain(m *testing.M) {
	code := m.Run()
	if err := samples.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	for _, dir := range benchDirs {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// sampleRepo writes a repository of real rpms built by rpmbuild and
// indexed by createrepo_c, or skips (fails under CI) without the tools.
func sampleRepo(t *testing.T, c yumrepotest.Compression) string {
	t.Helper()
	testenv.Tool(t, "rpmbuild", "rpm")
	testenv.Tool(t, "createrepo_c", "createrepo-c")
	dir := t.TempDir()
	_, err := samples.WriteRepo(context.Background(), dir, c)
	require.NoError(t, err)
	return dir
}

// TestOpenCreaterepo reads what createrepo_c writes, in every compression
// (gzip and xz by createrepo_c, zstd and plain recompressed), from a
// directory and over HTTP, and picks the newest builds rpm would.
func TestOpenCreaterepo(t *testing.T) {
	t.Parallel()
	for _, c := range yumrepotest.Compressions {
		t.Run(string(c), func(t *testing.T) {
			t.Parallel()
			dir := sampleRepo(t, c)
			md, err := os.ReadFile(dir + "/repodata/repomd.xml")
			require.NoError(t, err)
			require.Contains(t, string(md), "-primary"+c.Ext()+`"`)
			require.Contains(t, string(md), "<open-checksum", "createrepo_c writes open-checksums, which Open verifies")

			srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
			t.Cleanup(srv.Close)
			for _, base := range []string{dir, srv.URL} {
				repo, err := yumrepo.Open(context.Background(), base, nil)
				require.NoError(t, err, base)
				require.Equal(t, fmt.Sprint(yumrepotest.SourceDateEpoch), repo.Revision())
				require.Equal(t, len(yumrepotest.SampleRPMs()), repo.Len())
				for _, p := range repo.Packages() {
					require.Equal(t, "noarch", p.Arch)
					require.True(t, strings.HasPrefix(p.Location, "Packages/"), p.Location)
					require.Equal(t, "sha256", p.Checksum.Type)
					require.Equal(t, int64(yumrepotest.SourceDateEpoch), p.BuildTime)
					// The package's file, fetched the way Build will
					// fetch it ('^' and '~' in names included).
					b := fetch(t, p.URL(base))
					sum := sha256.Sum256(b)
					require.Equal(t, hex.EncodeToString(sum[:]), p.Checksum.Value, p.Location)
					require.Equal(t, int64(len(b)), p.Size)
				}
				newest := make(map[string]string)
				for _, p := range yumrepo.Newest(repo.Packages()) {
					newest[p.Name] = p.EVR.String()
				}
				require.Equal(t, yumrepotest.SampleNewest, newest)
			}
		})
	}
}

func fetch(t *testing.T, url string) []byte {
	t.Helper()
	if !strings.Contains(url, "://") {
		b, err := os.ReadFile(url)
		require.NoError(t, err)
		return b
	}
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// TestOpenCreaterepoTampered changes one byte of createrepo_c's primary
// file: Open refuses it with ErrChecksum.
func TestOpenCreaterepoTampered(t *testing.T) {
	t.Parallel()
	dir := sampleRepo(t, yumrepotest.XZ)
	repo, err := yumrepo.Open(context.Background(), dir, nil)
	require.NoError(t, err)
	require.NotZero(t, repo.Len())
	matches, err := filepath.Glob(dir + "/repodata/*-primary.xml.xz")
	require.NoError(t, err)
	require.Len(t, matches, 1)
	b, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	b[len(b)-20] ^= 0x01
	require.NoError(t, os.WriteFile(matches[0], b, 0o644))
	_, err = yumrepo.Open(context.Background(), dir, nil)
	require.ErrorIs(t, err, yumrepo.ErrChecksum)
}
