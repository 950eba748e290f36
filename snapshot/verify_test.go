package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// vfPkg is a package entry whose digest and size are those of content.
func vfPkg(name, content string) snapshot.PackageEntry {
	return snapshot.PackageEntry{
		Name:   name,
		Arch:   "x86_64",
		EVR:    rpmver.EVR{Version: "1.0", Release: "1"},
		Size:   int64(len(content)),
		Digest: snapshot.DigestOf([]byte(content)),
	}
}

// vfBoot is a boot file entry whose digest and size are those of content.
func vfBoot(name, content string) snapshot.BootFile {
	return snapshot.BootFile{Name: name, Size: int64(len(content)), Digest: snapshot.DigestOf([]byte(content))}
}

// vfSeal seals a manifest holding pkgs and files with keys.
func vfSeal(t testing.TB, keys *snapshot.KeyRing, id string, pkgs []snapshot.PackageEntry, files ...snapshot.BootFile) snapshot.Sealed {
	t.Helper()
	s, err := keys.SealManifest(&snapshot.Manifest{ID: id, OSRelease: "rhel-9.4", Arch: "x86_64", Packages: pkgs, BootFiles: files})
	require.NoError(t, err)
	return s
}

// vfPut stores every content in store.
func vfPut(t testing.TB, store snapshot.BlobStore, contents ...string) {
	t.Helper()
	for _, c := range contents {
		_, err := store.Put(context.Background(), snapshot.DigestOf([]byte(c)), int64(len(c)), strings.NewReader(c))
		require.NoError(t, err)
	}
}

// verifyBoth runs Verify in quick and full mode and returns both reports.
func verifyBoth(t *testing.T, p snapshot.VerifyParams) (quick, full *snapshot.VerifyReport) {
	t.Helper()
	var err error
	p.Full = false
	quick, err = snapshot.Verify(context.Background(), p)
	require.NoError(t, err)
	p.Full = true
	full, err = snapshot.Verify(context.Background(), p)
	require.NoError(t, err)
	return quick, full
}

func TestVerifyAllGood(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash", "glibc", "vmlinuz")
	snaps := []snapshot.Sealed{
		vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{vfPkg("bash", "bash"), vfPkg("glibc", "glibc")}, vfBoot("vmlinuz", "vmlinuz")),
		vfSeal(t, keys, "snap-b", []snapshot.PackageEntry{vfPkg("bash", "bash")}),
	}
	quick, full := verifyBoth(t, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: snaps, Unexpected: true})
	for _, r := range []*snapshot.VerifyReport{quick, full} {
		require.True(t, r.OK(), "%+v", r.Problems)
		require.Empty(t, r.Problems)
		require.Equal(t, 3, r.Checked)
	}
	require.Zero(t, quick.Bytes)
	require.Equal(t, int64(len("bash")+len("glibc")+len("vmlinuz")), full.Bytes)

	// No snapshots: nothing to check, still OK.
	r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{Blobs: store, Keys: keys})
	require.NoError(t, err)
	require.True(t, r.OK())
	require.Zero(t, r.Checked)
}

func TestVerifyMissing(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash")
	snap := vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{vfPkg("bash", "bash"), vfPkg("glibc", "glibc")})
	quick, full := verifyBoth(t, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}})
	for _, r := range []*snapshot.VerifyReport{quick, full} {
		require.False(t, r.OK())
		require.Len(t, r.Problems, 1)
		p := r.Problems[0]
		require.Equal(t, snapshot.ProblemMissing, p.Kind)
		require.Equal(t, "snap-a", p.Snapshot)
		require.Equal(t, "glibc-1.0-1.x86_64", p.Package)
		require.Equal(t, snapshot.DigestOf([]byte("glibc")), p.Digest)
		require.Equal(t, 2, r.Checked)
	}
}

// TestVerifyCorrupt damages blob files on disk behind fsblob's back (no
// BlobStore would accept bad content through Put). Quick mode checks only
// presence and size, so same-length damage passes it; full mode catches it.
func TestVerifyCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	store, err := fsblob.New(dir, nil)
	require.NoError(t, err)
	keys := newRing(t)
	vfPut(t, store, "bash-content", "glibc-content", "good-content")
	snap := vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{
		vfPkg("bash", "bash-content"), vfPkg("glibc", "glibc-content"), vfPkg("good", "good-content"),
	})
	overwrite := func(content, garbage string) {
		h := snapshot.DigestOf([]byte(content)).Hex()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "sha256", h[:2], h[2:]), []byte(garbage), 0o644))
	}
	overwrite("bash-content", "XXXX-content") // same length
	overwrite("glibc-content", "short")       // another length

	quick, full := verifyBoth(t, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}})

	require.Equal(t, []snapshot.ProblemKind{snapshot.ProblemWrongSize}, kinds(quick), "quick mode misses same-length damage")
	require.Equal(t, "glibc-1.0-1.x86_64", quick.Problems[0].Package)

	require.Equal(t, []snapshot.ProblemKind{
		snapshot.ProblemCorrupt, snapshot.ProblemCorrupt, snapshot.ProblemWrongSize,
	}, kinds(full))
	require.Equal(t, "bash-1.0-1.x86_64", full.Problems[0].Package)
	require.Equal(t, snapshot.DigestOf([]byte("bash-content")), full.Problems[0].Digest)
	require.Contains(t, full.Problems[0].Detail, snapshot.DigestOf([]byte("XXXX-content")).String())
	require.Equal(t, "glibc-1.0-1.x86_64", full.Problems[1].Package)
	require.Equal(t, 3, full.Checked)
	require.Equal(t, int64(len("XXXX-content")+len("short")+len("good-content")), full.Bytes)
}

func kinds(r *snapshot.VerifyReport) []snapshot.ProblemKind {
	var ks []snapshot.ProblemKind
	for _, p := range r.Problems {
		ks = append(ks, p.Kind)
	}
	return ks
}

func TestVerifyWrongSize(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash")
	p := vfPkg("bash", "bash")
	p.Size++
	snap := vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{p})
	quick, full := verifyBoth(t, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}})
	for _, r := range []*snapshot.VerifyReport{quick, full} {
		require.Equal(t, []snapshot.ProblemKind{snapshot.ProblemWrongSize}, kinds(r))
		require.Equal(t, "bash-1.0-1.x86_64", r.Problems[0].Package)
		require.Equal(t, "manifest says 5 bytes, store has 4", r.Problems[0].Detail)
	}
}

func TestVerifyTamperedManifest(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash")
	good := vfSeal(t, keys, "snap-good", []snapshot.PackageEntry{vfPkg("bash", "bash")})
	bad := vfSeal(t, keys, "snap-bad", []snapshot.PackageEntry{vfPkg("bash", "bash"), vfPkg("glibc", "glibc")})
	bad.Packages = []snapshot.PackageEntry{bad.Packages[0], bad.Packages[1]} // do not alias the sealed slice
	bad.Packages[0].EVR.Release = "2"                                        // changed after sealing

	r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{
		Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{good, bad},
	})
	require.NoError(t, err)
	// The tampered snapshot's blobs are still checked: glibc is missing.
	require.Len(t, r.Problems, 2)
	require.Equal(t, snapshot.Problem{Kind: snapshot.ProblemMissing, Snapshot: "snap-bad", Package: "glibc-1.0-1.x86_64",
		Digest: snapshot.DigestOf([]byte("glibc")), Detail: "blob not in the store"}, r.Problems[0])
	p := r.Problems[1]
	require.Equal(t, snapshot.ProblemTamperedManifest, p.Kind)
	require.Equal(t, "snap-bad", p.Snapshot)
	require.Empty(t, p.Package)
	require.Zero(t, p.Digest)
	require.Contains(t, p.Detail, snapshot.ErrTampered.Error())
	require.Equal(t, 2, r.Checked)
}

func TestVerifyUnknownKey(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash")
	old := vfSeal(t, keys, "snap-old", []snapshot.PackageEntry{vfPkg("bash", "bash"), vfPkg("glibc", "glibc")})

	keys, err := keys.WithKey("k2", testKey("two"))
	require.NoError(t, err)
	keys, err = keys.WithCurrent("k2")
	require.NoError(t, err)
	keys, err = keys.Retire("k1")
	require.NoError(t, err)
	fresh := vfSeal(t, keys, "snap-new", []snapshot.PackageEntry{vfPkg("bash", "bash")})

	r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{
		Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{old, fresh},
	})
	require.NoError(t, err)
	require.Equal(t, []snapshot.ProblemKind{snapshot.ProblemMissing, snapshot.ProblemUnknownKey}, kinds(r))
	require.Equal(t, "snap-old", r.Problems[0].Snapshot)
	require.Equal(t, "snap-old", r.Problems[1].Snapshot)
	require.Contains(t, r.Problems[1].Detail, `"k1"`)
	require.NotContains(t, r.Problems[1].Detail, string(testKey("one")))
}

func TestVerifyUnexpected(t *testing.T) {
	t.Parallel()
	store, keys := memblob.New(nil), newRing(t)
	vfPut(t, store, "bash", "stray-1", "stray-2")
	snap := vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{vfPkg("bash", "bash")})

	p := snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}}
	r, err := snapshot.Verify(context.Background(), p)
	require.NoError(t, err)
	require.True(t, r.OK(), "unexpected blobs are reported only when asked for")

	p.Unexpected = true
	quick, full := verifyBoth(t, p)
	for _, r := range []*snapshot.VerifyReport{quick, full} {
		require.Equal(t, []snapshot.ProblemKind{snapshot.ProblemUnexpected, snapshot.ProblemUnexpected}, kinds(r))
		got := map[snapshot.Digest]bool{}
		for _, p := range r.Problems {
			require.Empty(t, p.Snapshot)
			require.Empty(t, p.Package)
			got[p.Digest] = true
		}
		require.Equal(t, map[snapshot.Digest]bool{
			snapshot.DigestOf([]byte("stray-1")): true,
			snapshot.DigestOf([]byte("stray-2")): true,
		}, got)
		require.Equal(t, 1, r.Checked, "unexpected blobs are not counted as checked")
	}
	require.Equal(t, int64(len("bash")), full.Bytes)
}

func TestVerifySharedBlobs(t *testing.T) {
	t.Parallel()
	keys := newRing(t)
	// One blob referenced by two snapshots, and within snap-b by a package
	// and a boot file.
	snaps := []snapshot.Sealed{
		vfSeal(t, keys, "snap-b", []snapshot.PackageEntry{vfPkg("shared", "same")}, vfBoot("initrd", "same")),
		vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{vfPkg("shared", "same")}),
	}

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		store := &countingStore{BlobStore: memblob.New(nil)}
		quick, full := verifyBoth(t, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: snaps})
		for _, r := range []*snapshot.VerifyReport{quick, full} {
			require.Equal(t, 1, r.Checked)
			d := snapshot.DigestOf([]byte("same"))
			require.Equal(t, []snapshot.Problem{
				{Kind: snapshot.ProblemMissing, Snapshot: "snap-a", Digest: d, Package: "shared-1.0-1.x86_64", Detail: "blob not in the store"},
				{Kind: snapshot.ProblemMissing, Snapshot: "snap-b", Digest: d, Package: "initrd", Detail: "blob not in the store"},
				{Kind: snapshot.ProblemMissing, Snapshot: "snap-b", Digest: d, Package: "shared-1.0-1.x86_64", Detail: "blob not in the store"},
			}, r.Problems)
		}
	})

	t.Run("checked once", func(t *testing.T) {
		t.Parallel()
		store := &countingStore{BlobStore: memblob.New(nil)}
		vfPut(t, store, "same")
		r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: snaps, Full: true})
		require.NoError(t, err)
		require.True(t, r.OK())
		require.Equal(t, 1, r.Checked)
		require.Equal(t, int64(len("same")), r.Bytes)
		require.Equal(t, 1, store.opens)
	})
}

// countingStore is a BlobStore that counts Opens and how many readers are
// open at once. If gate > 0, each Open waits (up to a few seconds) until
// gate readers are open at once, so that a pool that can reach its bound
// does.
type countingStore struct {
	snapshot.BlobStore
	gate int

	mu        sync.Mutex
	opens     int
	open, max int
	full      chan struct{} // closed once gate readers are open
}

func (s *countingStore) Open(ctx context.Context, d snapshot.Digest) (io.ReadCloser, snapshot.BlobInfo, error) {
	s.mu.Lock()
	s.opens++
	s.open++
	s.max = max(s.max, s.open)
	if s.full == nil {
		s.full = make(chan struct{})
	}
	full := s.full
	if s.gate > 0 && s.open == s.gate {
		select {
		case <-full:
		default:
			close(full)
		}
	}
	s.mu.Unlock()
	if s.gate > 0 {
		select {
		case <-full:
		case <-time.After(5 * time.Second):
		}
	}
	rc, info, err := s.BlobStore.Open(ctx, d)
	if err != nil {
		s.done()
		return nil, info, err
	}
	return &countingReader{ReadCloser: rc, s: s}, info, nil
}

func (s *countingStore) done() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

type countingReader struct {
	io.ReadCloser
	s    *countingStore
	once sync.Once
}

func (r *countingReader) Close() error {
	r.once.Do(r.s.done)
	return r.ReadCloser.Close()
}

func TestVerifyConcurrencyBound(t *testing.T) {
	t.Parallel()
	keys := newRing(t)
	var pkgs []snapshot.PackageEntry
	var contents []string
	for i := range 20 {
		c := fmt.Sprintf("content-%d", i)
		contents = append(contents, c)
		pkgs = append(pkgs, vfPkg(fmt.Sprintf("p%02d", i), c))
	}
	snap := vfSeal(t, keys, "snap-a", pkgs)

	for _, limit := range []int{1, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			store := &countingStore{BlobStore: memblob.New(nil), gate: limit}
			vfPut(t, store, contents...)
			r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{
				Blobs: store, Keys: keys, Snapshots: []snapshot.Sealed{snap}, Full: true, Concurrency: limit,
			})
			require.NoError(t, err)
			require.True(t, r.OK())
			require.Equal(t, 20, r.Checked)
			require.Equal(t, 20, store.opens)
			require.Equal(t, limit, store.max, "at most Concurrency blobs open at once, and the pool uses them all")
			require.Zero(t, store.open, "every reader closed")
		})
	}
}

// hookStore is a BlobStore whose Stat and Open call a hook first; a hook's
// error is returned instead of the store's answer.
type hookStore struct {
	snapshot.BlobStore
	hook func(op string, d snapshot.Digest) error
}

func (s *hookStore) Stat(ctx context.Context, d snapshot.Digest) (snapshot.BlobInfo, error) {
	if err := s.hook("stat", d); err != nil {
		return snapshot.BlobInfo{}, err
	}
	return s.BlobStore.Stat(ctx, d)
}

func (s *hookStore) Open(ctx context.Context, d snapshot.Digest) (io.ReadCloser, snapshot.BlobInfo, error) {
	if err := s.hook("open", d); err != nil {
		return nil, snapshot.BlobInfo{}, err
	}
	return s.BlobStore.Open(ctx, d)
}

func TestVerifyContext(t *testing.T) {
	t.Parallel()
	keys := newRing(t)
	mem := memblob.New(nil)
	var pkgs []snapshot.PackageEntry
	for i := range 50 {
		c := fmt.Sprintf("content-%d", i)
		vfPut(t, mem, c)
		pkgs = append(pkgs, vfPkg(fmt.Sprintf("p%02d", i), c))
	}
	snaps := []snapshot.Sealed{vfSeal(t, keys, "snap-a", pkgs)}

	t.Run("cancelled before", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: mem, Keys: keys, Snapshots: snaps})
		require.ErrorIs(t, err, context.Canceled)
		require.Nil(t, r)
	})

	for _, full := range []bool{false, true} {
		t.Run(fmt.Sprintf("cancelled during/full=%v", full), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var mu sync.Mutex
			calls := 0
			store := &hookStore{BlobStore: mem, hook: func(string, snapshot.Digest) error {
				mu.Lock()
				defer mu.Unlock()
				calls++
				if calls == 3 {
					cancel()
				}
				return nil
			}}
			r, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: snaps, Full: full, Concurrency: 2})
			require.ErrorIs(t, err, context.Canceled)
			require.Nil(t, r)
			mu.Lock()
			defer mu.Unlock()
			require.Less(t, calls, 10, "stops promptly")
		})
	}
}

// TestVerifyStoreError: store errors other than not found abort the check.
func TestVerifyStoreError(t *testing.T) {
	t.Parallel()
	keys := newRing(t)
	mem := memblob.New(nil)
	vfPut(t, mem, "bash", "glibc")
	snaps := []snapshot.Sealed{vfSeal(t, keys, "snap-a", []snapshot.PackageEntry{vfPkg("bash", "bash"), vfPkg("glibc", "glibc")})}
	errIO := errors.New("disk on fire")
	bad := snapshot.DigestOf([]byte("glibc"))
	store := &hookStore{BlobStore: mem, hook: func(_ string, d snapshot.Digest) error {
		if d == bad {
			return errIO
		}
		return nil
	}}
	for _, full := range []bool{false, true} {
		r, err := snapshot.Verify(context.Background(), snapshot.VerifyParams{Blobs: store, Keys: keys, Snapshots: snaps, Full: full})
		require.ErrorIs(t, err, errIO)
		require.ErrorContains(t, err, bad.String())
		require.Nil(t, r)
	}
}

func TestVerifyParamsInvalid(t *testing.T) {
	t.Parallel()
	keys, store := newRing(t), memblob.New(nil)
	for name, p := range map[string]snapshot.VerifyParams{
		"nil blobs":            {Keys: keys},
		"nil keys":             {Blobs: store},
		"negative concurrency": {Blobs: store, Keys: keys, Concurrency: -1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := snapshot.Verify(context.Background(), p)
			require.Error(t, err)
		})
	}
}
