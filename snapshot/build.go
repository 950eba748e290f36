package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
)

// Build errors. Test with errors.Is.
var (
	// ErrInvalidBuild means [BuildParams] are unusable: a required field
	// is missing or a field is malformed. [Build] reports it before any
	// I/O.
	ErrInvalidBuild = errors.New("invalid build parameters")
	// ErrPinNotFound means no repository offers a package at the EVR
	// [BuildParams.Pins] asks for.
	ErrPinNotFound = errors.New("pinned package not found")
)

// DefaultBuildConcurrency is how many files [Build] downloads at once when
// [BuildParams.Concurrency] is zero.
const DefaultBuildConcurrency = 4

// noarch is the architecture of packages every host can install.
const noarch = "noarch"

// RepoSource is a yum repository that [Build] takes packages from.
type RepoSource struct {
	// Base is the repository root (the directory holding repodata/): a
	// local directory, a file:// URL or an http(s) URL. Required.
	Base string
	// Priority ranks repositories as yum's priority does: lower wins. A
	// package name found in a repository hides that name in every
	// repository with a higher number; repositories of equal priority are
	// merged, the newest EVR winning.
	Priority int
	// Include and Exclude are [path.Match] patterns on package names. A
	// package is taken if its name matches some Include pattern (or
	// Include is empty) and no Exclude pattern. Excluded packages are
	// invisible: they hide nothing in lower-priority repositories.
	Include, Exclude []string
}

// BootFileSource is a boot file (a kernel, an initrd) that [Build] puts
// in the snapshot.
type BootFileSource struct {
	// Name is the file's name in the manifest; required and unique.
	Name string
	// URL is where to fetch the file: a local path, a file:// URL or an
	// http(s) URL. Required.
	URL string
	// Digest is the file's expected SHA-256; the content is checked
	// against it while it is stored.
	Digest Digest
}

// BuildParams are the inputs of [Build].
type BuildParams struct {
	// ID, OSRelease and Parent become the manifest's fields; ID and
	// OSRelease are required.
	ID        string
	OSRelease string
	Parent    string
	// Arch is the architecture to take packages of, e.g. "x86_64";
	// required. Packages of arch "noarch" are always taken too; other
	// arches (including "src") never are.
	Arch string
	// Repos are the repositories to take packages from; at least one.
	Repos []RepoSource
	// Pins maps a package name to the EVR to take, written
	// "[epoch:]version[-release]". A missing epoch is epoch 0; a missing
	// release matches any release (the newest is taken). Versions and
	// releases compare as rpm compares them. The pinned package comes
	// from the highest-priority repository that offers that EVR, whatever
	// other repositories offer; if none does, Build fails with an error
	// wrapping [ErrPinNotFound].
	Pins map[string]string
	// BootFiles are files to store beside the packages.
	BootFiles []BootFileSource
	// Blobs receives the content; required.
	Blobs BlobStore
	// Keys seals the manifest with its current key; required.
	Keys *KeyRing
	// HTTPClient fetches metadata and files from http(s) URLs. Nil means
	// yumrepo's default client for metadata and [http.DefaultClient] for
	// files; bound the time a build may take with ctx.
	HTTPClient *http.Client
	// Concurrency bounds how many files are downloaded at once; 0 means
	// [DefaultBuildConcurrency]. Negative is an error.
	Concurrency int
	// Metadata is copied into the manifest.
	Metadata map[string]string
	// Progress, when set, is called after each file (package or boot
	// file) is in the store, fetched or found there, with the number done
	// and the total; calls are serialised.
	Progress func(done, total int)
	// Now stamps the manifest's CreatedAt (in UTC, truncated to the
	// microsecond); nil means time.Now.
	Now func() time.Time
}

// Build assembles an OS snapshot from yum repositories: it reads every
// repository in p.Repos, selects packages, stores every selected package
// and boot file in p.Blobs, and returns the manifest sealed with p.Keys.
//
// # Selection
//
// Only packages of p.Arch and "noarch" that pass their repository's
// Include and Exclude patterns are considered. For each package name,
// the repositories with the lowest Priority number that offer the name
// win; from them, for each arch, the package with the newest EVR
// ([rpmver.CompareEVR]) is taken, the first listed winning ties. A name in
// p.Pins is instead taken at its pinned EVR (see [BuildParams.Pins]).
// Every selected package must have a sha256 checksum, the key it is
// stored under; any other checksum fails the build, naming the package.
//
// # Content
//
// A blob already in the store ([BlobStore.Stat]) is not fetched again, and
// a blob that several packages or boot files share is fetched once.
// Others are read from the local file or fetched with an HTTP GET bound to
// ctx, at most p.Concurrency at a time, and put into p.Blobs under their
// expected digest and size, which the store checks while streaming: a file
// that does not match fails the build with an error naming it and wrapping
// [ErrDigestMismatch] or [ErrSizeMismatch]. A package whose metadata gives
// no size (0) is stored with its size unknown and recorded with the size
// stored.
//
// # Errors
//
// Unusable params fail with an error wrapping [ErrInvalidBuild] or
// [ErrInvalidManifest] before any I/O. If the build fails later, nothing
// is sealed, but blobs already stored remain: no manifest refers to them,
// so they are garbage that a purge of unreferenced blobs reclaims.
//
// Build is safe to call concurrently, including with the same store.
func Build(ctx context.Context, p BuildParams) (*Sealed, error) {
	b, err := newBuilder(p)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, b.errorf("%w", err)
	}
	sel, err := b.selectPackages(ctx)
	if err != nil {
		return nil, err
	}
	m, err := b.store(ctx, sel)
	if err != nil {
		return nil, err
	}
	m.CreatedAt = b.now().UTC().Truncate(time.Microsecond)
	if err := m.Validate(); err != nil {
		return nil, b.errorf("%w", err)
	}
	s, err := b.p.Keys.SealManifest(m)
	if err != nil {
		return nil, b.errorf("%w", err)
	}
	return &s, nil
}

// builder carries one build's checked params.
type builder struct {
	p     BuildParams
	now   func() time.Time
	pins  map[string]rpmver.EVR
	limit int
}

func newBuilder(p BuildParams) (*builder, error) {
	b := &builder{p: p, now: p.Now, limit: p.Concurrency, pins: make(map[string]rpmver.EVR, len(p.Pins))}
	if b.now == nil {
		b.now = time.Now
	}
	if b.limit == 0 {
		b.limit = DefaultBuildConcurrency
	}
	bad := func(format string, args ...any) error {
		return b.errorf("%w: %s", ErrInvalidBuild, fmt.Sprintf(format, args...))
	}
	switch {
	case p.ID == "":
		return nil, bad("empty ID")
	case p.OSRelease == "":
		return nil, bad("empty OSRelease")
	case p.Arch == "":
		return nil, bad("empty Arch")
	case len(p.Repos) == 0:
		return nil, bad("no repositories")
	case p.Blobs == nil:
		return nil, bad("nil Blobs")
	case p.Keys == nil || p.Keys.Current() == "":
		return nil, bad("no key to seal with")
	case p.Concurrency < 0:
		return nil, bad("negative Concurrency %d", p.Concurrency)
	}
	// The manifest's own fields, checked as the manifest will be.
	probe := Manifest{ID: p.ID, OSRelease: p.OSRelease, Arch: p.Arch, Parent: p.Parent, Metadata: p.Metadata}
	if err := probe.Validate(); err != nil {
		return nil, b.errorf("%w", err)
	}
	for i, r := range p.Repos {
		if r.Base == "" {
			return nil, bad("repository %d: empty Base", i)
		}
		for _, pat := range slices.Concat(r.Include, r.Exclude) {
			if _, err := path.Match(pat, ""); err != nil {
				return nil, bad("repository %d: pattern %s: %v", i, quoteShort(pat), err)
			}
		}
	}
	for name, s := range p.Pins {
		evr, err := rpmver.Parse(s)
		if err != nil {
			return nil, bad("pin %s: %v", quoteShort(name), err)
		}
		b.pins[name] = evr
	}
	seen := make(map[string]bool, len(p.BootFiles))
	for i, f := range p.BootFiles {
		switch {
		case f.Name == "":
			return nil, bad("boot file %d: empty Name", i)
		case f.URL == "":
			return nil, bad("boot file %s: empty URL", quoteShort(f.Name))
		case seen[f.Name]:
			return nil, bad("duplicate boot file %s", quoteShort(f.Name))
		}
		seen[f.Name] = true
	}
	return b, nil
}

// errorf prefixes an error message with the operation and the snapshot.
func (b *builder) errorf(format string, args ...any) error {
	return fmt.Errorf("snapshot: build %s: "+format, append([]any{quoteShort(b.p.ID)}, args...)...)
}

// candidate is a package offered by repository repo.
type candidate struct {
	pkg  yumrepo.Package
	repo int
}

// selected is a chosen package with where it comes from.
type selected struct {
	pkg    yumrepo.Package
	url    string
	digest Digest
}

func (s selected) what() string {
	return fmt.Sprintf("package %s-%s.%s from %s", s.pkg.Name, s.pkg.EVR, s.pkg.Arch, redact(s.url))
}

func (b *builder) admits(r RepoSource, p yumrepo.Package) bool {
	if p.Arch != b.p.Arch && p.Arch != noarch {
		return false
	}
	matches := func(pats []string) bool {
		return slices.ContainsFunc(pats, func(pat string) bool {
			ok, _ := path.Match(pat, p.Name) // patterns were checked
			return ok
		})
	}
	if len(r.Include) > 0 && !matches(r.Include) {
		return false
	}
	return !matches(r.Exclude)
}

// selectPackages opens every repository and picks the packages to take.
func (b *builder) selectPackages(ctx context.Context) ([]selected, error) {
	type key struct{ name, arch string }
	var cands []candidate
	bestPrio := make(map[string]int) // name → lowest priority number offering it
	for i, r := range b.p.Repos {
		repo, err := yumrepo.Open(ctx, r.Base, &yumrepo.Options{HTTPClient: b.p.HTTPClient})
		if err != nil {
			return nil, b.errorf("repository %d: %w", i, err)
		}
		for _, p := range repo.Packages() {
			if !b.admits(r, p) {
				continue
			}
			cands = append(cands, candidate{pkg: p, repo: i})
			if prio, ok := bestPrio[p.Name]; !ok || r.Priority < prio {
				bestPrio[p.Name] = r.Priority
			}
		}
	}

	// For each (name, arch): the best priority that qualifies, then the
	// newest EVR at that priority, the first listed winning ties.
	chosen := make(map[key]candidate)
	better := func(c, old candidate) bool {
		pc, po := b.p.Repos[c.repo].Priority, b.p.Repos[old.repo].Priority
		if pc != po {
			return pc < po
		}
		return rpmver.CompareEVR(c.pkg.EVR, old.pkg.EVR) > 0
	}
	for _, c := range cands {
		if pin, ok := b.pins[c.pkg.Name]; ok {
			if !pinMatches(pin, c.pkg.EVR) {
				continue
			}
		} else if b.p.Repos[c.repo].Priority != bestPrio[c.pkg.Name] {
			continue
		}
		k := key{c.pkg.Name, c.pkg.Arch}
		if old, ok := chosen[k]; !ok || better(c, old) {
			chosen[k] = c
		}
	}

	// Every pin must be met for every arch of its name that is offered.
	for name, pin := range b.pins {
		if _, ok := bestPrio[name]; !ok {
			return nil, b.errorf("pin %s %s: %w: no repository offers the name", quoteShort(name), pin, ErrPinNotFound)
		}
	}
	for _, c := range cands {
		if pin, ok := b.pins[c.pkg.Name]; ok {
			if _, ok := chosen[key{c.pkg.Name, c.pkg.Arch}]; !ok {
				return nil, b.errorf("pin %s %s: %w for arch %s", quoteShort(c.pkg.Name), pin, ErrPinNotFound, c.pkg.Arch)
			}
		}
	}

	out := make([]selected, 0, len(chosen))
	for _, c := range chosen {
		s := selected{pkg: c.pkg, url: c.pkg.URL(b.p.Repos[c.repo].Base)}
		if !strings.EqualFold(c.pkg.Checksum.Type, "sha256") {
			return nil, b.errorf("%s: checksum type %s is not sha256, which the blob store is keyed by",
				s.what(), quoteShort(c.pkg.Checksum.Type))
		}
		d, err := ParseDigest(strings.ToLower(c.pkg.Checksum.Value))
		if err != nil {
			return nil, b.errorf("%s: %w", s.what(), err)
		}
		s.digest = d
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y selected) int {
		return cmp.Or(cmp.Compare(x.pkg.Name, y.pkg.Name), cmp.Compare(x.pkg.Arch, y.pkg.Arch))
	})
	return out, nil
}

// pinMatches reports whether evr is what pin asks for: same epoch, a
// version rpm calls equal and, if pin has one, a release rpm calls equal.
func pinMatches(pin, evr rpmver.EVR) bool {
	if pin.Epoch != evr.Epoch || rpmver.Vercmp(pin.Version, evr.Version) != 0 {
		return false
	}
	return pin.Release == "" || rpmver.Vercmp(pin.Release, evr.Release) == 0
}

// fetch is one blob to make sure of: where to get it and what it must be.
type fetch struct {
	what   string // for errors
	url    string
	digest Digest
	size   int64 // -1 if unknown
}

// store puts every selected package and boot file into the blob store
// and returns the manifest (without CreatedAt).
func (b *builder) store(ctx context.Context, sel []selected) (*Manifest, error) {
	var fetches []fetch
	index := make(map[Digest]int) // digest → its fetch
	add := func(f fetch) error {
		i, ok := index[f.digest]
		if !ok {
			index[f.digest] = len(fetches)
			fetches = append(fetches, f)
			return nil
		}
		old := &fetches[i]
		if old.size >= 0 && f.size >= 0 && old.size != f.size {
			return b.errorf("%s and %s: %w: same digest %s, sizes %d and %d",
				old.what, f.what, ErrSizeMismatch, f.digest, old.size, f.size)
		}
		old.size = max(old.size, f.size)
		return nil
	}
	for _, s := range sel {
		size := s.pkg.Size
		if size <= 0 {
			size = -1
		}
		if err := add(fetch{what: s.what(), url: s.url, digest: s.digest, size: size}); err != nil {
			return nil, err
		}
	}
	for _, f := range b.p.BootFiles {
		what := fmt.Sprintf("boot file %s from %s", quoteShort(f.Name), redact(f.URL))
		if err := add(fetch{what: what, url: f.URL, digest: f.Digest, size: -1}); err != nil {
			return nil, err
		}
	}

	sizes, err := b.fetchAll(ctx, fetches)
	if err != nil {
		return nil, err
	}

	m := &Manifest{
		ID:        b.p.ID,
		OSRelease: b.p.OSRelease,
		Arch:      b.p.Arch,
		Parent:    b.p.Parent,
		Metadata:  maps.Clone(b.p.Metadata),
	}
	for _, s := range sel {
		m.Packages = append(m.Packages, PackageEntry{
			Name:     s.pkg.Name,
			Arch:     s.pkg.Arch,
			EVR:      s.pkg.EVR,
			Size:     sizes[s.digest],
			Digest:   s.digest,
			Location: s.pkg.Location,
		})
	}
	for _, f := range b.p.BootFiles {
		m.BootFiles = append(m.BootFiles, BootFile{Name: f.Name, Size: sizes[f.Digest], Digest: f.Digest})
	}
	return m, nil
}

// fetchAll makes sure every blob of fetches is in the store, at most
// b.limit at a time, and returns each blob's stored size. The first error
// cancels the rest and is returned.
func (b *builder) fetchAll(ctx context.Context, fetches []fetch) (map[Digest]int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		mu       sync.Mutex
		sizes    = make(map[Digest]int64, len(fetches))
		firstErr error
		wg       sync.WaitGroup
		done     int
	)
	sem := make(chan struct{}, b.limit)
loop:
	for _, f := range fetches {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Go(func() {
			defer func() { <-sem }()
			size, err := b.ensure(ctx, f)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				return
			}
			sizes[f.digest] = size
			done++
			if b.p.Progress != nil {
				b.p.Progress(done, len(fetches))
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil { // the caller's ctx ended
		return nil, b.errorf("%w", err)
	}
	return sizes, nil
}

// ensure stores f's blob unless the store has it, and returns its size.
func (b *builder) ensure(ctx context.Context, f fetch) (int64, error) {
	info, err := b.p.Blobs.Stat(ctx, f.digest)
	switch {
	case err == nil:
		if f.size >= 0 && info.Size != f.size {
			return 0, b.errorf("%s: %w: stored blob %s has %d bytes, expected %d",
				f.what, ErrSizeMismatch, f.digest, info.Size, f.size)
		}
		return info.Size, nil
	case !errors.Is(err, ErrBlobNotFound):
		return 0, b.errorf("%s: %w", f.what, err)
	}
	rc, err := b.open(ctx, f.url)
	if err != nil {
		return 0, b.errorf("%s: %w", f.what, err)
	}
	defer rc.Close()
	info, err = b.p.Blobs.Put(ctx, f.digest, f.size, rc)
	if err != nil {
		return 0, b.errorf("%s: %w", f.what, err)
	}
	return info.Size, nil
}

// open opens a local path, file:// URL or http(s) URL for reading.
func (b *builder) open(ctx context.Context, loc string) (io.ReadCloser, error) {
	if !strings.Contains(loc, "://") {
		return os.Open(loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("parse URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, errors.New("file URL with a remote host")
		}
		return os.Open(filepath.FromSlash(u.Path))
	case "http", "https":
	default:
		return nil, fmt.Errorf("unsupported URL scheme %q", u.Scheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, err
	}
	client := b.p.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err // *url.Error redacts the password
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	return resp.Body, nil
}

// redact hides a URL's password for error messages; other strings are
// returned as they are.
func redact(loc string) string {
	if !strings.Contains(loc, "://") {
		return loc
	}
	u, err := url.Parse(loc)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
