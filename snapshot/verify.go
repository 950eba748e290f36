package snapshot

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"sync"
)

// ProblemKind says what is wrong, in a [Problem] that [Verify] reports.
type ProblemKind string

// The kinds of problem [Verify] reports.
const (
	// ProblemMissing: a blob a snapshot references is not in the store.
	ProblemMissing ProblemKind = "missing"
	// ProblemCorrupt: a blob's content does not hash to its digest (full
	// mode only).
	ProblemCorrupt ProblemKind = "corrupt"
	// ProblemWrongSize: a blob's size in the store differs from the size
	// the manifest records for it.
	ProblemWrongSize ProblemKind = "wrong-size"
	// ProblemUnexpected: a stored blob that no listed snapshot references
	// (only with [VerifyParams.Unexpected]).
	ProblemUnexpected ProblemKind = "unexpected"
	// ProblemTamperedManifest: a snapshot's manifest does not match its
	// seal, or does not validate.
	ProblemTamperedManifest ProblemKind = "tampered-manifest"
	// ProblemUnknownKey: a snapshot's seal names a key that is not in the
	// ring (retired or never known), so the manifest cannot be vouched for.
	ProblemUnknownKey ProblemKind = "unknown-key"
)

// VerifyParams are the inputs of [Verify].
type VerifyParams struct {
	// Blobs is the store to check; required.
	Blobs BlobStore
	// Keys verifies the snapshots' seals; required.
	Keys *KeyRing
	// Snapshots are the snapshots to check.
	Snapshots []Sealed
	// Full re-reads and re-hashes every referenced blob. Without it, the
	// check is quick: each blob's presence and size, by Stat, which does
	// not detect content damaged in place at the same length.
	Full bool
	// Concurrency bounds how many blobs are checked at once; 0 means
	// runtime.GOMAXPROCS(0). Negative is an error.
	Concurrency int
	// Progress, when set, is called after each blob is checked with the
	// number checked so far, the total, and how many had problems; calls
	// are serialised.
	Progress func(done, total, failed int)
	// Unexpected also walks the store and reports every blob that no
	// listed snapshot references. Only meaningful when Snapshots lists
	// every snapshot the store holds blobs for.
	Unexpected bool
}

// VerifyReport is what [Verify] found.
type VerifyReport struct {
	// Checked is the number of distinct referenced blobs checked; a blob
	// several snapshots or packages share counts once. Unexpected blobs
	// are not counted.
	Checked int
	// Bytes is the number of bytes hashed (full mode; 0 in quick mode).
	Bytes int64
	// Problems are sorted by snapshot, kind, package, digest (then
	// detail), so equal inputs give equal reports.
	Problems []Problem
}

// OK reports whether Verify found no problem.
func (r VerifyReport) OK() bool { return len(r.Problems) == 0 }

// Problem is one thing wrong that [Verify] found.
type Problem struct {
	Kind ProblemKind
	// Snapshot is the ID of the snapshot concerned; empty for
	// [ProblemUnexpected].
	Snapshot string
	// Digest is the blob's; zero for [ProblemTamperedManifest] and
	// [ProblemUnknownKey].
	Digest Digest
	// Package names the manifest entry that references the blob: a
	// package as name-EVR.arch (e.g. "bash-5.1.8-9.el9.x86_64") or a boot
	// file by its name. Empty for [ProblemTamperedManifest],
	// [ProblemUnknownKey] and [ProblemUnexpected].
	Package string
	// Detail is a human-readable explanation.
	Detail string
}

// blobRef is one manifest entry referencing a blob.
type blobRef struct {
	snapshot string
	pkg      string
	size     int64
}

// Verify checks that p.Blobs holds, intact, every blob that p.Snapshots
// reference, and that each snapshot's seal verifies with p.Keys.
//
// For each snapshot, the seal is verified first: a manifest that does not
// match its seal (or does not validate) is reported as
// [ProblemTamperedManifest], one sealed with a key not in the ring as
// [ProblemUnknownKey]; either way its blobs are still checked. Then every
// distinct referenced blob is checked once, by at most p.Concurrency
// goroutines:
//
//   - quick mode (p.Full false): Stat. A blob not found is
//     [ProblemMissing]; a size other than the manifest's is
//     [ProblemWrongSize]. Content damaged in place without a change of
//     length is NOT detected; that takes full mode.
//   - full mode: Open and re-hash (SHA-256) the content, counting the
//     bytes in [VerifyReport.Bytes]. Besides missing and wrong size (by the
//     number of bytes read), content that does not hash to its digest is
//     [ProblemCorrupt].
//
// A problem with a blob is reported once for every manifest entry that
// references it. With p.Unexpected, the store is then walked and every
// blob no listed snapshot references is reported as [ProblemUnexpected];
// blobs put while Verify runs may show up as such.
//
// Problems go in the report; the error is for failures of the check
// itself: invalid params, ctx ending (Verify stops promptly and returns an
// error wrapping ctx.Err()), and store errors other than
// [ErrBlobNotFound] from Stat, Open, reading a blob or Walk, which abort
// the check (an unreadable store cannot be vouched for, and a partial
// report would look cleaner than the truth). On error the report is nil.
//
// Verify does not modify the store or the snapshots and is safe to call
// concurrently.
func Verify(ctx context.Context, p VerifyParams) (*VerifyReport, error) {
	switch {
	case p.Blobs == nil:
		return nil, errors.New("snapshot: verify: nil Blobs")
	case p.Keys == nil:
		return nil, errors.New("snapshot: verify: nil Keys")
	case p.Concurrency < 0:
		return nil, fmt.Errorf("snapshot: verify: negative Concurrency %d", p.Concurrency)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("snapshot: verify: %w", err)
	}
	workers := p.Concurrency
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}

	rep := &VerifyReport{}
	refs := make(map[Digest][]blobRef)
	for i := range p.Snapshots {
		s := &p.Snapshots[i]
		if err := p.Keys.VerifySealed(s); err != nil {
			kind := ProblemTamperedManifest
			if errors.Is(err, ErrUnknownKey) {
				kind = ProblemUnknownKey
			}
			rep.Problems = append(rep.Problems, Problem{Kind: kind, Snapshot: s.ID, Detail: err.Error()})
		}
		for _, pk := range s.Packages {
			label := packageKey(pk.Name, pk.EVR.String(), pk.Arch)
			refs[pk.Digest] = append(refs[pk.Digest], blobRef{snapshot: s.ID, pkg: label, size: pk.Size})
		}
		for _, f := range s.BootFiles {
			refs[f.Digest] = append(refs[f.Digest], blobRef{snapshot: s.ID, pkg: f.Name, size: f.Size})
		}
	}

	if err := checkBlobs(ctx, p, workers, refs, rep); err != nil {
		return nil, err
	}

	if p.Unexpected {
		err := p.Blobs.Walk(ctx, func(info BlobInfo) error {
			if _, ok := refs[info.Digest]; !ok {
				rep.Problems = append(rep.Problems, Problem{
					Kind:   ProblemUnexpected,
					Digest: info.Digest,
					Detail: fmt.Sprintf("%d bytes, referenced by no listed snapshot", info.Size),
				})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("snapshot: verify: walk store: %w", err)
		}
	}

	slices.SortFunc(rep.Problems, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Snapshot, b.Snapshot),
			cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Package, b.Package),
			bytes.Compare(a.Digest[:], b.Digest[:]),
			cmp.Compare(a.Detail, b.Detail),
		)
	})
	return rep, nil
}

// checkBlobs checks every blob in refs with a pool of workers, adding to
// rep. The first error stops the others.
func checkBlobs(ctx context.Context, p VerifyParams, workers int, refs map[Digest][]blobRef, rep *VerifyReport) error {
	digests := slices.SortedFunc(maps.Keys(refs), func(a, b Digest) int { return bytes.Compare(a[:], b[:]) })
	workers = min(workers, len(digests))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		failed   int
	)
	jobs := make(chan Digest)
	for range workers {
		wg.Go(func() {
			for d := range jobs {
				problems, n, err := checkBlob(ctx, p.Blobs, p.Full, d, refs[d])
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
						cancel()
					}
				} else {
					rep.Checked++
					rep.Bytes += n
					rep.Problems = append(rep.Problems, problems...)
					if len(problems) > 0 {
						failed++
					}
					if p.Progress != nil {
						p.Progress(rep.Checked, len(digests), failed)
					}
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, d := range digests {
		select {
		case jobs <- d:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()

	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil { // cancelled between blobs
		return fmt.Errorf("snapshot: verify: %w", err)
	}
	return nil
}

// checkBlob checks one blob against the entries that reference it and
// returns the problems found and the number of bytes hashed.
func checkBlob(ctx context.Context, store BlobStore, full bool, d Digest, refs []blobRef) ([]Problem, int64, error) {
	each := func(kind ProblemKind, detail string) []Problem {
		ps := make([]Problem, 0, len(refs))
		for _, r := range refs {
			ps = append(ps, Problem{Kind: kind, Snapshot: r.snapshot, Digest: d, Package: r.pkg, Detail: detail})
		}
		return ps
	}

	var (
		size     int64
		hashed   int64
		problems []Problem
	)
	if full {
		rc, _, err := store.Open(ctx, d)
		if errors.Is(err, ErrBlobNotFound) {
			return each(ProblemMissing, "blob not in the store"), 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot: verify: open blob %s: %w", d, err)
		}
		got, n, err := hashContent(ctx, rc)
		rc.Close() // read-only: a close error cannot affect what was read
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot: verify: read blob %s: %w", d, err)
		}
		size, hashed = n, n
		if got != d {
			problems = each(ProblemCorrupt, fmt.Sprintf("content hashes to %s", got))
		}
	} else {
		info, err := store.Stat(ctx, d)
		if errors.Is(err, ErrBlobNotFound) {
			return each(ProblemMissing, "blob not in the store"), 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot: verify: stat blob %s: %w", d, err)
		}
		size = info.Size
	}
	for _, r := range refs {
		if r.size != size {
			problems = append(problems, Problem{
				Kind: ProblemWrongSize, Snapshot: r.snapshot, Digest: d, Package: r.pkg,
				Detail: fmt.Sprintf("manifest says %d bytes, store has %d", r.size, size),
			})
		}
	}
	return problems, hashed, nil
}

// chunkPool holds hashContent's read buffers: a full verification reuses
// a few instead of allocating (and collecting) one per blob, which cost
// several percent of its CPU time in garbage collection.
var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// hashContent reads r to the end in chunks, checking ctx between them, and
// returns the SHA-256 of what it read and how many bytes that was.
func hashContent(ctx context.Context, r io.Reader) (Digest, int64, error) {
	h := sha256.New()
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return Digest{}, n, err
		}
		nr, err := r.Read(buf)
		h.Write(buf[:nr])
		n += int64(nr)
		if err == io.EOF {
			break
		}
		if err != nil {
			return Digest{}, n, err
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}
