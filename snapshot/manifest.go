package snapshot

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// ErrInvalidManifest is wrapped by every error [Manifest.Validate],
// [Manifest.Canonical] and [DecodeManifest] return for a manifest that is
// malformed, inconsistent or not in canonical form.
var ErrInvalidManifest = errors.New("invalid manifest")

// ManifestFormat is the version of the canonical encoding that
// [Manifest.Canonical] writes and [DecodeManifest] accepts. It is the first
// field of every encoded manifest.
const ManifestFormat = 1

// timeLayout is how CreatedAt is written: RFC 3339 in UTC with exactly nine
// fractional digits, so that every instant has one spelling.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Manifest says what a snapshot contains. It is a plain value; its
// identity, for sealing and storage, is its canonical encoding
// ([Manifest.Canonical]), which ignores the order of Packages and
// BootFiles and the location of CreatedAt.
type Manifest struct {
	ID        string    // the snapshot's ID; required
	OSRelease string    // e.g. "rhel-9.4"; required
	Arch      string    // e.g. "x86_64"
	CreatedAt time.Time // when the snapshot was taken; encoded in UTC
	Parent    string    // the ID of the snapshot this one derives from, or ""

	Packages  []PackageEntry
	BootFiles []BootFile
	Metadata  map[string]string
}

// PackageEntry is one package of a snapshot. Name, Arch and EVR identify
// it; no two entries of a manifest have the same name and arch and EVRs
// that [rpmver.CompareEVR] calls equal.
type PackageEntry struct {
	Name     string
	Arch     string
	EVR      rpmver.EVR
	Size     int64  // in bytes
	Digest   Digest // of the package file, the key it is stored under
	Location string // path of the package in the repository, e.g. "Packages/b/bash-5.1.8-9.el9.x86_64.rpm"
}

// BootFile is a file hosts boot from (a kernel, an initrd), named uniquely
// within a manifest.
type BootFile struct {
	Name   string
	Size   int64 // in bytes
	Digest Digest
}

// Validate reports whether m is well formed: ID and OSRelease non-empty;
// every string valid UTF-8; every package with a name, an arch, a
// non-empty version and a non-negative epoch; no two packages with the same
// name, arch and EVR (equal by [rpmver.CompareEVR]); boot files with
// distinct non-empty names; no negative size; no empty metadata key; and a
// CreatedAt whose UTC year is between 0 and 9999 (so RFC 3339 can write
// it). Errors wrap [ErrInvalidManifest] and name the offending field.
func (m *Manifest) Validate() error {
	_, err := m.validate()
	return err
}

// validate is Validate, returning also pointers to m.Packages in the
// order of comparePackages, which Canonical writes out. (Sorting pointers
// moves 8 bytes a swap instead of a whole entry.)
func (m *Manifest) validate() ([]*PackageEntry, error) {
	if m == nil {
		return nil, fmt.Errorf("snapshot: validate manifest: %w: nil manifest", ErrInvalidManifest)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("snapshot: validate manifest %s: %w: %s", quoteShort(m.ID), ErrInvalidManifest, fmt.Sprintf(format, args...))
	}
	if m.ID == "" {
		return nil, bad("empty ID")
	}
	if m.OSRelease == "" {
		return nil, bad("empty OSRelease")
	}
	for _, f := range []struct{ name, v string }{
		{"ID", m.ID}, {"OSRelease", m.OSRelease}, {"Arch", m.Arch}, {"Parent", m.Parent},
	} {
		if !utf8.ValidString(f.v) {
			return nil, bad("%s is not valid UTF-8", f.name)
		}
	}
	if y := m.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		return nil, bad("CreatedAt year %d is outside 0-9999", y)
	}

	for i, p := range m.Packages {
		switch {
		case p.Name == "":
			return nil, bad("package %d: empty name", i)
		case p.Arch == "":
			return nil, bad("package %d (%s): empty arch", i, quoteShort(p.Name))
		case p.EVR.Version == "":
			return nil, bad("package %d (%s): empty version", i, quoteShort(p.Name))
		case p.EVR.Epoch < 0:
			return nil, bad("package %d (%s): negative epoch %d", i, quoteShort(p.Name), p.EVR.Epoch)
		case p.Size < 0:
			return nil, bad("package %d (%s): negative size %d", i, quoteShort(p.Name), p.Size)
		}
		for _, s := range []string{p.Name, p.Arch, p.EVR.Version, p.EVR.Release, p.Location} {
			if !utf8.ValidString(s) {
				return nil, bad("package %d: a field is not valid UTF-8", i)
			}
		}
	}
	pkgs := make([]*PackageEntry, len(m.Packages))
	for i := range m.Packages {
		pkgs[i] = &m.Packages[i]
	}
	slices.SortFunc(pkgs, comparePackagePtrs)
	for i := 1; i < len(pkgs); i++ {
		a, b := pkgs[i-1], pkgs[i]
		if a.Name == b.Name && a.Arch == b.Arch && rpmver.CompareEVR(a.EVR, b.EVR) == 0 {
			return nil, bad("duplicate package %s.%s %s", quoteShort(a.Name), a.Arch, b.EVR)
		}
	}

	seen := make(map[string]bool, len(m.BootFiles))
	for i, f := range m.BootFiles {
		switch {
		case f.Name == "":
			return nil, bad("boot file %d: empty name", i)
		case !utf8.ValidString(f.Name):
			return nil, bad("boot file %d: name is not valid UTF-8", i)
		case f.Size < 0:
			return nil, bad("boot file %s: negative size %d", quoteShort(f.Name), f.Size)
		case seen[f.Name]:
			return nil, bad("duplicate boot file %s", quoteShort(f.Name))
		}
		seen[f.Name] = true
	}

	for k, v := range m.Metadata {
		switch {
		case k == "":
			return nil, bad("empty metadata key")
		case !utf8.ValidString(k):
			return nil, bad("metadata key %s is not valid UTF-8", quoteShort(k))
		case !utf8.ValidString(v):
			return nil, bad("metadata value of %s is not valid UTF-8", quoteShort(k))
		}
	}
	return pkgs, nil
}

// comparePackages orders packages by name, arch, EVR (by
// [rpmver.CompareEVR]) and location, then, so that the order is total
// even for EVRs rpm calls equal but that are spelt differently, by the EVR's
// fields byte-wise, size and digest.
//
// It returns as soon as a key differs (cmp.Or would evaluate every key,
// rpmver.CompareEVR included, on every call): sorting is most of the cost
// of sealing a large manifest.
func comparePackages(a, b PackageEntry) int { return comparePackagePtrs(&a, &b) }

// comparePackagePtrs is comparePackages on pointers, which sorting large
// manifests uses.
func comparePackagePtrs(a, b *PackageEntry) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	if c := strings.Compare(a.Arch, b.Arch); c != 0 {
		return c
	}
	if c := rpmver.CompareEVR(a.EVR, b.EVR); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.Location, b.Location),
		cmp.Compare(a.EVR.Epoch, b.EVR.Epoch),
		cmp.Compare(a.EVR.Version, b.EVR.Version),
		cmp.Compare(a.EVR.Release, b.EVR.Release),
		cmp.Compare(a.Size, b.Size),
		bytes.Compare(a.Digest[:], b.Digest[:]),
	)
}

// Canonical returns m's canonical encoding: the one byte sequence that
// stands for m's value whatever the order of its slices and map and
// whichever Go version writes it. It validates m first and returns the
// error of [Manifest.Validate] if m is not well formed.
//
// The encoding is compact JSON (no insignificant whitespace) with keys in
// this fixed order:
//
//	{"format":1,"id":…,"os_release":…,"arch":…,"created_at":…,"parent":…,
//	 "packages":[{"name":…,"arch":…,"evr":{"epoch":…,"version":…,"release":…},
//	              "size":…,"digest":"sha256:<hex>","location":…},…],
//	 "boot_files":[{"name":…,"size":…,"digest":"sha256:<hex>"},…],
//	 "metadata":{…}}
//
// Every key is always present (empty slices and maps as [] and {}).
// Packages are sorted by name, arch, EVR ([rpmver.CompareEVR]) and
// location; boot files by name; metadata keys byte-wise. created_at is
// RFC 3339 in UTC with exactly nine fractional digits. Integers are
// decimal. In strings, '"' and '\' are escaped with a backslash, control
// characters below U+0020 as \u00xx (lower-case hex), and everything else
// is written as UTF-8.
func (m *Manifest) Canonical() ([]byte, error) {
	pkgs, err := m.validate()
	if err != nil {
		return nil, err
	}
	// The exact size but for the integers and escapes, so b rarely grows.
	size := 256 + 160*len(m.BootFiles)
	for _, p := range pkgs {
		size += 200 + len(p.Name) + len(p.Arch) + len(p.EVR.Version) + len(p.EVR.Release) + len(p.Location)
	}
	for k, v := range m.Metadata {
		size += 6 + len(k) + len(v)
	}
	return m.appendCanonical(make([]byte, 0, size), pkgs, nil), nil
}

// writeCanonical writes m's canonical encoding to w in pieces of about
// 64 KiB, which keeps a seal's HMAC from needing the whole encoding in
// memory. m must have validated: pkgs is what validate returned.
func (m *Manifest) writeCanonical(w io.Writer, pkgs []*PackageEntry) {
	b := m.appendCanonical(make([]byte, 0, 80<<10), pkgs, w)
	_, _ = w.Write(b) // an hmac's Write never fails
}

// appendCanonical appends m's canonical encoding, with its packages in the
// order of pkgs, to b and returns it. When w is not nil, b is written to
// w and emptied whenever it passes 64 KiB, so the result is only the tail
// of the encoding.
func (m *Manifest) appendCanonical(b []byte, pkgs []*PackageEntry, w io.Writer) []byte {
	boot := slices.Clone(m.BootFiles)
	slices.SortFunc(boot, func(a, b BootFile) int { return cmp.Compare(a.Name, b.Name) })

	b = append(b, `{"format":`...)
	b = strconv.AppendInt(b, ManifestFormat, 10)
	b = appendField(b, "id", m.ID)
	b = appendField(b, "os_release", m.OSRelease)
	b = appendField(b, "arch", m.Arch)
	b = appendField(b, "created_at", m.CreatedAt.UTC().Format(timeLayout))
	b = appendField(b, "parent", m.Parent)

	b = append(b, `,"packages":[`...)
	for i, p := range pkgs {
		if w != nil && len(b) >= 64<<10 {
			_, _ = w.Write(b)
			b = b[:0]
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, p.Name)
		b = appendField(b, "arch", p.Arch)
		b = append(b, `,"evr":{"epoch":`...)
		b = strconv.AppendInt(b, int64(p.EVR.Epoch), 10)
		b = appendField(b, "version", p.EVR.Version)
		b = appendField(b, "release", p.EVR.Release)
		b = append(b, `},"size":`...)
		b = strconv.AppendInt(b, p.Size, 10)
		b = appendDigest(b, p.Digest)
		b = appendField(b, "location", p.Location)
		b = append(b, '}')
	}

	b = append(b, `],"boot_files":[`...)
	for i, f := range boot {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendString(b, f.Name)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, f.Size, 10)
		b = appendDigest(b, f.Digest)
		b = append(b, '}')
	}

	b = append(b, `],"metadata":{`...)
	for i, k := range slices.Sorted(maps.Keys(m.Metadata)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m.Metadata[k])
	}
	return append(b, "}}"...)
}

// appendField appends `,"key":` and v as a JSON string. key must need no
// escaping.
func appendField(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// appendString appends s, which must be valid UTF-8, as a JSON string in
// the canonical spelling described at [Manifest.Canonical].
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	// Runs of bytes that need no escape (nearly all of them) are found
	// eight bytes at a time and copied whole.
	for {
		i := plainPrefix(s)
		b = append(b, s[:i]...)
		if i == len(s) {
			break
		}
		if c := s[i]; c < 0x20 {
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		} else {
			b = append(b, '\\', c)
		}
		s = s[i+1:]
	}
	return append(b, '"')
}

// plainPrefix returns the length of the longest prefix of s that holds no
// byte appendString escapes ('"', '\\', below 0x20). It tests eight bytes
// at a time: in x, a byte below 0x20, or equal to '"' or '\\' (zero after
// an XOR), is found by the borrow of subtracting from each byte, with the
// bytes of 0x80 and above masked out (SWAR "has less than" and "has zero").
func plainPrefix(s string) int {
	const (
		ones = 0x0101010101010101
		high = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		q, bs := x^(ones*'"'), x^(ones*'\\')
		if ((x-ones*0x20)&^x|(q-ones)&^q|(bs-ones)&^bs)&high != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return i
}

// appendDigest appends `,"digest":"sha256:<hex>"` without allocating.
func appendDigest(b []byte, d Digest) []byte {
	b = append(b, `,"digest":"`+digestPrefix...)
	b = hex.AppendEncode(b, d[:])
	return append(b, '"')
}

// Wire types of the canonical encoding, for decoding only.
type (
	wireManifest struct {
		Format    int               `json:"format"`
		ID        string            `json:"id"`
		OSRelease string            `json:"os_release"`
		Arch      string            `json:"arch"`
		CreatedAt string            `json:"created_at"`
		Parent    string            `json:"parent"`
		Packages  []wirePackage     `json:"packages"`
		BootFiles []wireBootFile    `json:"boot_files"`
		Metadata  map[string]string `json:"metadata"`
	}
	wirePackage struct {
		Name     string  `json:"name"`
		Arch     string  `json:"arch"`
		EVR      wireEVR `json:"evr"`
		Size     int64   `json:"size"`
		Digest   string  `json:"digest"`
		Location string  `json:"location"`
	}
	wireEVR struct {
		Epoch   int    `json:"epoch"`
		Version string `json:"version"`
		Release string `json:"release"`
	}
	wireBootFile struct {
		Name   string `json:"name"`
		Size   int64  `json:"size"`
		Digest string `json:"digest"`
	}
)

// DecodeManifest decodes a manifest from its canonical encoding
// ([Manifest.Canonical]) and accepts nothing else: input that is not JSON,
// has a format other than [ManifestFormat], has unknown fields, or
// describes a manifest that does not pass [Manifest.Validate] is refused,
// and so is input that decodes to a valid manifest but is not byte for byte
// its canonical encoding (extra whitespace, keys out of order, escapes
// spelt differently, packages unsorted, duplicate keys, trailing data). All
// errors wrap [ErrInvalidManifest].
//
// In the result, empty Packages, BootFiles and Metadata are nil and
// CreatedAt is in UTC.
func DecodeManifest(data []byte) (*Manifest, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("snapshot: decode manifest: %w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
	}
	var probe struct {
		Format *int `json:"format"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, bad("%v", err)
	}
	if probe.Format == nil {
		return nil, bad("no format field")
	}
	if *probe.Format != ManifestFormat {
		return nil, bad("unsupported format %d (want %d)", *probe.Format, ManifestFormat)
	}

	var w wireManifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, bad("%v", err)
	}
	created, err := time.Parse(timeLayout, w.CreatedAt)
	if err != nil {
		return nil, bad("created_at: %v", err)
	}
	m := &Manifest{
		ID:        w.ID,
		OSRelease: w.OSRelease,
		Arch:      w.Arch,
		CreatedAt: created.UTC(),
		Parent:    w.Parent,
	}
	for i, p := range w.Packages {
		d, err := ParseDigest(p.Digest)
		if err != nil {
			return nil, bad("package %d: %v", i, err)
		}
		m.Packages = append(m.Packages, PackageEntry{
			Name:     p.Name,
			Arch:     p.Arch,
			EVR:      rpmver.EVR{Epoch: p.EVR.Epoch, Version: p.EVR.Version, Release: p.EVR.Release},
			Size:     p.Size,
			Digest:   d,
			Location: p.Location,
		})
	}
	for i, f := range w.BootFiles {
		d, err := ParseDigest(f.Digest)
		if err != nil {
			return nil, bad("boot file %d: %v", i, err)
		}
		m.BootFiles = append(m.BootFiles, BootFile{Name: f.Name, Size: f.Size, Digest: d})
	}
	if len(w.Metadata) > 0 {
		m.Metadata = w.Metadata
	}

	again, err := m.Canonical()
	if err != nil {
		return nil, fmt.Errorf("snapshot: decode manifest: %w", err)
	}
	if !bytes.Equal(again, data) {
		return nil, bad("not canonical (differs from the canonical encoding at byte %d)", firstDiff(again, data))
	}
	return m, nil
}

// firstDiff returns the offset of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
