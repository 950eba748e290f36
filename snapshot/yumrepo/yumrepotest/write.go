package yumrepotest

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"html"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// Compression is how a metadata file is compressed. The zero value is
// [Gzip], what createrepo_c writes by default.
type Compression string

// The compressions of primary.xml.
const (
	Gzip         Compression = "gz"
	XZ           Compression = "xz"
	Zstd         Compression = "zst"
	Uncompressed Compression = "none"
)

// Compressions lists every compression, for tests that try each.
var Compressions = []Compression{Gzip, XZ, Zstd, Uncompressed}

func (c Compression) orDefault() Compression {
	if c == "" {
		return Gzip
	}
	return c
}

// Ext returns the file name extension of primary.xml compressed with c:
// ".xml.gz", ".xml.xz", ".xml.zst" or ".xml".
func (c Compression) Ext() string {
	c = c.orDefault()
	if c == Uncompressed {
		return ".xml"
	}
	return ".xml." + string(c)
}

// Compress returns data compressed with c.
func Compress(data []byte, c Compression) ([]byte, error) {
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	var err error
	switch c.orDefault() {
	case Gzip:
		w = gzip.NewWriter(&buf)
	case XZ:
		w, err = xz.NewWriter(&buf)
	case Zstd:
		w, err = zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	case Uncompressed:
		return bytes.Clone(data), nil
	default:
		return nil, fmt.Errorf("yumrepotest: unknown compression %q", c)
	}
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: %s writer: %w", c, err)
	}
	if _, err := w.Write(data); err != nil {
		return nil, fmt.Errorf("yumrepotest: compress %s: %w", c, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("yumrepotest: compress %s: %w", c, err)
	}
	return buf.Bytes(), nil
}

// Package is one package of a repository that [Write] writes.
type Package struct {
	// Name and Arch are the package name and architecture.
	Name, Arch string
	// EVR is "[epoch:]version[-release]", as [rpmver.Parse] reads it.
	EVR string
	// Location is the file's href in the repository; "" means
	// [DefaultLocation].
	Location string
	// Content is the file's bytes; nil means [Fill]'s bytes for the
	// package, distinct for each name, EVR and arch and the same on every
	// run.
	Content []byte
	// ChecksumType is the checksum algorithm primary.xml names: "sha256"
	// (when empty), "sha1", "sha", "sha224", "sha384", "sha512" or "md5".
	ChecksumType string
	// Corrupt writes a file whose first byte differs from Content, so it
	// no longer matches the checksum and size primary.xml gives.
	Corrupt bool
	// BuildTime and FileTime are written in primary.xml's time element
	// (seconds since the Unix epoch).
	BuildTime, FileTime int64
}

// DefaultLocation returns where [Write] puts a package without a
// Location: "Packages/<name>-<version>-<release>.<arch>.rpm", the file
// name rpmbuild gives it (without the epoch), or
// "Packages/<name>-<version>.<arch>.rpm" without a release.
func DefaultLocation(name, evr, arch string) (string, error) {
	e, err := rpmver.Parse(evr)
	if err != nil {
		return "", fmt.Errorf("yumrepotest: package %s: %w", name, err)
	}
	vr := e.Version
	if e.Release != "" {
		vr += "-" + e.Release
	}
	return "Packages/" + name + "-" + vr + "." + arch + ".rpm", nil
}

// Fill returns stand-in content for a package: 64 plus 7 times the
// length of name bytes derived from name, evr and arch by SHA-256, the
// same on every call.
func Fill(name, evr, arch string) []byte {
	n := 64 + 7*len(name)
	out := make([]byte, 0, n+sha256.Size)
	seed := sha256.Sum256([]byte("yumrepotest\x00" + name + "\x00" + evr + "\x00" + arch))
	for len(out) < n {
		out = append(out, seed[:]...)
		seed = sha256.Sum256(seed[:])
	}
	return out[:n]
}

// normalize fills in p's defaults.
func (p Package) normalize() (Package, error) {
	if p.Name == "" || p.Arch == "" {
		return p, fmt.Errorf("yumrepotest: package %q.%q: empty name or arch", p.Name, p.Arch)
	}
	if p.Location == "" {
		loc, err := DefaultLocation(p.Name, p.EVR, p.Arch)
		if err != nil {
			return p, err
		}
		p.Location = loc
	}
	if p.Content == nil {
		p.Content = Fill(p.Name, p.EVR, p.Arch)
	}
	if p.ChecksumType == "" {
		p.ChecksumType = "sha256"
	}
	return p, nil
}

// Checksum returns the hex digest of content by an rpm-md checksum type.
func Checksum(typ string, content []byte) (string, error) {
	var h hash.Hash
	switch typ {
	case "sha256", "":
		h = sha256.New()
	case "sha1", "sha":
		h = sha1.New()
	case "sha224":
		h = sha256.New224()
	case "sha384":
		h = sha512.New384()
	case "sha512":
		h = sha512.New()
	case "md5":
		h = md5.New()
	default:
		return "", fmt.Errorf("yumrepotest: unknown checksum type %q", typ)
	}
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PackageXML returns p's <package> element of primary.xml, laid out as
// createrepo_c writes it: one child element a line, the name on the
// element's second line, the version on its fourth, the location on its
// twelfth. Its checksum and size are those of p.Content (after defaults).
func PackageXML(p Package) (string, error) {
	p, err := p.normalize()
	if err != nil {
		return "", err
	}
	e, err := rpmver.Parse(p.EVR)
	if err != nil {
		return "", fmt.Errorf("yumrepotest: package %s: %w", p.Name, err)
	}
	sum, err := Checksum(p.ChecksumType, p.Content)
	if err != nil {
		return "", fmt.Errorf("yumrepotest: package %s: %w", p.Name, err)
	}
	x := html.EscapeString
	return fmt.Sprintf(`<package type="rpm">
  <name>%s</name>
  <arch>%s</arch>
  <version epoch="%d" ver="%s" rel="%s"/>
  <checksum type="%s" pkgid="YES">%s</checksum>
  <summary>test package</summary>
  <description>a &lt;test&gt; package</description>
  <packager>nobody</packager>
  <url>https://example.com</url>
  <time file="%d" build="%d"/>
  <size package="%d" installed="%d" archive="%d"/>
  <location href="%s"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:provides><rpm:entry name="%s" flags="EQ" epoch="%d" ver="%s" rel="%s"/></rpm:provides>
    <file>/usr/share/%s/VERSION</file>
  </format>
</package>
`, x(p.Name), x(p.Arch), e.Epoch, x(e.Version), x(e.Release), x(p.ChecksumType), sum,
		p.FileTime, p.BuildTime, len(p.Content), len(p.Content), len(p.Content), x(p.Location),
		x(p.Name), e.Epoch, x(e.Version), x(e.Release), x(p.Name)), nil
}

// PrimaryXML wraps package elements (from [PackageXML], or any text) in a
// primary.xml document: an XML declaration on line 1, <metadata> on line
// 2, the first package from line 3.
func PrimaryXML(pkgs ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">
`, len(pkgs))
	for _, p := range pkgs {
		b.WriteString(p)
	}
	b.WriteString("</metadata>\n")
	return []byte(b.String())
}

// Metadata is what [WriteMetadata] writes.
type Metadata struct {
	// Primary is the uncompressed primary.xml document, written as is.
	Primary []byte
	// Compression compresses Primary; the zero value is [Gzip].
	Compression Compression
	// Href is where repomd.xml says the primary file is; "" means
	// "repodata/<sha256 of the file>-primary" plus the compression's
	// extension.
	Href string
	// OmitPrimaryFile writes repomd.xml only, so that Href points at
	// nothing (Href may then be any string, even one leaving the
	// repository).
	OmitPrimaryFile bool
	// Checksum, when set, is written as the primary file's sha256 instead
	// of the true one.
	Checksum string
	// OpenChecksum also writes the sha256 of the uncompressed Primary;
	// OpenChecksumValue, when set, is written instead of it (and implies
	// OpenChecksum).
	OpenChecksum      bool
	OpenChecksumValue string
	// DataType is the type of the data entry; "" means "primary". Another
	// type makes a repomd.xml without a primary entry.
	DataType string
	// Revision is repomd.xml's revision; "" means "1".
	Revision string
}

// WriteMetadata writes md's repodata/repomd.xml and primary file into dir
// (created if needed) and returns the primary file's href. An existing
// repomd.xml is replaced, last, by rename, so a reader sees the old
// metadata or the new.
func WriteMetadata(ctx context.Context, dir string, md Metadata) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := Compress(md.Primary, md.Compression)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	href := md.Href
	if href == "" {
		href = "repodata/" + hex.EncodeToString(sum[:]) + "-primary" + md.Compression.Ext()
	}
	if err := os.MkdirAll(filepath.Join(dir, "repodata"), 0o755); err != nil {
		return "", fmt.Errorf("yumrepotest: %w", err)
	}
	if !md.OmitPrimaryFile {
		if err := writeFile(dir, href, data); err != nil {
			return "", err
		}
	}
	checksum := md.Checksum
	if checksum == "" {
		checksum = hex.EncodeToString(sum[:])
	}
	open := ""
	if md.OpenChecksum || md.OpenChecksumValue != "" {
		v := md.OpenChecksumValue
		if v == "" {
			s := sha256.Sum256(md.Primary)
			v = hex.EncodeToString(s[:])
		}
		open = "\n    <open-checksum type=\"sha256\">" + html.EscapeString(v) + "</open-checksum>"
	}
	typ := md.DataType
	if typ == "" {
		typ = "primary"
	}
	rev := md.Revision
	if rev == "" {
		rev = "1"
	}
	repomd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>%s</revision>
  <data type="%s">
    <checksum type="sha256">%s</checksum>%s
    <location href="%s"/>
    <timestamp>1700000000</timestamp>
    <size>%d</size>
    <open-size>%d</open-size>
  </data>
</repomd>
`, html.EscapeString(rev), html.EscapeString(typ), html.EscapeString(checksum), open,
		html.EscapeString(href), len(data), len(md.Primary))
	tmp := filepath.Join(dir, "repodata", ".repomd.xml.tmp")
	if err := os.WriteFile(tmp, []byte(repomd), 0o644); err != nil {
		return "", fmt.Errorf("yumrepotest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "repodata", "repomd.xml")); err != nil {
		return "", fmt.Errorf("yumrepotest: %w", err)
	}
	return href, nil
}

// writeFile writes data at the slash-separated relative path rel under
// dir, creating directories; rel must stay inside dir.
func writeFile(dir, rel string, data []byte) error {
	if err := checkRel(rel); err != nil {
		return fmt.Errorf("yumrepotest: write: %w", err)
	}
	name := filepath.Join(dir, filepath.FromSlash(path.Clean(rel)))
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return fmt.Errorf("yumrepotest: %w", err)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return fmt.Errorf("yumrepotest: %w", err)
	}
	return nil
}

// checkRel refuses a slash-separated path that is empty, absolute, leaves
// its root or holds a backslash.
func checkRel(rel string) error {
	clean := path.Clean(rel)
	if rel == "" || path.IsAbs(rel) || clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(rel, `\`) {
		return fmt.Errorf("path %q leaves the repository", rel)
	}
	return nil
}

// Options configures [Write]. A nil *Options means all defaults.
type Options struct {
	// Compression compresses primary.xml; the zero value is [Gzip].
	Compression Compression
	// OpenChecksum also writes the open-checksum of primary.xml.
	OpenChecksum bool
	// Revision is repomd.xml's revision; "" means "1".
	Revision string
}

// Repo is a repository [Write] wrote.
type Repo struct {
	// Dir is the repository root, the directory holding repodata/.
	Dir string
	// PrimaryHref is the primary file's location.
	PrimaryHref string
	// Packages are the packages as written, in order, with their defaults
	// filled in: Location, Content (what primary.xml vouches for, even for
	// a Corrupt one) and ChecksumType are set.
	Packages []Package
}

// Lookup returns the written package with this name, EVR (as given to
// Write) and arch.
func (r *Repo) Lookup(name, evr, arch string) (Package, bool) {
	for _, p := range r.Packages {
		if p.Name == name && p.EVR == evr && p.Arch == arch {
			return p, true
		}
	}
	return Package{}, false
}

// Write writes pkgs into dir (created if needed) as a yum repository: each
// package's file at its location, then primary.xml listing them in order
// and repodata/repomd.xml pointing at it. Writing again into the same
// directory publishes a new revision: files are added or overwritten,
// never removed, and repomd.xml is replaced last.
func Write(ctx context.Context, dir string, pkgs []Package, opts *Options) (*Repo, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	repo := &Repo{Dir: dir, Packages: make([]Package, 0, len(pkgs))}
	elems := make([]string, 0, len(pkgs))
	seen := make(map[string]string, len(pkgs))
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := p.normalize()
		if err != nil {
			return nil, err
		}
		id := p.Name + "-" + p.EVR + "." + p.Arch
		if other, dup := seen[p.Location]; dup {
			return nil, fmt.Errorf("yumrepotest: packages %s and %s share location %s", other, id, p.Location)
		}
		seen[p.Location] = id
		elem, err := PackageXML(p)
		if err != nil {
			return nil, err
		}
		written := p.Content
		if p.Corrupt {
			written = bytes.Clone(p.Content)
			if len(written) == 0 {
				written = []byte{0}
			} else {
				written[0] ^= 0xff
			}
		}
		if err := writeFile(dir, p.Location, written); err != nil {
			return nil, fmt.Errorf("%w (package %s)", err, id)
		}
		elems = append(elems, elem)
		repo.Packages = append(repo.Packages, p)
	}
	href, err := WriteMetadata(ctx, dir, Metadata{
		Primary:      PrimaryXML(elems...),
		Compression:  o.Compression,
		OpenChecksum: o.OpenChecksum,
		Revision:     o.Revision,
	})
	if err != nil {
		return nil, err
	}
	repo.PrimaryHref = href
	return repo, nil
}
