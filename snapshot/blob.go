package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Sentinel errors. Backends wrap them; test with errors.Is.
var (
	// ErrInvalidDigest means a string is not a well-formed digest.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrDigestMismatch means content did not hash to the digest it was
	// stored under.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrSizeMismatch means content was not as long as declared.
	ErrSizeMismatch = errors.New("size mismatch")
	// ErrBlobNotFound means no blob with the digest is stored.
	ErrBlobNotFound = errors.New("blob not found")
)

// digestPrefix is the algorithm prefix of a digest's string form.
const digestPrefix = "sha256:"

// Digest is the SHA-256 of a blob's content, the key it is stored under.
// The zero Digest is a valid value (no content hashes to it in practice).
type Digest [32]byte

// DigestOf returns the digest of b.
func DigestOf(b []byte) Digest { return sha256.Sum256(b) }

// ParseDigest parses a digest written as 64 lower-case hexadecimal digits,
// optionally prefixed with "sha256:" (the form [Digest.String] returns).
// Any other input yields an error wrapping [ErrInvalidDigest].
func ParseDigest(s string) (Digest, error) {
	var d Digest
	h := s
	if len(h) >= len(digestPrefix) && h[:len(digestPrefix)] == digestPrefix {
		h = h[len(digestPrefix):]
	}
	if len(h) != 2*len(d) {
		return Digest{}, fmt.Errorf("snapshot: parse digest %s: %w: want 64 hex digits, got %d characters",
			quoteShort(s), ErrInvalidDigest, len(h))
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') {
			continue
		}
		return Digest{}, fmt.Errorf("snapshot: parse digest %s: %w: character %q at offset %d is not a lower-case hex digit",
			quoteShort(s), ErrInvalidDigest, c, len(s)-len(h)+i)
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil { // cannot fail after the checks above
		return Digest{}, fmt.Errorf("snapshot: parse digest %s: %w: %v", quoteShort(s), ErrInvalidDigest, err)
	}
	return d, nil
}

// quoteShort quotes s for an error message, cutting it short if long so
// that hostile input cannot blow up logs.
func quoteShort(s string) string {
	const max = 80
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}

// String returns the digest as "sha256:" followed by 64 lower-case hex
// digits; ParseDigest reads it back.
func (d Digest) String() string { return digestPrefix + d.Hex() }

// Hex returns the digest as 64 lower-case hex digits, without a prefix.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Digest  Digest
	Size    int64     // in bytes
	ModTime time.Time // when the blob was stored, as the backend records it
}

// BlobStore stores immutable blobs by the SHA-256 of their content, so equal
// content is stored once however many snapshots refer to it.
//
// Every method checks ctx first, and methods that stream content check it
// again between chunks; a cancelled context yields an error wrapping
// ctx.Err(). A Read that blocks is not interrupted: readers that may block
// (a network body, say) should themselves be tied to ctx.
//
// Implementations are safe for concurrent use.
type BlobStore interface {
	// Put stores the content read from r under want. size is its length in
	// bytes, or -1 if unknown; a size below -1 is an error.
	//
	// Put streams r, hashing as it goes, and makes the blob visible only
	// once it is complete and verified: no reader ever sees a half-written
	// blob. If the content does not hash to want, Put fails with an error
	// wrapping [ErrDigestMismatch]; if size is known and r yields fewer or
	// more bytes, with an error wrapping [ErrSizeMismatch] (r is read at
	// most one byte past size). Both errors name the expected and the
	// actual value. An error from r is returned wrapped, and so is ctx's
	// error if ctx ends while streaming. Whenever Put fails it leaves
	// nothing behind.
	//
	// If a blob with digest want already exists, Put returns its BlobInfo
	// without reading r at all (the digest already vouches for the content):
	// storing a blob twice is cheap. The one check made is that a known size
	// agrees with the stored blob's; if not, Put fails with
	// [ErrSizeMismatch]. Callers that want r drained must drain it.
	//
	// On success Put returns the stored blob's BlobInfo.
	Put(ctx context.Context, want Digest, size int64, r io.Reader) (BlobInfo, error)

	// Open returns a reader of the blob's content and its BlobInfo. The
	// caller must close the reader. A blob deleted while open stays readable
	// through the reader where the backend allows (fsblob on POSIX does).
	// If no blob has digest d, Open fails with an error wrapping
	// [ErrBlobNotFound]. Whether Open re-verifies content is the backend's
	// choice and is documented there.
	Open(ctx context.Context, d Digest) (io.ReadCloser, BlobInfo, error)

	// Stat returns the blob's BlobInfo, or an error wrapping
	// [ErrBlobNotFound] if no blob has digest d.
	Stat(ctx context.Context, d Digest) (BlobInfo, error)

	// Delete removes the blob, or fails with an error wrapping
	// [ErrBlobNotFound] if no blob has digest d. Deciding that no snapshot
	// still refers to it is the caller's job.
	Delete(ctx context.Context, d Digest) error

	// Walk calls fn once for every stored blob, in increasing digest order
	// (byte-wise, which is also the order of the hex strings). If fn returns
	// an error, Walk stops and returns it (possibly wrapped). Blobs put or
	// deleted during the walk may or may not be visited, but no blob is
	// visited twice. fn may call the store's other methods.
	Walk(ctx context.Context, fn func(BlobInfo) error) error
}

// chunkSize is the unit CopyVerified reads and writes in, and how often it
// checks ctx.
const chunkSize = 128 << 10

// CopyVerified is the streaming half of [BlobStore.Put], for
// implementations: it copies r to w in chunks, hashing as it goes and
// checking ctx between chunks, and reports whether the content matched
// want and size (-1 = unknown) as Put's contract requires: an error
// wrapping [ErrSizeMismatch], [ErrDigestMismatch], ctx.Err() or r's error.
// If size is known, r is read at most one byte past it. It returns the
// number of bytes written to w. On error, w holds unverified data that the
// caller must discard.
func CopyVerified(ctx context.Context, w io.Writer, want Digest, size int64, r io.Reader) (int64, error) {
	if size < -1 {
		return 0, fmt.Errorf("invalid size %d: want -1 (unknown) or more", size)
	}
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := buf
		if size >= 0 && size+1-n < int64(len(p)) {
			p = p[:size+1-n] // at most one byte past size
		}
		nr, rerr := r.Read(p)
		if nr > 0 {
			if size >= 0 && n+int64(nr) > size {
				return n, fmt.Errorf("%w: expected %d bytes, got more", ErrSizeMismatch, size)
			}
			h.Write(p[:nr])
			nw, werr := w.Write(p[:nr])
			n += int64(nw)
			if werr != nil {
				return n, fmt.Errorf("write: %w", werr)
			}
			if nw != nr {
				return n, fmt.Errorf("write: %w", io.ErrShortWrite)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("read: %w", rerr)
		}
	}
	if size >= 0 && n != size {
		return n, fmt.Errorf("%w: expected %d bytes, got %d", ErrSizeMismatch, size, n)
	}
	var got Digest
	h.Sum(got[:0])
	if got != want {
		return n, fmt.Errorf("%w: expected %s, got %s", ErrDigestMismatch, want, got)
	}
	return n, nil
}
