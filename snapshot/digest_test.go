package snapshot_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
)

// helloHex is the SHA-256 of "hello\n".
const helloHex = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"

func TestParseDigest(t *testing.T) {
	t.Parallel()
	hello := snapshot.DigestOf([]byte("hello\n"))
	for _, tc := range []struct {
		name, in string
		errHas   string // "" = valid
	}{
		{"Bare", helloHex, ""},
		{"Prefixed", "sha256:" + helloHex, ""},
		{"Empty", "", "got 0 characters"},
		{"PrefixOnly", "sha256:", "got 0 characters"},
		{"Short", helloHex[:63], "got 63 characters"},
		{"Long", helloHex + "0", "got 65 characters"},
		{"Upper", strings.ToUpper(helloHex), `character 'B' at offset 4`},
		{"NonHex", "sha256:" + helloHex[:10] + "g" + helloHex[11:], `character 'g' at offset 17`},
		{"OtherAlgorithm", "sha512:" + helloHex, "got 71 characters"},
		{"DoublePrefix", "sha256:sha256:" + helloHex, "got 71 characters"},
		{"Space", " " + helloHex[1:], `character ' ' at offset 0`},
		{"Huge", strings.Repeat("a", 10_000), "got 10000 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := snapshot.ParseDigest(tc.in)
			if tc.errHas == "" {
				require.NoError(t, err)
				require.Equal(t, hello, d)
				return
			}
			require.ErrorIs(t, err, snapshot.ErrInvalidDigest)
			require.ErrorContains(t, err, tc.errHas)
			require.Less(t, len(err.Error()), 300, "errors quote input only briefly")
			require.Zero(t, d)
		})
	}
}

func TestDigestString(t *testing.T) {
	t.Parallel()
	d := snapshot.DigestOf([]byte("hello\n"))
	require.Equal(t, helloHex, d.Hex())
	require.Equal(t, "sha256:"+helloHex, d.String())
	require.Equal(t, "sha256:"+strings.Repeat("0", 64), snapshot.Digest{}.String())
}
