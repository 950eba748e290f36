package rpmver_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

func TestCompare(t *testing.T) {
	t.Parallel()
	for _, tc := range []vercmpCase{
		// epoch dominates
		{"1:1.0", "2.0", 1},
		{"1:1.0-1", "2.0-1", 1},
		{"1:1.0", "2:0.1", -1},
		{"10:1.0", "9:2.0", 1},
		{"0:1.0", "1.0", 0},
		{"00:1.0-1", "1.0-1", 0},
		{":1.0", "1.0", 0}, // rpm reads an empty epoch as 0
		{"99999999999999999999999:1.0", "99999999999999999999998:2.0", 1},
		// version before release
		{"2.0-1", "1.0-9", 1},
		{"1.0~rc1-5", "1.0-1", -1},
		{"1.0^git1-1", "1.0-9", 1},
		// release
		{"1.0-1", "1.0-2", -1},
		{"1.0-1.el9", "1.0-1.el8", 1},
		{"1.0-1.el9_4.1", "1.0-1.el9_4", 1},
		{"1.0-10", "1.0-9", 1},
		// a missing or empty release matches any release
		{"1.0", "1.0-5", -1}, // a missing release sorts first (rpmverCmp)
		{"1.0-", "1.0-5", -1},
		{"1:1.0", "1:1.0-5", -1},
		{"1.0", "1.1-1", -1},
		// the release follows the last '-'
		{"1.0-1-2", "1.0-1-3", -1},
		{"1.0-2-1", "1.0-1-3", 1},
		// malformed strings are read as rpm reads them
		{"a:1.0", "1.0", -1},
		{"", "", 0},
		{"", "1", -1},
	} {
		t.Run(fmt.Sprintf("%q_vs_%q", tc.a, tc.b), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, rpmver.Compare(tc.a, tc.b), "Compare(%q, %q)", tc.a, tc.b)
			require.Equal(t, -tc.want, rpmver.Compare(tc.b, tc.a), "Compare(%q, %q)", tc.b, tc.a)
		})
	}
}

func TestCompareVersionOnly(t *testing.T) {
	t.Parallel()
	// Without epoch and release, Compare is Vercmp, provided the
	// version has no '-' or ':' to split on.
	for _, tc := range append(append([]vercmpCase(nil), rpmVercmpCases...), moreVercmpCases...) {
		if strings.ContainsAny(tc.a+tc.b, "-:") {
			continue
		}
		t.Run(fmt.Sprintf("%q_vs_%q", tc.a, tc.b), func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, rpmver.Compare(tc.a, tc.b))
			require.Equal(t, tc.want, rpmver.Compare(tc.a+"-1", tc.b+"-1"))
			require.Equal(t, tc.want, rpmver.Compare("3:"+tc.a+"-1", "3:"+tc.b+"-1"))
		})
	}
}

func TestCompareEVR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		a, b rpmver.EVR
		want int
	}{
		{"epoch dominates", rpmver.EVR{1, "1.0", "1"}, rpmver.EVR{0, "2.0", "1"}, 1},
		{"version", rpmver.EVR{0, "1.0", "9"}, rpmver.EVR{0, "1.1", "1"}, -1},
		{"release", rpmver.EVR{0, "1.0", "2"}, rpmver.EVR{0, "1.0", "10"}, -1},
		{"equal", rpmver.EVR{2, "1.0", "1.el9"}, rpmver.EVR{2, "1.0", "1.el9"}, 0},
		{"missing release sorts first", rpmver.EVR{0, "1.0", ""}, rpmver.EVR{0, "1.0", "7"}, -1},
		{"both releases missing", rpmver.EVR{0, "1.0", ""}, rpmver.EVR{0, "1.0", ""}, 0},
		{"tilde", rpmver.EVR{0, "1.0~rc1", "1"}, rpmver.EVR{0, "1.0", "1"}, -1},
		{"caret", rpmver.EVR{0, "1.0^git1", "1"}, rpmver.EVR{0, "1.0.1", "1"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, rpmver.CompareEVR(tc.a, tc.b))
			require.Equal(t, -tc.want, rpmver.CompareEVR(tc.b, tc.a))
			require.Equal(t, tc.want, rpmver.Compare(tc.a.String(), tc.b.String()))
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in        string
		want      rpmver.EVR
		canonical string
	}{
		{"1.0", rpmver.EVR{0, "1.0", ""}, "1.0"},
		{"1.0-1", rpmver.EVR{0, "1.0", "1"}, "1.0-1"},
		{"1:1.0-1", rpmver.EVR{1, "1.0", "1"}, "1:1.0-1"},
		{"0:1.0-1", rpmver.EVR{0, "1.0", "1"}, "1.0-1"},
		{"007:1.0", rpmver.EVR{7, "1.0", ""}, "7:1.0"},
		{"2:2.4.57-5.el9_4.1", rpmver.EVR{2, "2.4.57", "5.el9_4.1"}, "2:2.4.57-5.el9_4.1"},
		{"1.0~rc1^git1-0.1", rpmver.EVR{0, "1.0~rc1^git1", "0.1"}, "1.0~rc1^git1-0.1"},
		{"1.0-1-2", rpmver.EVR{0, "1.0-1", "2"}, "1.0-1-2"},
		{"a", rpmver.EVR{0, "a", ""}, "a"},
		{strconv.Itoa(maxInt) + ":1", rpmver.EVR{maxInt, "1", ""}, strconv.Itoa(maxInt) + ":1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := rpmver.Parse(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.canonical, got.String())
			again, err := rpmver.Parse(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again)
		})
	}
}

const maxInt = int(^uint(0) >> 1)

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, reason string
	}{
		{"empty", "", "empty string"},
		{"empty version", "1:", "empty version"},
		{"empty version with release", "-1", "empty version"},
		{"empty version with epoch and release", "1:-1", "empty version"},
		{"empty release", "1.0-", "empty release"},
		{"empty epoch", ":1.0", "empty epoch"},
		{"non-numeric epoch", "a:1.0", `epoch "a" is not a decimal number`},
		{"signed epoch", "+1:1.0", `epoch "+1" is not a decimal number`},
		{"epoch with release before colon", "1.0-1:2", `epoch "1.0-1" is not a decimal number`},
		{"negative epoch", "-1:1.0", `negative epoch "-1"`},
		{"overflowing epoch", "99999999999999999999:1.0", `epoch "99999999999999999999" overflows int`},
		{"two colons", "1:2:3", "2 ':' separators"},
		{"three colons", "1:2:3:4", "3 ':' separators"},
		{"space", "1.0 -1", "whitespace at byte 3"},
		{"leading space", " 1.0", "whitespace at byte 0"},
		{"trailing newline", "1.0-1\n", "whitespace at byte 5"},
		{"tab", "1:\t1.0", "whitespace at byte 2"},
		{"unicode space", "1.0\u00a0", "whitespace at byte 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := rpmver.Parse(tc.in)
			require.Error(t, err)
			require.True(t, errors.Is(err, rpmver.ErrInvalid), "error %v does not wrap ErrInvalid", err)
			require.ErrorContains(t, err, strconv.Quote(tc.in))
			require.ErrorContains(t, err, tc.reason)
			require.Zero(t, got)
		})
	}
}

func TestStringOmitsZeroEpochAndEmptyRelease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		evr  rpmver.EVR
		want string
	}{
		{"version only", rpmver.EVR{Version: "1.0"}, "1.0"},
		{"with release", rpmver.EVR{Version: "1.0", Release: "1"}, "1.0-1"},
		{"with epoch", rpmver.EVR{Epoch: 3, Version: "1.0"}, "3:1.0"},
		{"everything", rpmver.EVR{Epoch: 3, Version: "1.0", Release: "2.el9"}, "3:1.0-2.el9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.evr.String())
		})
	}
}

func BenchmarkCompare(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		rpmver.Compare("1:2.4.57-5.el9_4.1", "1:2.4.57-5.el9_4.2")
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = rpmver.Parse("1:2.4.57-5.el9_4.1")
	}
}
