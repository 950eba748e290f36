package snapshot_test

import (
	"errors"
	"testing"

	"github.com/fleetkit/fleetkit/snapshot"
)

// FuzzParseDigest checks that ParseDigest either fails with
// ErrInvalidDigest or accepts exactly the two canonical forms of a digest,
// which String and Hex give back. The seed corpus is in
// testdata/fuzz/FuzzParseDigest.
func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + helloHex)
	f.Add(helloHex)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := snapshot.ParseDigest(s)
		if err != nil {
			if !errors.Is(err, snapshot.ErrInvalidDigest) {
				t.Fatalf("ParseDigest(%q): error %v does not wrap ErrInvalidDigest", s, err)
			}
			if d != (snapshot.Digest{}) {
				t.Fatalf("ParseDigest(%q): non-zero digest with error", s)
			}
			return
		}
		if s != d.Hex() && s != d.String() {
			t.Fatalf("ParseDigest(%q) = %s: accepted a non-canonical form", s, d)
		}
		for _, back := range []string{d.String(), d.Hex()} {
			d2, err := snapshot.ParseDigest(back)
			if err != nil || d2 != d {
				t.Fatalf("ParseDigest(%q) = %v, %v; want %s", back, d2, err, d)
			}
		}
	})
}
