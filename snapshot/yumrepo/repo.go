package yumrepo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// Sentinel errors wrapped by the errors this package returns; see the
// package documentation's Errors section.
var (
	// ErrNotRepo means there is no repodata/repomd.xml, or it has no
	// primary entry.
	ErrNotRepo = errors.New("yumrepo: not a yum repository")
	// ErrChecksum means a metadata file does not match its checksum.
	ErrChecksum = errors.New("yumrepo: checksum mismatch")
	// ErrMalformed means metadata is not well-formed XML or lacks a
	// required field.
	ErrMalformed = errors.New("yumrepo: malformed metadata")
	// ErrUnsafeHref means a location href points outside the repository.
	ErrUnsafeHref = errors.New("yumrepo: unsafe location href")
	// ErrTooLarge means metadata exceeds the configured size limit.
	ErrTooLarge = errors.New("yumrepo: metadata too large")
)

// DefaultMaxMetadataSize is the decompressed metadata size limit used when
// [Options.MaxMetadataSize] is zero or negative: 1 GiB.
const DefaultMaxMetadataSize int64 = 1 << 30

// maxRepomdSize bounds repodata/repomd.xml, which is a small index.
const maxRepomdSize int64 = 16 << 20

// Options configures [Open]. A nil *Options means all defaults.
type Options struct {
	// HTTPClient fetches http(s) repositories. Nil means a shared client
	// with connection, TLS handshake and response-header timeouts and an
	// overall limit of 30 minutes a request; cancel ctx for anything
	// shorter.
	HTTPClient *http.Client
	// MaxMetadataSize is the largest metadata file, in bytes after
	// decompression (and also before), that Open accepts; larger files
	// fail with an error wrapping [ErrTooLarge]. Zero or negative means
	// [DefaultMaxMetadataSize].
	MaxMetadataSize int64
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.HTTPClient == nil {
		r.HTTPClient = defaultClient()
	}
	if r.MaxMetadataSize <= 0 {
		r.MaxMetadataSize = DefaultMaxMetadataSize
	}
	return r
}

var defaultClient = sync.OnceValue(func() *http.Client {
	return &http.Client{
		Timeout: 30 * time.Minute,
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			ExpectContinueTimeout: time.Second,
		},
	}
})

// Checksum is a digest as rpm-md metadata writes it: Type is the algorithm
// name as given ("sha256", "sha1", "sha", "sha512", ...) and Value its
// lowercase or uppercase hex digest, as given.
type Checksum struct {
	Type  string
	Value string
}

// Package is one rpm as listed in a repository's primary metadata.
type Package struct {
	// Name and Arch are the package name and architecture ("noarch",
	// "x86_64", "src", ...).
	Name string
	Arch string
	// EVR is the epoch, version and release from the version element; a
	// missing epoch attribute is epoch 0.
	EVR rpmver.EVR
	// Checksum is the package's checksum element (the pkgid).
	Checksum Checksum
	// Size is the size of the rpm file in bytes (size/@package), 0 when
	// absent.
	Size int64
	// Location is the href of the rpm relative to the repository root,
	// with '/' separators; it never leaves the repository.
	Location string
	// BuildTime is time/@build, in seconds since the Unix epoch, 0 when
	// absent.
	BuildTime int64
	// FileTime is time/@file (the rpm file's modification time when the
	// repository was built), in seconds since the Unix epoch, 0 when
	// absent.
	FileTime int64
}

// URL returns where the package can be fetched from a repository whose
// root is base. When base is a URL (it contains "://") the result is base
// with the location's path segments appended, percent-encoded as needed;
// otherwise base is a directory and the result is a file path built with
// [filepath.Join].
func (p Package) URL(base string) string {
	if strings.Contains(base, "://") {
		return joinURL(base, p.Location)
	}
	return filepath.Join(base, filepath.FromSlash(p.Location))
}

// joinURL appends the slash-separated relative path rel to base, escaping
// each segment.
func joinURL(base, rel string) string {
	segs := strings.Split(rel, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.TrimRight(base, "/") + "/" + strings.Join(segs, "/")
}

// Repo is a yum repository's package list as read by [Open]. It is
// immutable and safe for concurrent use.
type Repo struct {
	base     string
	revision string
	packages []Package
}

// Base returns the base given to [Open], for use with [Package.URL].
func (r *Repo) Base() string { return r.base }

// Revision returns repomd.xml's revision element, or "" when absent.
func (r *Repo) Revision() string { return r.revision }

// Packages returns the repository's rpm packages (package elements of
// type "rpm") in the order the primary metadata lists them. The slice is
// a new copy on each call; the caller may modify it.
func (r *Repo) Packages() []Package { return slices.Clone(r.packages) }

// Len returns the number of packages, without copying them.
func (r *Repo) Len() int { return len(r.packages) }

// Open reads the yum repository at base: a local directory, a file:// URL
// or an http:// or https:// URL naming the repository root (the directory
// holding repodata/). It reads repodata/repomd.xml, fetches the primary
// metadata it names, verifies its checksum (and open-checksum, when given)
// while streaming, decompresses and parses it, and returns the packages.
//
// ctx bounds the HTTP requests and is checked between packages while
// parsing. Errors wrap the sentinels described in the package
// documentation.
func Open(ctx context.Context, base string, opts *Options) (*Repo, error) {
	o := opts.withDefaults()
	src, err := newSource(base, o.HTTPClient)
	if err != nil {
		return nil, err
	}
	md, err := readRepomd(ctx, src, min(o.MaxMetadataSize, maxRepomdSize))
	if err != nil {
		return nil, err
	}
	var pkgs []Package
	err = fetchPrimary(ctx, src, md.primary, o.MaxMetadataSize, func(p Package) error {
		pkgs = append(pkgs, p)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Repo{base: base, revision: md.revision, packages: slices.Clip(pkgs)}, nil
}

// wrapf builds an error message prefixed with "yumrepo: ".
func wrapf(format string, args ...any) error {
	return fmt.Errorf("yumrepo: "+format, args...)
}
