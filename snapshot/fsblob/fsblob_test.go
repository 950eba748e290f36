package fsblob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
)

func newStore(t testing.TB) snapshot.BlobStore {
	s, err := fsblob.New(t.TempDir(), nil)
	require.NoError(t, err)
	return s
}

func TestBlobStoreConformance(t *testing.T) {
	t.Parallel()
	snapshottest.RunBlobStore(t, newStore)
}

func BenchmarkPut(b *testing.B) { snapshottest.BenchmarkPut(b, newStore) }

// tmpFiles lists the entries of dir/tmp.
func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "tmp"))
	require.NoError(t, err)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestNoTempFilesLeft(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	data, d := snapshottest.RandomBlob(1, 300_000)
	other, _ := snapshottest.RandomBlob(2, 300_000)

	_, err = s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
	require.NoError(t, err)
	require.Empty(t, tmpFiles(t, dir), "after success")

	_, d2 := snapshottest.RandomBlob(3, 10)
	_, err = s.Put(ctx, d2, -1, bytes.NewReader(other))
	require.ErrorIs(t, err, snapshot.ErrDigestMismatch)
	_, err = s.Put(ctx, d2, 5, bytes.NewReader(other))
	require.ErrorIs(t, err, snapshot.ErrSizeMismatch)
	_, err = s.Put(ctx, d2, -1, io.MultiReader(bytes.NewReader(other), errReader{}))
	require.Error(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Put(cctx, d2, -1, bytes.NewReader(other))
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, tmpFiles(t, dir), "after failures")
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestNewRemovesStaleTempFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	for name, age := range map[string]time.Duration{
		"put-stale":  2 * time.Hour,
		"put-fresh":  10 * time.Minute,
		"other-file": 5 * time.Hour, // not ours: left alone
	} {
		p := filepath.Join(dir, "tmp", name)
		require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
		require.NoError(t, os.Chtimes(p, now.Add(-age), now.Add(-age)))
	}
	_, err = fsblob.New(dir, &fsblob.Options{Now: func() time.Time { return now }})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"put-fresh", "other-file"}, tmpFiles(t, dir))

	_, err = fsblob.New(dir, &fsblob.Options{Now: func() time.Time { return now }, StaleTempAge: time.Minute})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"other-file"}, tmpFiles(t, dir))

	_, err = fsblob.New(dir, &fsblob.Options{StaleTempAge: -time.Second})
	require.Error(t, err)
}

func TestLayoutAndPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "blobs", "nested")
	s, err := fsblob.New(dir, nil)
	require.NoError(t, err, "New creates dir")
	require.Equal(t, dir, s.Dir())
	data := []byte("hello\n")
	d := snapshot.DigestOf(data)
	_, err = s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
	require.NoError(t, err)

	h := d.Hex() // 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03
	p := filepath.Join(dir, "sha256", h[:2], h[2:])
	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.Equal(t, filepath.Join(dir, "sha256", "58", "91b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"), p)

	blob, err := os.Stat(p)
	require.NoError(t, err)
	require.Zero(t, blob.Mode().Perm()&^0o644, "blob mode %s", blob.Mode())
	for _, sub := range []string{"", "sha256", "tmp", filepath.Join("sha256", h[:2])} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		require.NoError(t, err)
		require.True(t, fi.IsDir())
		require.Zero(t, fi.Mode().Perm()&^0o755, "%s mode %s", sub, fi.Mode())
	}

	st, err := s.Stat(ctx, d)
	require.NoError(t, err)
	require.True(t, st.ModTime.Equal(blob.ModTime()), "ModTime is the file's mtime")
}

func TestWalkSkipsForeignEntries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	data := []byte("x")
	d := snapshot.DigestOf(data)
	_, err = s.Put(ctx, d, 1, bytes.NewReader(data))
	require.NoError(t, err)
	h := d.Hex()
	for _, p := range []string{
		filepath.Join("sha256", "README"),
		filepath.Join("sha256", h[:2], "short"),
		filepath.Join("sha256", h[:2], h[2:]+".bak"),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), nil, 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sha256", "zz"), 0o755))
	var got []snapshot.Digest
	require.NoError(t, s.Walk(ctx, func(bi snapshot.BlobInfo) error {
		got = append(got, bi.Digest)
		return nil
	}))
	require.Equal(t, []snapshot.Digest{d}, got)
}

func TestOpenDoesNotVerify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	data := []byte("original")
	d := snapshot.DigestOf(data)
	_, err = s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
	require.NoError(t, err)
	h := d.Hex()
	p := filepath.Join(dir, "sha256", h[:2], h[2:])
	require.NoError(t, os.WriteFile(p, []byte("damaged"), 0o644))
	rc, _, err := s.Open(ctx, d)
	require.NoError(t, err, "Open is the fast path; verification is a separate job")
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, "damaged", string(got))
	_, err = s.Stat(ctx, d)
	require.NoError(t, err)
	require.NoError(t, s.Delete(ctx, d))
	_, err = os.Stat(p)
	require.ErrorIs(t, err, fs.ErrNotExist)
}
