package fleetkit_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
)

// label returns a hostname label of n bytes.
func label(n int) string { return strings.Repeat("a", n) }

// hostOfLength returns a valid hostname of exactly n bytes made of labels
// of at most 63 bytes.
func hostOfLength(n int) string {
	var parts []string
	for n > fleetkit.MaxLabelLength {
		l := min(fleetkit.MaxLabelLength, n-2) // leave room for a dot and a label
		parts = append(parts, label(l))
		n -= l + 1
	}
	return strings.Join(append(parts, label(n)), ".")
}

func TestHostOfLength(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 63, 64, 65, 127, 253, 254} {
		require.Len(t, hostOfLength(n), n)
	}
}

func TestNormalizeHostname(t *testing.T) {
	t.Parallel()
	valid := []struct {
		name, in, want string
	}{
		{"lower", "node1.dc1.example.com", "node1.dc1.example.com"},
		{"upper-case normalised", "Node1.DC1.Example.COM", "node1.dc1.example.com"},
		{"trailing dot removed", "node1.example.com.", "node1.example.com"},
		{"upper and trailing dot", "RACK-7.", "rack-7"},
		{"single label", "localhost", "localhost"},
		{"leading digit", "1u-rack3", "1u-rack3"},
		{"all digits", "123.456", "123.456"},
		{"inner hyphens", "a--b.c-d", "a--b.c-d"},
		{"punycode", "xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"63-byte label", label(63) + ".example", label(63) + ".example"},
		{"253 bytes", hostOfLength(253), hostOfLength(253)},
		{"253 bytes and trailing dot", hostOfLength(253) + ".", hostOfLength(253)},
	}
	for _, tc := range valid {
		t.Run("valid/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := fleetkit.NormalizeHostname(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	invalid := []struct {
		name, in, wantMsg string
	}{
		{"empty", "", "empty"},
		{"only a dot", ".", "empty"},
		{"64-byte label", label(64) + ".example", "longer than 63"},
		{"254 bytes", hostOfLength(254), "longer than 253"},
		{"leading hyphen", "-node.example", "hyphen"},
		{"trailing hyphen", "node-.example", "hyphen"},
		{"hyphen label", "a.-.b", "hyphen"},
		{"leading dot", ".node", "empty label"},
		{"double dot", "node..example", "empty label"},
		{"two trailing dots", "node..", "empty label"},
		{"underscore", "node_1.example", "not allowed"},
		{"unicode", "bücher.example", "not allowed"},
		{"space", "node 1", "not allowed"},
		{"port", "node:22", "not allowed"},
		{"slash", "node/1", "not allowed"},
	}
	for _, tc := range invalid {
		t.Run("invalid/"+tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := fleetkit.NormalizeHostname(tc.in)
			require.ErrorIs(t, err, fleetkit.ErrInvalidHostname)
			require.ErrorContains(t, err, tc.wantMsg)
			require.Empty(t, got)
		})
	}
}

// FuzzNormalizeHostname checks properties that hold for every input. Its
// seed corpus is in testdata/fuzz/FuzzNormalizeHostname.
func FuzzNormalizeHostname(f *testing.F) {
	for _, s := range []string{"node1.example.com", "Node1.Example.COM.", "a-b", "-a", "a..b", "", "bücher"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := fleetkit.NormalizeHostname(s)
		if err != nil {
			if !errors.Is(err, fleetkit.ErrInvalidHostname) {
				t.Fatalf("NormalizeHostname(%q) error %v does not wrap ErrInvalidHostname", s, err)
			}
			if got != "" {
				t.Fatalf("NormalizeHostname(%q) returned %q with error %v", s, got, err)
			}
			return
		}
		if len(got) == 0 || len(got) > fleetkit.MaxHostnameLength {
			t.Fatalf("NormalizeHostname(%q) = %q: length %d", s, got, len(got))
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
				t.Fatalf("NormalizeHostname(%q) = %q: byte %q not in [a-z0-9.-]", s, got, c)
			}
		}
		if want := strings.ToLower(strings.TrimSuffix(s, ".")); got != want {
			t.Fatalf("NormalizeHostname(%q) = %q, want %q", s, got, want)
		}
		again, err := fleetkit.NormalizeHostname(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: NormalizeHostname(%q) = %q, then %q, %v", s, got, again, err)
		}
	})
}
