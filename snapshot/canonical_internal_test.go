package snapshot

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// appendStringRef is appendString's specification, a byte at a time.
func appendStringRef(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, []byte(`\u00`+strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&0xf, 16))...)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// TestAppendString checks the eight-bytes-at-a-time escaping against the
// byte-at-a-time specification: every byte value at every position of
// strings of up to 20 bytes, and random strings.
func TestAppendString(t *testing.T) {
	t.Parallel()
	check := func(s string) {
		t.Helper()
		if got, want := string(appendString(nil, s)), string(appendStringRef(nil, s)); got != want {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
	for n := range 21 {
		for pos := range n {
			for c := range 256 {
				b := []byte("abcdefghijklmnopqrstuvwxyz")[:n]
				b[pos] = byte(c)
				check(string(b))
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "aZ09.-_/~^\"\\\x00\x01\x1f\x20\x7f\x80\xc3\xa9\xff"
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
}

// BenchmarkAppendString escapes strings shaped like a manifest's (names,
// versions, locations), against the byte-at-a-time specification.
func BenchmarkAppendString(b *testing.B) {
	strs := []string{"package-01234-libs", "x86_64", "5.14.0", "427.13.1.el9_4", "Packages/p/package-01234-libs-5.14.0-427.13.1.el9_4.x86_64.rpm"}
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	for _, bc := range []struct {
		name string
		f    func([]byte, string) []byte
	}{{"eight-at-a-time", appendString}, {"byte-at-a-time", appendStringRef}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			b.SetBytes(int64(n))
			for b.Loop() {
				buf = buf[:0]
				for _, s := range strs {
					buf = bc.f(buf, s)
				}
			}
		})
	}
}

// TestWriteCanonicalStreams checks that the encoding a seal's HMAC reads,
// written in pieces, is exactly Canonical's, for a manifest large enough
// to be written in many pieces and with strings that need escaping.
func TestWriteCanonicalStreams(t *testing.T) {
	t.Parallel()
	m := &Manifest{ID: "s\"1", OSRelease: "r\\1", Arch: "x86_64", Metadata: map[string]string{"k\n": "v\x01"}}
	for i := range 3000 {
		name := "pkg-" + strconv.Itoa(i*7919%3000) + "\t\"é"
		m.Packages = append(m.Packages, PackageEntry{
			Name: name, Arch: "noarch", EVR: rpmver.EVR{Epoch: i % 2, Version: strconv.Itoa(i % 10), Release: "1"}, Size: int64(i),
			Digest: DigestOf([]byte(name)), Location: "Packages/" + name + ".rpm",
		})
	}
	m.BootFiles = []BootFile{{Name: "vmlinuz", Size: 1}, {Name: "initrd\\", Size: 2}}
	want, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := m.validate()
	if err != nil {
		t.Fatal(err)
	}
	w := &pieces{}
	m.writeCanonical(w, pkgs)
	if got := string(w.all); got != string(want) {
		t.Fatalf("streamed encoding differs from Canonical (%d vs %d bytes)", len(got), len(want))
	}
	if len(w.sizes) < 3 {
		t.Fatalf("written in %d pieces, want several", len(w.sizes))
	}
	for _, n := range w.sizes[:len(w.sizes)-1] {
		if n < 64<<10 || n > 80<<10 {
			t.Fatalf("piece of %d bytes, want 64-80 KiB", n)
		}
	}
}

// pieces records what is written to it, and in which sizes.
type pieces struct {
	all   []byte
	sizes []int
}

func (p *pieces) Write(b []byte) (int, error) {
	p.all = append(p.all, b...)
	p.sizes = append(p.sizes, len(b))
	return len(b), nil
}
