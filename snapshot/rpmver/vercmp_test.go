package rpmver_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

type vercmpCase struct {
	a, b string
	want int
}

// rpmVercmpCases are the cases of rpm's own test suite, tests/rpmvercmp.at
// (RPMVERCMP(a, b, want)), in its order, including the "oddities" it keeps
// commented out to document current behaviour (RhBug:811992 and non-ASCII
// letters being separators).
var rpmVercmpCases = []vercmpCase{
	{"1.0", "1.0", 0},
	{"1.0", "2.0", -1},
	{"2.0", "1.0", 1},

	{"2.0.1", "2.0.1", 0},
	{"2.0", "2.0.1", -1},
	{"2.0.1", "2.0", 1},

	{"2.0.1a", "2.0.1a", 0},
	{"2.0.1a", "2.0.1", 1},
	{"2.0.1", "2.0.1a", -1},

	{"5.5p1", "5.5p1", 0},
	{"5.5p1", "5.5p2", -1},
	{"5.5p2", "5.5p1", 1},

	{"5.5p10", "5.5p10", 0},
	{"5.5p1", "5.5p10", -1},
	{"5.5p10", "5.5p1", 1},

	{"10xyz", "10.1xyz", -1},
	{"10.1xyz", "10xyz", 1},

	{"xyz10", "xyz10", 0},
	{"xyz10", "xyz10.1", -1},
	{"xyz10.1", "xyz10", 1},

	{"xyz.4", "xyz.4", 0},
	{"xyz.4", "8", -1},
	{"8", "xyz.4", 1},
	{"xyz.4", "2", -1},
	{"2", "xyz.4", 1},

	{"5.5p2", "5.6p1", -1},
	{"5.6p1", "5.5p2", 1},

	{"5.6p1", "6.5p1", -1},
	{"6.5p1", "5.6p1", 1},

	{"6.0.rc1", "6.0", 1},
	{"6.0", "6.0.rc1", -1},

	{"10b2", "10a1", 1},
	{"10a2", "10b2", -1},

	{"1.0aa", "1.0aa", 0},
	{"1.0a", "1.0aa", -1},
	{"1.0aa", "1.0a", 1},

	{"10.0001", "10.0001", 0},
	{"10.0001", "10.1", 0},
	{"10.1", "10.0001", 0},
	{"10.0001", "10.0039", -1},
	{"10.0039", "10.0001", 1},

	{"4.999.9", "5.0", -1},
	{"5.0", "4.999.9", 1},

	{"20101121", "20101121", 0},
	{"20101121", "20101122", -1},
	{"20101122", "20101121", 1},

	{"2_0", "2_0", 0},
	{"2.0", "2_0", 0},
	{"2_0", "2.0", 0},

	// RhBug:178798
	{"a", "a", 0},
	{"a+", "a+", 0},
	{"a+", "a_", 0},
	{"a_", "a+", 0},
	{"+a", "+a", 0},
	{"+a", "_a", 0},
	{"_a", "+a", 0},
	{"+_", "+_", 0},
	{"_+", "+_", 0},
	{"_+", "_+", 0},
	{"+", "_", 0},
	{"_", "+", 0},

	// tilde
	{"1.0~rc1", "1.0~rc1", 0},
	{"1.0~rc1", "1.0", -1},
	{"1.0", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~rc2", "1.0~rc1", 1},
	{"1.0~rc1~git123", "1.0~rc1~git123", 0},
	{"1.0~rc1~git123", "1.0~rc1", -1},
	{"1.0~rc1", "1.0~rc1~git123", 1},

	// caret
	{"1.0^", "1.0^", 0},
	{"1.0^", "1.0", 1},
	{"1.0", "1.0^", -1},
	{"1.0^git1", "1.0^git1", 0},
	{"1.0^git1", "1.0", 1},
	{"1.0", "1.0^git1", -1},
	{"1.0^git1", "1.0^git2", -1},
	{"1.0^git2", "1.0^git1", 1},
	{"1.0^git1", "1.01", -1},
	{"1.01", "1.0^git1", 1},
	{"1.0^20160101", "1.0^20160101", 0},
	{"1.0^20160101", "1.0.1", -1},
	{"1.0.1", "1.0^20160101", 1},
	{"1.0^20160101^git1", "1.0^20160101^git1", 0},
	{"1.0^20160102", "1.0^20160101^git1", 1},
	{"1.0^20160101^git1", "1.0^20160102", -1},

	// tilde and caret
	{"1.0~rc1^git1", "1.0~rc1^git1", 0},
	{"1.0~rc1^git1", "1.0~rc1", 1},
	{"1.0~rc1", "1.0~rc1^git1", -1},
	{"1.0^git1~pre", "1.0^git1~pre", 0},
	{"1.0^git1", "1.0^git1~pre", 1},
	{"1.0^git1~pre", "1.0^git1", -1},

	// oddities, RhBug:811992
	{"1b.fc17", "1b.fc17", 0},
	{"1b.fc17", "1.fc17", -1},
	{"1.fc17", "1b.fc17", 1},
	{"1g.fc17", "1g.fc17", 0},
	{"1g.fc17", "1.fc17", 1},
	{"1.fc17", "1g.fc17", -1},

	// oddities, non-ASCII letters are separators
	{"1.1.α", "1.1.α", 0},
	{"1.1.α", "1.1.β", 0},
	{"1.1.β", "1.1.α", 0},
	{"1.1.αα", "1.1.α", 0},
	{"1.1.α", "1.1.ββ", 0},
	{"1.1.ββ", "1.1.αα", 0},
}

// moreVercmpCases cover rules rpm's suite leaves implicit.
var moreVercmpCases = []vercmpCase{
	{"001", "1", 0},
	{"1.0a", "1.0.a", 0},
	{"1.0^git1", "1.0.1", -1},
	{"1.0^git1", "1.0a", -1},
	{"1.0a", "1.0.1", -1},
	{"1.0~", "1.0", -1},
	{"1.0~", "1.0~~", 1},
	{"1.0^", "1.0~", 1},
	{"1.0^", "1.0^^", -1},
	{"1.0^", "1.0^git1", -1},
	{"", "", 0},
	{"", "1", -1},
	{"", "a", -1},
	{"", ".", 0},
	{"~", "", -1},
	{"^", "", 1},
	{"1.0.", "1.0", 0},
	{"1..0", "1.0", 0},
	{"1.0A", "1.0a", -1},
	{"1.0Z", "1.0a", -1},
	{"a", "1", -1},
	{"1", "a", 1},
	{"0", "a", 1},
	{"00", "0", 0},
	{"0.1", "00.01", 0},
	// numbers longer than any machine integer
	{"1.18446744073709551616", "1.18446744073709551615", 1},
	{"99999999999999999999999999999999", "100000000000000000000000000000000", -1},
	{"0000000000000000000000000000000000042", "42", 0},
	// NUL ends a C string but is only a separator here
	{"1\x000", "1.0", 0},
	{"2.0.1-1", "2.0.1", 1},
}

func TestVercmp(t *testing.T) {
	t.Parallel()
	for _, set := range []struct {
		name  string
		cases []vercmpCase
	}{
		{"rpm", rpmVercmpCases},
		{"more", moreVercmpCases},
	} {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range set.cases {
				t.Run(fmt.Sprintf("%q_vs_%q", tc.a, tc.b), func(t *testing.T) {
					t.Parallel()
					require.Equal(t, tc.want, rpmver.Vercmp(tc.a, tc.b), "Vercmp(%q, %q)", tc.a, tc.b)
					require.Equal(t, -tc.want, rpmver.Vercmp(tc.b, tc.a), "Vercmp(%q, %q)", tc.b, tc.a)
				})
			}
		})
	}
}

func BenchmarkVercmp(b *testing.B) {
	for _, tc := range []struct{ name, a, b string }{
		{"equal", "2.4.57", "2.4.57"},
		{"short", "2.4.57", "2.4.58"},
		{"release", "5.el9_4.3", "5.el9_4.12"},
		{"tilde_caret", "1.0~rc1^git20240101.abcdef", "1.0~rc1^git20240102.abcdef"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rpmver.Vercmp(tc.a, tc.b)
			}
		})
	}
}
