package snapshot_test

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
)

// testKey returns a distinctive 32-byte key.
func testKey(tag string) []byte {
	return []byte(fmt.Sprintf("%-32s", "SECRET-"+tag+"-KEY-MATERIAL"))[:32]
}

func newRing(t testing.TB) *snapshot.KeyRing {
	t.Helper()
	k, err := snapshot.NewKeyRing("k1", map[string][]byte{"k1": testKey("one")})
	require.NoError(t, err)
	return k
}

func TestNewKeyRing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		current string
		keys    map[string][]byte
		errText string // empty: no error
	}{
		{"one key", "k1", map[string][]byte{"k1": testKey("a")}, ""},
		{"two keys", "k2", map[string][]byte{"k1": testKey("a"), "k2": testKey("b")}, ""},
		{"long key", "k1", map[string][]byte{"k1": bytes.Repeat([]byte("x"), 100)}, ""},
		{"short key", "k1", map[string][]byte{"k1": testKey("a")[:31]}, `key "k1" is 31 bytes, want at least 32`},
		{"empty key", "k1", map[string][]byte{"k1": nil}, "is 0 bytes"},
		{"short old key", "k1", map[string][]byte{"k1": testKey("a"), "k0": []byte("short")}, `key "k0" is 5 bytes`},
		{"current missing", "k9", map[string][]byte{"k1": testKey("a")}, `current key "k9" is not in the ring`},
		{"no keys", "k1", nil, "not in the ring"},
		{"empty ID", "", map[string][]byte{"": testKey("a")}, "empty key ID"},
		{"ID with space", "k 1", map[string][]byte{"k 1": testKey("a")}, "space or an unprintable"},
		{"ID with newline", "k\n1", map[string][]byte{"k\n1": testKey("a")}, "space or an unprintable"},
		{"ID not UTF-8", "k\xff", map[string][]byte{"k\xff": testKey("a")}, "not valid UTF-8"},
		{"ID too long", strings.Repeat("k", 129), map[string][]byte{strings.Repeat("k", 129): testKey("a")}, "longer than 128"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := snapshot.NewKeyRing(tt.current, tt.keys)
			if tt.errText == "" {
				require.NoError(t, err)
				require.Equal(t, tt.current, k.Current())
				return
			}
			require.ErrorIs(t, err, snapshot.ErrInvalidKey)
			require.ErrorContains(t, err, tt.errText)
			require.Nil(t, k)
			for _, key := range tt.keys {
				if len(key) > 0 {
					require.NotContains(t, err.Error(), string(key))
				}
			}
		})
	}
}

func TestKeyRingCopiesKeys(t *testing.T) {
	t.Parallel()
	key := testKey("one")
	k, err := snapshot.NewKeyRing("k1", map[string][]byte{"k1": key})
	require.NoError(t, err)
	m := goldenManifest(t)
	s, err := k.Seal(m)
	require.NoError(t, err)
	key[0] ^= 0xff // the caller's slice; the ring must not see it
	require.NoError(t, k.Verify(m, s))
}

func TestKeyRingIsImmutable(t *testing.T) {
	t.Parallel()
	k1 := newRing(t)
	k2, err := k1.WithKey("k2", testKey("two"))
	require.NoError(t, err)
	require.Equal(t, []string{"k1"}, k1.IDs())
	require.Equal(t, []string{"k1", "k2"}, k2.IDs())
	require.Equal(t, "k1", k2.Current())

	k3, err := k2.WithCurrent("k2")
	require.NoError(t, err)
	require.Equal(t, "k1", k2.Current())
	require.Equal(t, "k2", k3.Current())

	k4, err := k3.Retire("k1")
	require.NoError(t, err)
	require.Equal(t, []string{"k1", "k2"}, k3.IDs())
	require.Equal(t, []string{"k2"}, k4.IDs())
}

func TestKeyRingErrors(t *testing.T) {
	t.Parallel()
	k := newRing(t)

	_, err := k.WithKey("k1", testKey("other"))
	require.ErrorIs(t, err, snapshot.ErrInvalidKey)
	require.ErrorContains(t, err, "already in the ring")

	_, err = k.WithKey("k2", []byte("too short"))
	require.ErrorIs(t, err, snapshot.ErrInvalidKey)
	require.NotContains(t, err.Error(), "too short")

	_, err = k.WithKey("", testKey("two"))
	require.ErrorIs(t, err, snapshot.ErrInvalidKey)

	_, err = k.WithCurrent("k9")
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)

	_, err = k.Retire("k1")
	require.ErrorIs(t, err, snapshot.ErrKeyInUse)

	_, err = k.Retire("k9")
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)

	var zero snapshot.KeyRing
	require.Equal(t, "", zero.Current())
	_, err = zero.Seal(goldenManifest(t))
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)
	_, err = zero.WithKey("k1", testKey("one"))
	require.Error(t, err)
	require.Equal(t, "KeyRing{}", fmt.Sprint(zero))
}

// TestKeyRingFormatHidesKeys checks every common verb and flag, on the
// ring, a pointer to it and structs holding it, for the key bytes in raw,
// hex and decimal form.
func TestKeyRingFormatHidesKeys(t *testing.T) {
	t.Parallel()
	k, err := newRing(t).WithKey("k2", testKey("two"))
	require.NoError(t, err)
	keys := [][]byte{testKey("one"), testKey("two")}

	type holder struct {
		Ring    *snapshot.KeyRing
		Value   snapshot.KeyRing
		private snapshot.KeyRing
		ptr     *snapshot.KeyRing
	}
	h := holder{Ring: k, Value: *k, private: *k, ptr: k}
	values := map[string]any{"ring": *k, "pointer": k, "holder": h, "holder pointer": &h}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "% x", "%d", "%T", "%p"}

	for name, v := range values {
		for _, verb := range verbs {
			out := fmt.Sprintf(verb, v)
			for _, key := range keys {
				for _, secret := range []string{
					string(key[:12]),
					hex.EncodeToString(key[:12]),
					strings.ToUpper(hex.EncodeToString(key[:12])),
					strings.Trim(fmt.Sprint(key[:12]), "[]"),
					fmt.Sprintf("% x", key[:12]),
				} {
					require.NotContains(t, out, secret, "%s formatted with %s: %s", name, verb, out)
				}
			}
		}
	}
	require.Equal(t, `KeyRing{current: "k1", keys: ["k1" "k2"]}`, k.String())
	require.Equal(t, `snapshot.KeyRing{current: "k1", keys: ["k1" "k2"]}`, fmt.Sprintf("%#v", k))
	require.Equal(t, k.String(), fmt.Sprintf("%+v", *k))
}

// TestKeyRingConcurrentRotation seals and verifies from many goroutines
// while another rotates the ring through an atomic pointer (run with
// -race).
func TestKeyRingConcurrentRotation(t *testing.T) {
	t.Parallel()
	var ring atomic.Pointer[snapshot.KeyRing]
	ring.Store(newRing(t))
	m := goldenManifest(t)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				k := ring.Load()
				s, err := k.Seal(m)
				if err != nil {
					t.Error(err)
					return
				}
				if err := k.Verify(m, s); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for i := 2; i < 50; i++ {
			k := ring.Load()
			id := fmt.Sprintf("k%d", i)
			k, err := k.WithKey(id, testKey(id))
			if err == nil {
				k, err = k.WithCurrent(id)
			}
			if err != nil {
				t.Error(err)
				return
			}
			ring.Store(k)
		}
	})
	wg.Wait()
	require.Equal(t, "k49", ring.Load().Current())
}
