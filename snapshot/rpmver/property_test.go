package rpmver_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// versionAlphabet is weighted towards what makes comparisons interesting:
// digits with leading zeros, a few letters of both cases, the plain
// separators '.' and '_', and the special '~' and '^'.
const versionAlphabet = "00123456789aabzAZ..._~~^^"

// randVersion returns a random string of up to maxLen bytes drawn from
// alphabet.
func randVersion(r *rand.Rand, alphabet string, maxLen int) string {
	n := r.IntN(maxLen + 1)
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

// randEVR returns a random "[epoch:]version[-release]" string; one in four
// has no release, which sorts before any release.
func randEVR(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(3) == 0 {
		b.WriteString([]string{"0", "1", "2", "01", "10"}[r.IntN(5)])
		b.WriteByte(':')
	}
	version := ""
	for version == "" {
		version = randVersion(r, versionAlphabet, 6)
	}
	b.WriteString(version)
	if r.IntN(4) > 0 {
		b.WriteByte('-')
		b.WriteString("1" + randVersion(r, versionAlphabet, 4))
	}
	return b.String()
}

func newRand(t testing.TB) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(20260101, uint64(len(t.Name()))))
}

func TestVercmpProperties(t *testing.T) {
	t.Parallel()

	t.Run("reflexive and antisymmetric", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		for range 20000 {
			a := randVersion(r, versionAlphabet, 10)
			b := randVersion(r, versionAlphabet, 10)
			require.Zero(t, rpmver.Vercmp(a, a), "Vercmp(%q, %q)", a, a)
			require.Equal(t, -rpmver.Vercmp(b, a), rpmver.Vercmp(a, b), "Vercmp(%q, %q)", a, b)
			require.Contains(t, []int{-1, 0, 1}, rpmver.Vercmp(a, b))
		}
	})

	t.Run("separators other than tilde and caret only delimit", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		for range 20000 {
			a := randVersion(r, versionAlphabet, 10)
			// Not the same string, so the a == b shortcut is not taken.
			b := strings.NewReplacer(".", "_", "_", "+").Replace(a) + "."
			require.Zero(t, rpmver.Vercmp(a, b), "Vercmp(%q, %q)", a, b)
			require.Zero(t, rpmver.Vercmp(b, a), "Vercmp(%q, %q)", b, a)
		}
	})

	t.Run("transitive", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		set := make([]string, 400)
		for i := range set {
			set[i] = randVersion(r, versionAlphabet, 8)
		}
		requireTotalPreorder(t, set, rpmver.Vercmp)
	})
}

func TestCompareProperties(t *testing.T) {
	t.Parallel()

	t.Run("reflexive and antisymmetric", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		const alphabet = versionAlphabet + "--::"
		for range 20000 {
			// Arbitrary strings, malformed ones and missing releases included.
			a := randVersion(r, alphabet, 12)
			b := randVersion(r, alphabet, 12)
			require.Zero(t, rpmver.Compare(a, a), "Compare(%q, %q)", a, a)
			require.Equal(t, -rpmver.Compare(b, a), rpmver.Compare(a, b), "Compare(%q, %q)", a, b)
		}
	})

	t.Run("agrees with CompareEVR", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		for range 20000 {
			a, b := randEVR(r), randEVR(r)
			pa, err := rpmver.Parse(a)
			require.NoError(t, err)
			pb, err := rpmver.Parse(b)
			require.NoError(t, err)
			require.Equal(t, rpmver.Compare(a, b), rpmver.CompareEVR(pa, pb), "%q vs %q", a, b)
		}
	})

	t.Run("transitive", func(t *testing.T) {
		t.Parallel()
		r := newRand(t)
		set := make([]string, 400)
		for i := range set {
			set[i] = randEVR(r)
		}
		requireTotalPreorder(t, set, rpmver.Compare)
	})
}

// requireTotalPreorder sorts set with cmp and checks that every pair and
// a sample of triples agree with the order.
func requireTotalPreorder(t *testing.T, set []string, cmp func(a, b string) int) {
	t.Helper()
	slices.SortFunc(set, cmp)
	for i := range set {
		for j := i + 1; j < len(set); j++ {
			require.LessOrEqual(t, cmp(set[i], set[j]), 0,
				"sorted %q before %q but cmp says it is newer", set[i], set[j])
		}
	}
	r := newRand(t)
	for range 50000 {
		a, b, c := set[r.IntN(len(set))], set[r.IntN(len(set))], set[r.IntN(len(set))]
		if cmp(a, b) <= 0 && cmp(b, c) <= 0 {
			require.LessOrEqual(t, cmp(a, c), 0, "%q <= %q <= %q but not %q <= %q", a, b, c, a, c)
		}
		if cmp(a, b) == 0 && cmp(b, c) == 0 {
			require.Zero(t, cmp(a, c), "%q == %q == %q but not %q == %q", a, b, c, a, c)
		}
	}
}
