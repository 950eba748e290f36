package yumrepo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// newHash returns a hash for an rpm-md checksum type.
func newHash(typ string) (hash.Hash, error) {
	switch strings.ToLower(typ) {
	case "sha256":
		return sha256.New(), nil
	case "sha1", "sha":
		return sha1.New(), nil
	case "sha512":
		return sha512.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha224":
		return sha256.New224(), nil
	default:
		return nil, fmt.Errorf("unsupported checksum type %q", typ)
	}
}

// verifier hashes what is read through it and compares with want.
type verifier struct {
	h    hash.Hash
	want Checksum
	what string // "checksum" or "open-checksum"
	name string
}

func newVerifier(want Checksum, what, name string) (*verifier, error) {
	h, err := newHash(want.Type)
	if err != nil {
		return nil, err
	}
	return &verifier{h: h, want: want, what: what, name: name}, nil
}

func (v *verifier) check() error {
	got := hex.EncodeToString(v.h.Sum(nil))
	if !strings.EqualFold(got, v.want.Value) {
		return fmt.Errorf("%w: %s: %s %s: expected %s, got %s", ErrChecksum, v.name, v.want.Type, v.what, v.want.Value, got)
	}
	return nil
}

type compression int

const (
	compNone compression = iota
	compGzip
	compXz
	compZstd
)

func (c compression) String() string {
	return [...]string{"uncompressed", "gzip", "xz", "zstd"}[c]
}

func compressionByExt(href string) (compression, bool) {
	switch path.Ext(href) {
	case ".gz":
		return compGzip, true
	case ".xz":
		return compXz, true
	case ".zst", ".zstd":
		return compZstd, true
	case ".xml":
		return compNone, true
	}
	return compNone, false
}

func compressionByMagic(b []byte) (compression, bool) {
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return compGzip, true
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}):
		return compXz, true
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return compZstd, true
	}
	return compNone, false
}

// decompress returns a reader of r's decompressed content. The format is
// the one the magic bytes show; a file without known magic is plain XML,
// unless its extension names a compression, which is an error.
func decompress(r io.Reader, href string, limit int64) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	comp, ok := compressionByMagic(magic)
	if !ok {
		if ext, known := compressionByExt(href); known && ext != compNone {
			return nil, nil, fmt.Errorf("%w: not %s data", ErrMalformed, ext)
		}
	}
	noop := func() {}
	switch comp {
	case compGzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %w", ErrMalformed, err)
		}
		return zr, noop, nil
	case compXz:
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: xz: %w", ErrMalformed, err)
		}
		return zr, noop, nil
	case compZstd:
		zr, err := zstd.NewReader(br,
			zstd.WithDecoderConcurrency(1),
			// Our own limit reader enforces limit exactly; these keep
			// the decoder from allocating for frames that claim more.
			zstd.WithDecoderMaxMemory(uint64(limit)+1<<20),
			zstd.WithDecoderMaxWindow(uint64(min(limit+1<<20, 1<<29))),
		)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %w", ErrMalformed, err)
		}
		return zstdReader{zr}, zr.Close, nil
	default:
		return br, noop, nil
	}
}

// fetchPrimary fetches, verifies, decompresses and parses the primary
// metadata file df, calling emit for each package. emit's packages are
// not yet verified: a caller must discard them when fetchPrimary fails.
func fetchPrimary(ctx context.Context, src source, df dataFile, limit int64, emit func(Package) error) (err error) {
	name := src.name(df.Href)
	rc, err := src.open(ctx, df.Href)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return wrapf("read %s: primary metadata listed in %s is missing: %w", name, repomdPath, err)
		}
		return wrapf("read %s: %w", name, err)
	}
	defer rc.Close()

	sum, err := newVerifier(df.Checksum, "checksum", name)
	if err != nil {
		return wrapf("%s: %w", name, err)
	}
	raw := io.TeeReader(newLimitReader(ctxReader{ctx, rc}, limit, name), sum.h)

	// drainRaw reads the rest of the compressed file and checks its
	// checksum. Called on failure too: a corrupt download is better
	// reported as a checksum mismatch than as a decoding error.
	drainRaw := func() error {
		if _, err := io.Copy(io.Discard, raw); err != nil {
			return wrapf("read %s: %w", name, err)
		}
		return sum.check()
	}
	fail := func(err error) error {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, ErrTooLarge) {
			return err
		}
		if cerr := drainRaw(); errors.Is(cerr, ErrChecksum) {
			return cerr
		}
		return err
	}

	dr, closeDec, err := decompress(raw, df.Href, limit)
	if err != nil {
		return fail(wrapf("%s: %w", name, err))
	}
	defer closeDec()
	var r io.Reader = newLimitReader(dr, limit, name+" (decompressed)")
	var open *verifier
	if df.OpenChecksum.Value != "" {
		open, err = newVerifier(df.OpenChecksum, "open-checksum", name)
		if err != nil {
			return wrapf("%s: %w", name, err)
		}
		r = io.TeeReader(r, open.h)
	}
	if err := parsePrimary(ctx, r, name, emit); err != nil {
		return fail(err)
	}
	// Read what follows the document so both checksums cover everything.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fail(wrapf("read %s: %w", name, err))
	}
	if err := drainRaw(); err != nil {
		return err
	}
	if open != nil {
		return open.check()
	}
	return nil
}

// zstdReader reports the decoder's size limits as ErrTooLarge.
type zstdReader struct{ r io.Reader }

func (z zstdReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		err = fmt.Errorf("%w: zstd: %w", ErrTooLarge, err)
	}
	return n, err
}
