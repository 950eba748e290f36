package rpmver_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// TestCompareAgainstRPM is a differential test: rpmver.Compare must order
// every pair as rpm itself does (rpm.vercmp in rpm's Lua, which parses
// each string as [epoch:]version[-release] and compares with rpmverCmp).
// The pairs are rpm's own test cases, random EVRs over an alphabet heavy
// in digits with leading zeros, letters of both cases, '.', '_', '~' and
// '^', and near misses of each random EVR; all go to rpm in one run.
func TestCompareAgainstRPM(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "rpm", "rpm")
	var pairs [][2]string
	add := func(a, b string) {
		if _, err := rpmver.Parse(a); err != nil {
			return
		}
		if _, err := rpmver.Parse(b); err != nil {
			return
		}
		pairs = append(pairs, [2]string{a, b})
	}
	for _, tc := range rpmVercmpCases {
		add(tc.a, tc.b)
		add("1:"+tc.a+"-1", "1:"+tc.b+"-1")
		add("1.0-"+tc.a, "1.0-"+tc.b)
	}
	r := newRand(t)
	for range 20000 {
		add(randEVR(r), randEVR(r))
	}
	// Near misses: a random EVR against itself with one byte added,
	// removed or replaced, where orderings are decided by fine points.
	for range 10000 {
		a := randEVR(r)
		b := []byte(a)
		i := r.IntN(len(b))
		switch r.IntN(3) {
		case 0:
			b = append(b[:i], append([]byte{versionAlphabet[r.IntN(len(versionAlphabet))]}, b[i:]...)...)
		case 1:
			b = append(b[:i], b[i+1:]...)
		default:
			b[i] = versionAlphabet[r.IntN(len(versionAlphabet))]
		}
		add(a, string(b))
	}
	require.Greater(t, len(pairs), 25000)

	got, err := yumrepotest.RPMVercmp(t.Context(), pairs)
	require.NoError(t, err)
	mismatches := 0
	for i, p := range pairs {
		if want := got[i]; rpmver.Compare(p[0], p[1]) != want {
			mismatches++
			if mismatches <= 20 {
				t.Errorf("Compare(%q, %q) = %d, rpm says %d", p[0], p[1], rpmver.Compare(p[0], p[1]), want)
			}
		}
	}
	require.Zero(t, mismatches, "of %d pairs", len(pairs))
	seen := map[int]int{}
	for _, c := range got {
		seen[c]++
	}
	t.Logf("%d pairs agree with rpm (older %d, equal %d, newer %d)", len(pairs), seen[-1], seen[0], seen[1])
	require.Len(t, seen, 3, "the pairs exercise every outcome")
}
