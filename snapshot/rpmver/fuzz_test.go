package rpmver_test

import (
	"testing"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

func FuzzCompare(f *testing.F) {
	// More seeds are checked in under testdata/fuzz/FuzzCompare.
	for _, tc := range rpmVercmpCases {
		f.Add(tc.a, tc.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, c := range []struct {
			name string
			cmp  func(a, b string) int
		}{{"Vercmp", rpmver.Vercmp}, {"Compare", rpmver.Compare}} {
			ab, ba := c.cmp(a, b), c.cmp(b, a)
			if ab < -1 || ab > 1 {
				t.Fatalf("%s(%q, %q) = %d, want -1, 0 or 1", c.name, a, b, ab)
			}
			if ab != -ba {
				t.Fatalf("%s(%q, %q) = %d but %s(%q, %q) = %d", c.name, a, b, ab, c.name, b, a, ba)
			}
			if got := c.cmp(a, a); got != 0 {
				t.Fatalf("%s(%q, %q) = %d, want 0", c.name, a, a, got)
			}
		}
		pa, errA := rpmver.Parse(a)
		pb, errB := rpmver.Parse(b)
		if errA == nil && errB == nil {
			if got, want := rpmver.CompareEVR(pa, pb), rpmver.Compare(a, b); got != want {
				t.Fatalf("CompareEVR(%#v, %#v) = %d but Compare(%q, %q) = %d", pa, pb, got, a, b, want)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	// More seeds are checked in under testdata/fuzz/FuzzParse.
	f.Add("1:2.4.57-5.el9_4.1")
	f.Fuzz(func(t *testing.T, s string) {
		evr, err := rpmver.Parse(s)
		if err != nil {
			return
		}
		canonical := evr.String()
		again, err := rpmver.Parse(canonical)
		if err != nil {
			t.Fatalf("Parse(%q) = %#v, but Parse of its String %q fails: %v", s, evr, canonical, err)
		}
		if again != evr {
			t.Fatalf("Parse(%q) = %#v, but Parse(%q) = %#v", s, evr, canonical, again)
		}
		if c := rpmver.Compare(s, canonical); c != 0 {
			t.Fatalf("Compare(%q, %q) = %d, want 0", s, canonical, c)
		}
	})
}

// FuzzCompareTransitive checks that Compare and Vercmp order any three
// strings consistently: a ≤ b ≤ c implies a ≤ c, with equality carried
// through, so that sorting by them is well defined. Seeds are checked in
// under testdata/fuzz/FuzzCompareTransitive.
func FuzzCompareTransitive(f *testing.F) {
	f.Add("1.0~rc1", "1.0", "1.0^git1")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		for _, cmp := range []struct {
			name string
			f    func(a, b string) int
		}{{"Vercmp", rpmver.Vercmp}, {"Compare", rpmver.Compare}} {
			// Every ordering of the three, so one check covers all cases.
			for _, x := range [][3]string{{a, b, c}, {a, c, b}, {b, a, c}, {b, c, a}, {c, a, b}, {c, b, a}} {
				xy, yz, xz := cmp.f(x[0], x[1]), cmp.f(x[1], x[2]), cmp.f(x[0], x[2])
				if xy <= 0 && yz <= 0 && xz > 0 {
					t.Fatalf("%s: %q <= %q <= %q but %q > %q", cmp.name, x[0], x[1], x[2], x[0], x[2])
				}
				if xy == 0 && yz == 0 && xz != 0 {
					t.Fatalf("%s: %q == %q == %q but %s(%q, %q) = %d", cmp.name, x[0], x[1], x[2], cmp.name, x[0], x[2], xz)
				}
			}
		}
	})
}
