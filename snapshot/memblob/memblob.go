// Package memblob is an in-memory [snapshot.BlobStore]: the fake to use in
// tests. It passes the same conformance suite (snapshot/snapshottest) as
// the real backends.
//
// Content is copied in on Put and never changed afterwards; Open hands out
// a reader over the stored bytes, so callers can neither see nor cause a
// change. Nothing is persisted.
//
// # Errors
//
// Errors wrap the sentinels of package snapshot, as the BlobStore contract
// states.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines.
package memblob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/snapshot"
)

var _ snapshot.BlobStore = (*Store)(nil)

// Options configures a Store. The zero value (and nil) means defaults.
type Options struct {
	// Now is the clock that stamps BlobInfo.ModTime; nil means time.Now.
	Now func() time.Time
}

// maxPrealloc caps how much Put allocates up front from a declared size, so
// a bogus size cannot exhaust memory before any content arrives.
const maxPrealloc = 64 << 20

// Store is an in-memory BlobStore. Create it with New.
type Store struct {
	now   func() time.Time
	mu    sync.RWMutex
	blobs map[snapshot.Digest]blob
}

type blob struct {
	data []byte // never modified once stored
	mod  time.Time
}

func (b blob) info(d snapshot.Digest) snapshot.BlobInfo {
	return snapshot.BlobInfo{Digest: d, Size: int64(len(b.data)), ModTime: b.mod}
}

// New returns an empty Store. opts may be nil.
func New(opts *Options) *Store {
	s := &Store{now: time.Now, blobs: make(map[snapshot.Digest]blob)}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

func (s *Store) lookup(d snapshot.Digest) (blob, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, ok := s.blobs[d]
	return b, ok
}

// Put implements [snapshot.BlobStore.Put]. The content is buffered in
// memory and stored only once verified.
func (s *Store) Put(ctx context.Context, want snapshot.Digest, size int64, r io.Reader) (snapshot.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("memblob: put %s: %w", want, err)
	}
	if b, ok := s.lookup(want); ok {
		return existing(want, b, size)
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, maxPrealloc)))
	}
	if _, err := snapshot.CopyVerified(ctx, &buf, want, size, r); err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("memblob: put %s: %w", want, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.blobs[want]; ok { // a concurrent Put won
		return existing(want, b, size)
	}
	b := blob{data: slices.Clip(buf.Bytes()), mod: s.now()}
	s.blobs[want] = b
	return b.info(want), nil
}

// existing is Put's answer when the blob is already stored.
func existing(d snapshot.Digest, b blob, size int64) (snapshot.BlobInfo, error) {
	if size >= 0 && size != int64(len(b.data)) {
		return snapshot.BlobInfo{}, fmt.Errorf("memblob: put %s: %w: expected %d bytes, stored blob has %d",
			d, snapshot.ErrSizeMismatch, size, len(b.data))
	}
	return b.info(d), nil
}

// Open implements [snapshot.BlobStore.Open].
func (s *Store) Open(ctx context.Context, d snapshot.Digest) (io.ReadCloser, snapshot.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, snapshot.BlobInfo{}, fmt.Errorf("memblob: open %s: %w", d, err)
	}
	b, ok := s.lookup(d)
	if !ok {
		return nil, snapshot.BlobInfo{}, fmt.Errorf("memblob: open %s: %w", d, snapshot.ErrBlobNotFound)
	}
	return io.NopCloser(bytes.NewReader(b.data)), b.info(d), nil
}

// Stat implements [snapshot.BlobStore.Stat].
func (s *Store) Stat(ctx context.Context, d snapshot.Digest) (snapshot.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("memblob: stat %s: %w", d, err)
	}
	b, ok := s.lookup(d)
	if !ok {
		return snapshot.BlobInfo{}, fmt.Errorf("memblob: stat %s: %w", d, snapshot.ErrBlobNotFound)
	}
	return b.info(d), nil
}

// Delete implements [snapshot.BlobStore.Delete]. Readers already open keep
// reading the deleted content.
func (s *Store) Delete(ctx context.Context, d snapshot.Digest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memblob: delete %s: %w", d, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[d]; !ok {
		return fmt.Errorf("memblob: delete %s: %w", d, snapshot.ErrBlobNotFound)
	}
	delete(s.blobs, d)
	return nil
}

// Walk implements [snapshot.BlobStore.Walk]. It visits the blobs stored
// when it was called, holding no lock while fn runs.
func (s *Store) Walk(ctx context.Context, fn func(snapshot.BlobInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memblob: walk: %w", err)
	}
	s.mu.RLock()
	infos := make([]snapshot.BlobInfo, 0, len(s.blobs))
	for d, b := range s.blobs {
		infos = append(infos, b.info(d))
	}
	s.mu.RUnlock()
	slices.SortFunc(infos, func(a, b snapshot.BlobInfo) int { return bytes.Compare(a.Digest[:], b.Digest[:]) })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memblob: walk: %w", err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}
