// Package fsblob is a [snapshot.BlobStore] on a directory of a local file
// system.
//
// # Layout
//
// A blob with digest sha256:abcdef… is the file
//
//	dir/sha256/ab/cdef…
//
// named by the digest's hex digits after the first byte, which fans the
// blobs out over at most 256 directories. dir/tmp holds content being put.
// Other entries under dir/sha256 are ignored.
//
// # Durability
//
// Put writes to a temporary file in dir/tmp (the same file system, so the
// final rename is atomic), hashing while it copies; it then fsyncs the
// file, renames it into place and fsyncs the directory. A blob is therefore
// visible only complete and verified, and once Put returns it survives a
// crash. A crash mid-Put leaves only a temporary file, which [New] removes
// once it is older than [Options.StaleTempAge] (an hour by default): younger
// ones may belong to a Put still running in another process.
//
// # Verification
//
// Open does not re-hash content: it is the fast path, serving files as
// they are. Detecting content damaged at rest (bit rot, tampering) is a
// separate job that reads every blob and compares its hash, to come as the
// store's Verify feature.
//
// # Permissions
//
// Blob files are mode 0644, set explicitly; directories are created 0755,
// less the process's umask. Nothing is more open than that: blobs are
// public package data, meant to be served by other processes, but only the
// owner may write. Temporary files stay 0600 until verified.
//
// # Errors
//
// Errors wrap the sentinels of package snapshot, as the BlobStore contract
// states, and the underlying *fs.PathError where there is one.
//
// # Concurrency
//
// A Store is safe for concurrent use by many goroutines, and several
// processes may share one directory: concurrent Puts of the same digest
// are safe, as each writes its own temporary file and the renames are
// atomic; the loser's temporary file is removed.
package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetkit/fleetkit/snapshot"
)

var _ snapshot.BlobStore = (*Store)(nil)

const (
	blobMode = 0o644
	dirMode  = 0o755
	tmpGlob  = "put-*"
)

// DefaultStaleTempAge is how old a temporary file must be before New
// removes it, unless Options say otherwise.
const DefaultStaleTempAge = time.Hour

// Options configures a Store. The zero value (and nil) means defaults.
type Options struct {
	// Now is the clock New compares temporary files' modification times
	// with; nil means time.Now. BlobInfo.ModTime is always the file's
	// modification time.
	Now func() time.Time
	// StaleTempAge is how old a leftover temporary file must be for New to
	// remove it; zero means DefaultStaleTempAge.
	StaleTempAge time.Duration
}

// Store is a BlobStore on a directory. Create it with New.
type Store struct {
	dir   string // root given to New
	blobs string // dir/sha256
	tmp   string // dir/tmp
}

// New opens the store rooted at dir, creating dir and its layout if needed,
// and removes temporary files that crashed Puts left behind once they are
// older than opts.StaleTempAge. opts may be nil.
func New(dir string, opts *Options) (*Store, error) {
	now, age := time.Now, DefaultStaleTempAge
	if opts != nil {
		if opts.Now != nil {
			now = opts.Now
		}
		if opts.StaleTempAge < 0 {
			return nil, fmt.Errorf("fsblob: new %s: negative StaleTempAge %s", dir, opts.StaleTempAge)
		}
		if opts.StaleTempAge > 0 {
			age = opts.StaleTempAge
		}
	}
	s := &Store{dir: dir, blobs: filepath.Join(dir, "sha256"), tmp: filepath.Join(dir, "tmp")}
	for _, d := range []string{s.blobs, s.tmp} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("fsblob: new: %w", err)
		}
	}
	if err := s.removeStale(now().Add(-age)); err != nil {
		return nil, fmt.Errorf("fsblob: new: %w", err)
	}
	return s, nil
}

// Dir returns the directory the store is rooted at.
func (s *Store) Dir() string { return s.dir }

// removeStale removes temporary files last modified before cutoff.
func (s *Store) removeStale(cutoff time.Time) error {
	entries, err := os.ReadDir(s.tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if ok, _ := filepath.Match(tmpGlob, e.Name()); !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // its Put finished or another New removed it
		}
		if err != nil {
			return err
		}
		if fi.ModTime().Before(cutoff) {
			if err := os.Remove(filepath.Join(s.tmp, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// fanout returns the directory and file name of the blob with digest d.
func (s *Store) fanout(d snapshot.Digest) (dir, name string) {
	h := d.Hex()
	return filepath.Join(s.blobs, h[:2]), h[2:]
}

func (s *Store) path(d snapshot.Digest) string {
	dir, name := s.fanout(d)
	return filepath.Join(dir, name)
}

func info(d snapshot.Digest, fi fs.FileInfo) snapshot.BlobInfo {
	return snapshot.BlobInfo{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}
}

// notFound maps a missing file to snapshot.ErrBlobNotFound, keeping the
// path error in the chain.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", snapshot.ErrBlobNotFound, err)
	}
	return err
}

// Put implements [snapshot.BlobStore.Put]; see the package comment for how
// it makes blobs durable.
func (s *Store) Put(ctx context.Context, want snapshot.Digest, size int64, r io.Reader) (snapshot.BlobInfo, error) {
	bi, err := s.put(ctx, want, size, r)
	if err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("fsblob: put %s: %w", want, err)
	}
	return bi, nil
}

func (s *Store) put(ctx context.Context, want snapshot.Digest, size int64, r io.Reader) (_ snapshot.BlobInfo, err error) {
	if err := ctx.Err(); err != nil {
		return snapshot.BlobInfo{}, err
	}
	final := s.path(want)
	if fi, err := os.Stat(final); err == nil {
		return existing(want, fi, size)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return snapshot.BlobInfo{}, err
	}

	f, err := os.CreateTemp(s.tmp, tmpGlob)
	if err != nil {
		return snapshot.BlobInfo{}, err
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	if _, err := snapshot.CopyVerified(ctx, f, want, size, r); err != nil {
		return snapshot.BlobInfo{}, err
	}
	if err := f.Chmod(blobMode); err != nil {
		return snapshot.BlobInfo{}, err
	}
	if err := f.Sync(); err != nil {
		return snapshot.BlobInfo{}, err
	}
	err = f.Close()
	f = nil
	if err != nil {
		return snapshot.BlobInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return snapshot.BlobInfo{}, err
	}

	dir, _ := s.fanout(want)
	created := false
	if err := os.Mkdir(dir, dirMode); err == nil {
		created = true
	} else if !errors.Is(err, fs.ErrExist) {
		return snapshot.BlobInfo{}, err
	}
	if fi, err := os.Stat(final); err == nil { // a concurrent Put won: keep its file
		return existing(want, fi, size)
	}
	if err := os.Rename(tmp, final); err != nil {
		return snapshot.BlobInfo{}, err
	}
	tmp = ""
	if err := syncDir(dir); err != nil {
		return snapshot.BlobInfo{}, err
	}
	if created {
		if err := syncDir(s.blobs); err != nil {
			return snapshot.BlobInfo{}, err
		}
	}
	fi, err := os.Stat(final)
	if err != nil {
		return snapshot.BlobInfo{}, err
	}
	return info(want, fi), nil
}

// existing is Put's answer when the blob is already stored.
func existing(d snapshot.Digest, fi fs.FileInfo, size int64) (snapshot.BlobInfo, error) {
	if size >= 0 && size != fi.Size() {
		return snapshot.BlobInfo{}, fmt.Errorf("%w: expected %d bytes, stored blob has %d",
			snapshot.ErrSizeMismatch, size, fi.Size())
	}
	return info(d, fi), nil
}

// syncDir fsyncs a directory so that entries renamed into it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Open implements [snapshot.BlobStore.Open]. It returns the *os.File of the
// blob without re-hashing it (see Verification in the package comment).
func (s *Store) Open(ctx context.Context, d snapshot.Digest) (io.ReadCloser, snapshot.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, snapshot.BlobInfo{}, fmt.Errorf("fsblob: open %s: %w", d, err)
	}
	f, err := os.Open(s.path(d))
	if err != nil {
		return nil, snapshot.BlobInfo{}, fmt.Errorf("fsblob: open %s: %w", d, notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, snapshot.BlobInfo{}, fmt.Errorf("fsblob: open %s: %w", d, err)
	}
	return f, info(d, fi), nil
}

// Stat implements [snapshot.BlobStore.Stat].
func (s *Store) Stat(ctx context.Context, d snapshot.Digest) (snapshot.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("fsblob: stat %s: %w", d, err)
	}
	fi, err := os.Stat(s.path(d))
	if err != nil {
		return snapshot.BlobInfo{}, fmt.Errorf("fsblob: stat %s: %w", d, notFound(err))
	}
	return info(d, fi), nil
}

// Delete implements [snapshot.BlobStore.Delete]. The fan-out directory is
// left in place. Readers already open keep reading the deleted content.
func (s *Store) Delete(ctx context.Context, d snapshot.Digest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: delete %s: %w", d, err)
	}
	if err := os.Remove(s.path(d)); err != nil {
		return fmt.Errorf("fsblob: delete %s: %w", d, notFound(err))
	}
	return nil
}

// Walk implements [snapshot.BlobStore.Walk]. It reads the fan-out
// directories in sorted order, which is digest order, checking ctx between
// them. Entries that are not blobs of the layout are skipped, and so are
// blobs deleted before Walk reaches them.
func (s *Store) Walk(ctx context.Context, fn func(snapshot.BlobInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("fsblob: walk: %w", err)
	}
	fans, err := os.ReadDir(s.blobs) // sorted by name
	if err != nil {
		return fmt.Errorf("fsblob: walk: %w", err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("fsblob: walk: %w", err)
		}
		dir := filepath.Join(s.blobs, fan.Name())
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("fsblob: walk: %w", err)
		}
		for _, e := range entries {
			d, perr := snapshot.ParseDigest(fan.Name() + e.Name())
			if perr != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted since ReadDir
			}
			if err != nil {
				return fmt.Errorf("fsblob: walk: %w", err)
			}
			if err := fn(info(d, fi)); err != nil {
				return err
			}
		}
	}
	return nil
}
