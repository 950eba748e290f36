package snapshottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
)

// NewBlobStore returns a fresh, empty BlobStore. Stores made by separate
// calls must not share state. It may use t.Cleanup and t.TempDir.
type NewBlobStore func(t testing.TB) snapshot.BlobStore

// RandomBlob returns n bytes of content, deterministic in seed, and their
// digest.
func RandomBlob(seed uint64, n int) ([]byte, snapshot.Digest) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b, snapshot.DigestOf(b)
}

// errInjected is what failing readers return.
var errInjected = errors.New("injected read failure")

// failingReader yields data, then fails with errInjected.
type failingReader struct{ r io.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errInjected
	}
	return n, err
}

// panicReader fails the test if read: Put of an existing blob must not read.
type panicReader struct{ t testing.TB }

func (p panicReader) Read([]byte) (int, error) {
	p.t.Errorf("Put read its reader although the blob exists")
	return 0, errInjected
}

// cancellingReader yields endless data in small chunks and cancels its
// context after a few reads, like a slow network body whose caller gives up.
type cancellingReader struct {
	cancel func()
	reads  int
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	c.reads++
	if c.reads == 3 {
		c.cancel()
	}
	n := min(len(p), 4096)
	for i := range p[:n] {
		p[i] = byte(c.reads + i)
	}
	return n, nil
}

// requireAbsent checks that no trace of d is visible: Stat and Open fail
// with ErrBlobNotFound and Walk does not visit it.
func requireAbsent(t testing.TB, s snapshot.BlobStore, d snapshot.Digest) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Stat(ctx, d)
	require.ErrorIs(t, err, snapshot.ErrBlobNotFound)
	_, _, err = s.Open(ctx, d)
	require.ErrorIs(t, err, snapshot.ErrBlobNotFound)
	require.NotContains(t, walkAll(t, s), d, "Walk visits a blob that is not there")
}

// walkAll returns the digests Walk visits, in order.
func walkAll(t testing.TB, s snapshot.BlobStore) []snapshot.Digest {
	t.Helper()
	var ds []snapshot.Digest
	require.NoError(t, s.Walk(context.Background(), func(bi snapshot.BlobInfo) error {
		ds = append(ds, bi.Digest)
		return nil
	}))
	return ds
}

// requireContent checks that d is stored with exactly want.
func requireContent(t testing.TB, s snapshot.BlobStore, d snapshot.Digest, want []byte) {
	t.Helper()
	ctx := context.Background()
	rc, bi, err := s.Open(ctx, d)
	require.NoError(t, err)
	got, err := io.ReadAll(rc)
	require.NoError(t, err)
	require.NoError(t, rc.Close())
	require.Equal(t, d, bi.Digest)
	require.Equal(t, int64(len(want)), bi.Size)
	require.True(t, bytes.Equal(want, got), "content of %s differs (%d bytes, want %d)", d, len(got), len(want))
	st, err := s.Stat(ctx, d)
	require.NoError(t, err)
	require.Equal(t, d, st.Digest)
	require.Equal(t, int64(len(want)), st.Size)
	require.False(t, st.ModTime.IsZero(), "ModTime unset")
}

// RunBlobStore runs the BlobStore conformance suite.
func RunBlobStore(t *testing.T, newStore NewBlobStore) {
	setup := func(t *testing.T) (context.Context, snapshot.BlobStore) {
		t.Parallel()
		return context.Background(), newStore(t)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			n    int
		}{{"Empty", 0}, {"Small", 1000}, {"5MiB", 5 << 20}} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, s := setup(t)
				data, d := RandomBlob(uint64(tc.n), tc.n)
				bi, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
				require.NoError(t, err)
				require.Equal(t, d, bi.Digest)
				require.Equal(t, int64(tc.n), bi.Size)
				require.False(t, bi.ModTime.IsZero(), "ModTime unset")
				requireContent(t, s, d, data)
				require.Equal(t, []snapshot.Digest{d}, walkAll(t, s))
			})
		}
	})

	t.Run("UnknownSize", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(1, 300_000)
		bi, err := s.Put(ctx, d, -1, bytes.NewReader(data))
		require.NoError(t, err)
		require.Equal(t, int64(len(data)), bi.Size)
		requireContent(t, s, d, data)
	})

	t.Run("InvalidSize", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(2, 10)
		_, err := s.Put(ctx, d, -2, bytes.NewReader(data))
		require.Error(t, err)
		requireAbsent(t, s, d)
	})

	t.Run("DigestMismatch", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(3, 70_000)
		other, _ := RandomBlob(4, 70_000)
		for _, size := range []int64{int64(len(other)), -1} {
			_, err := s.Put(ctx, d, size, bytes.NewReader(other))
			require.ErrorIs(t, err, snapshot.ErrDigestMismatch)
			require.ErrorContains(t, err, d.String(), "the error names the expected digest")
			require.ErrorContains(t, err, snapshot.DigestOf(other).String(), "the error names the actual digest")
			requireAbsent(t, s, d)
			requireAbsent(t, s, snapshot.DigestOf(other))
		}
		require.Empty(t, walkAll(t, s))
		_, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		require.NoError(t, err, "a failed Put does not block a good one")
		requireContent(t, s, d, data)
	})

	t.Run("SizeMismatch", func(t *testing.T) {
		data, d := RandomBlob(5, 200_000)
		for _, tc := range []struct {
			name string
			size int64
		}{{"Shorter", int64(len(data)) + 1}, {"Longer", int64(len(data)) - 1}, {"LongerFromEmpty", 0}} {
			t.Run(tc.name, func(t *testing.T) {
				ctx, s := setup(t)
				_, err := s.Put(ctx, d, tc.size, bytes.NewReader(data))
				require.ErrorIs(t, err, snapshot.ErrSizeMismatch)
				require.ErrorContains(t, err, fmt.Sprint(tc.size), "the error names the expected size")
				requireAbsent(t, s, d)
				require.Empty(t, walkAll(t, s))
			})
		}
	})

	t.Run("SizeMismatchReadsAtMostOneBytePast", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(6, 1<<20)
		r := bytes.NewReader(data)
		_, err := s.Put(ctx, d, 1000, r)
		require.ErrorIs(t, err, snapshot.ErrSizeMismatch)
		require.Equal(t, int64(len(data)-1001), int64(r.Len()), "Put read past size+1")
	})

	t.Run("PutExisting", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(7, 5000)
		first, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		require.NoError(t, err)
		for _, size := range []int64{int64(len(data)), -1} {
			again, err := s.Put(ctx, d, size, panicReader{t})
			require.NoError(t, err)
			require.Equal(t, first.Digest, again.Digest)
			require.Equal(t, first.Size, again.Size)
			require.True(t, first.ModTime.Equal(again.ModTime), "the existing blob is kept")
		}
		_, err = s.Put(ctx, d, int64(len(data))+1, panicReader{t})
		require.ErrorIs(t, err, snapshot.ErrSizeMismatch, "a known size must agree with the stored blob")
		requireContent(t, s, d, data)
		require.Len(t, walkAll(t, s), 1)
	})

	t.Run("Delete", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(8, 4096)
		keep, dk := RandomBlob(9, 4096)
		_, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		require.NoError(t, err)
		_, err = s.Put(ctx, dk, int64(len(keep)), bytes.NewReader(keep))
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, d))
		requireAbsent(t, s, d)
		require.ErrorIs(t, s.Delete(ctx, d), snapshot.ErrBlobNotFound, "delete twice")
		requireContent(t, s, dk, keep)
		_, err = s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		require.NoError(t, err, "put after delete")
		requireContent(t, s, d, data)
	})

	t.Run("Missing", func(t *testing.T) {
		ctx, s := setup(t)
		_, d := RandomBlob(10, 1)
		requireAbsent(t, s, d)
		require.ErrorIs(t, s.Delete(ctx, d), snapshot.ErrBlobNotFound)
		require.ErrorIs(t, s.Delete(ctx, snapshot.Digest{}), snapshot.ErrBlobNotFound)
	})

	t.Run("WalkOrderAndStop", func(t *testing.T) {
		ctx, s := setup(t)
		var want []snapshot.Digest
		for i := range 40 {
			data, d := RandomBlob(uint64(100+i), 10+i)
			_, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
			require.NoError(t, err)
			want = append(want, d)
		}
		sortDigests(want)
		var sizes []int64
		var got []snapshot.Digest
		require.NoError(t, s.Walk(ctx, func(bi snapshot.BlobInfo) error {
			got = append(got, bi.Digest)
			sizes = append(sizes, bi.Size)
			if bi.ModTime.IsZero() {
				return errors.New("ModTime unset")
			}
			return nil
		}))
		require.Equal(t, want, got, "Walk visits every blob once, in digest order")
		for i, d := range got {
			st, err := s.Stat(ctx, d)
			require.NoError(t, err)
			require.Equal(t, st.Size, sizes[i])
		}

		stop := errors.New("stop")
		var visited int
		err := s.Walk(ctx, func(snapshot.BlobInfo) error {
			visited++
			if visited == 5 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 5, visited, "Walk stops at fn's error")

		// fn may call the store, here deleting as it goes.
		require.NoError(t, s.Walk(ctx, func(bi snapshot.BlobInfo) error { return s.Delete(ctx, bi.Digest) }))
		require.Empty(t, walkAll(t, s))
	})

	t.Run("ContextCancelledBefore", func(t *testing.T) {
		_, s := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		data, d := RandomBlob(11, 100)
		_, err := s.Put(ctx, d, int64(len(data)), bytes.NewReader(data))
		require.ErrorIs(t, err, context.Canceled)
		requireAbsent(t, s, d)
		_, err = s.Put(context.Background(), d, int64(len(data)), bytes.NewReader(data))
		require.NoError(t, err)
		_, _, err = s.Open(ctx, d)
		require.ErrorIs(t, err, context.Canceled)
		_, err = s.Stat(ctx, d)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, s.Delete(ctx, d), context.Canceled)
		require.ErrorIs(t, s.Walk(ctx, func(snapshot.BlobInfo) error { return nil }), context.Canceled)
		requireContent(t, s, d, data)
	})

	t.Run("ContextCancelledMidStream", func(t *testing.T) {
		for _, size := range []int64{-1, 10 << 20} {
			t.Run(fmt.Sprint("size", size), func(t *testing.T) {
				_, s := setup(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				r := &cancellingReader{cancel: cancel}
				var d snapshot.Digest // the digest of an endless stream is moot
				d[0] = 0xcc
				_, err := s.Put(ctx, d, size, r)
				require.ErrorIs(t, err, context.Canceled)
				require.Less(t, r.reads, 1000, "Put kept reading after ctx was cancelled")
				requireAbsent(t, s, d)
				require.Empty(t, walkAll(t, s))
			})
		}
	})

	t.Run("ReaderFails", func(t *testing.T) {
		ctx, s := setup(t)
		data, d := RandomBlob(12, 1<<20)
		for _, size := range []int64{int64(len(data)), -1} {
			_, err := s.Put(ctx, d, size, &failingReader{bytes.NewReader(data[:len(data)/2])})
			require.ErrorIs(t, err, errInjected)
			requireAbsent(t, s, d)
		}
		require.Empty(t, walkAll(t, s))
	})

	t.Run("ConcurrentPuts", func(t *testing.T) {
		ctx, s := setup(t)
		const workers, blobs, each = 16, 48, 24
		type blob struct {
			data []byte
			d    snapshot.Digest
		}
		all := make([]blob, blobs)
		for i := range all {
			all[i].data, all[i].d = RandomBlob(uint64(1000+i), 1+i*2731)
		}
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(w), 7))
				for _, i := range r.Perm(blobs)[:each] {
					b := all[i]
					size := int64(len(b.data))
					if r.IntN(2) == 0 {
						size = -1
					}
					bi, err := s.Put(ctx, b.d, size, bytes.NewReader(b.data))
					if err == nil && (bi.Digest != b.d || bi.Size != int64(len(b.data))) {
						err = fmt.Errorf("put %s: got info %+v", b.d, bi)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		var put []snapshot.Digest
		for _, b := range all {
			if _, err := s.Stat(ctx, b.d); err == nil {
				put = append(put, b.d)
				requireContent(t, s, b.d, b.data)
			} else {
				require.ErrorIs(t, err, snapshot.ErrBlobNotFound)
			}
		}
		sortDigests(put)
		require.Greater(t, len(put), each, "the workers' sets overlap but differ")
		require.Equal(t, put, walkAll(t, s), "every blob present exactly once")
	})
}

// sortDigests sorts ds into digest order, the order Walk visits.
func sortDigests(ds []snapshot.Digest) {
	slices.SortFunc(ds, func(a, b snapshot.Digest) int { return bytes.Compare(a[:], b[:]) })
}
