package snapshot_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

func TestSealVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	k := newRing(t)
	m := goldenManifest(t)
	s, err := k.Seal(m)
	require.NoError(t, err)
	require.Equal(t, "k1", s.KeyID)
	require.Len(t, s.MAC, sha256.Size)
	require.NoError(t, k.Verify(m, s))

	// The MAC is HMAC-SHA256 over the domain prefix and the golden bytes,
	// computed here without the code under test.
	h := hmac.New(sha256.New, testKey("one"))
	h.Write([]byte("fleetkit snapshot manifest v1\n" + goldenJSON))
	require.Equal(t, h.Sum(nil), s.MAC)

	// Order of slices does not matter; a decoded copy verifies.
	require.NoError(t, k.Verify(shuffledGolden(t), s))
	d, err := snapshot.DecodeManifest([]byte(goldenJSON))
	require.NoError(t, err)
	require.NoError(t, k.Verify(d, s))

	sealed, err := k.SealManifest(m)
	require.NoError(t, err)
	require.Equal(t, "k1", sealed.KeyID)
	require.NoError(t, k.VerifySealed(&sealed))
}

func shuffledGolden(t *testing.T) *snapshot.Manifest {
	m := goldenManifest(t)
	m.Packages[0], m.Packages[2] = m.Packages[2], m.Packages[0]
	m.BootFiles[0], m.BootFiles[1] = m.BootFiles[1], m.BootFiles[0]
	m.CreatedAt = m.CreatedAt.UTC()
	return m
}

func TestVerifyDetectsTampering(t *testing.T) {
	t.Parallel()
	k := newRing(t)
	s, err := k.Seal(goldenManifest(t))
	require.NoError(t, err)

	tests := []struct {
		name   string
		mutate func(m *snapshot.Manifest)
	}{
		{"ID", func(m *snapshot.Manifest) { m.ID = "snap-2" }},
		{"OSRelease", func(m *snapshot.Manifest) { m.OSRelease = "rhel-9.5" }},
		{"Arch", func(m *snapshot.Manifest) { m.Arch = "aarch64" }},
		{"CreatedAt by 1ns", func(m *snapshot.Manifest) { m.CreatedAt = m.CreatedAt.Add(time.Nanosecond) }},
		{"Parent", func(m *snapshot.Manifest) { m.Parent = "snap-9" }},
		{"Parent removed", func(m *snapshot.Manifest) { m.Parent = "" }},
		{"package digest", func(m *snapshot.Manifest) { m.Packages[1].Digest[31] ^= 1 }},
		{"package epoch", func(m *snapshot.Manifest) { m.Packages[0].EVR.Epoch = 2 }},
		{"package version", func(m *snapshot.Manifest) { m.Packages[0].EVR.Version = "5.14.1" }},
		{"package release", func(m *snapshot.Manifest) { m.Packages[1].EVR.Release = "11.el9" }},
		{"package EVR spelt differently", func(m *snapshot.Manifest) {
			m.Packages[0].EVR = rpmver.EVR{Epoch: 1, Version: "05.14.0", Release: "427.el9"}
		}},
		{"package size", func(m *snapshot.Manifest) { m.Packages[2].Size++ }},
		{"package name", func(m *snapshot.Manifest) { m.Packages[0].Name = "kernel-core" }},
		{"package arch", func(m *snapshot.Manifest) { m.Packages[0].Arch = "noarch" }},
		{"package location", func(m *snapshot.Manifest) { m.Packages[0].Location = "Packages/k/evil.rpm" }},
		{"package removed", func(m *snapshot.Manifest) { m.Packages = m.Packages[1:] }},
		{"package added", func(m *snapshot.Manifest) {
			m.Packages = append(m.Packages, snapshot.PackageEntry{Name: "evil", Arch: "noarch", EVR: rpmver.EVR{Version: "1"}})
		}},
		{"boot file digest", func(m *snapshot.Manifest) { m.BootFiles[0].Digest[0] ^= 0x80 }},
		{"boot file size", func(m *snapshot.Manifest) { m.BootFiles[1].Size = 0 }},
		{"boot file name", func(m *snapshot.Manifest) { m.BootFiles[0].Name = "vmlinuz-2" }},
		{"boot file removed", func(m *snapshot.Manifest) { m.BootFiles = nil }},
		{"metadata value", func(m *snapshot.Manifest) { m.Metadata["source"] = "https://evil.example/" }},
		{"metadata key added", func(m *snapshot.Manifest) { m.Metadata["x"] = "" }},
		{"metadata key removed", func(m *snapshot.Manifest) { delete(m.Metadata, "note") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := goldenManifest(t)
			tt.mutate(m)
			err := k.Verify(m, s)
			require.ErrorIs(t, err, snapshot.ErrTampered)
			require.NotContains(t, err.Error(), string(testKey("one")))
		})
	}

	t.Run("MAC changed", func(t *testing.T) {
		t.Parallel()
		bad := snapshot.Seal{KeyID: s.KeyID, MAC: append([]byte(nil), s.MAC...)}
		bad.MAC[0] ^= 1
		require.ErrorIs(t, k.Verify(goldenManifest(t), bad), snapshot.ErrTampered)
		require.ErrorIs(t, k.Verify(goldenManifest(t), snapshot.Seal{KeyID: "k1"}), snapshot.ErrTampered)
		require.ErrorIs(t, k.Verify(goldenManifest(t), snapshot.Seal{KeyID: "k1", MAC: s.MAC[:16]}), snapshot.ErrTampered)
	})
	t.Run("invalid manifest", func(t *testing.T) {
		t.Parallel()
		m := goldenManifest(t)
		m.ID = ""
		require.ErrorIs(t, k.Verify(m, s), snapshot.ErrInvalidManifest)
		_, err := k.Seal(m)
		require.ErrorIs(t, err, snapshot.ErrInvalidManifest)
	})
}

func TestSealRotation(t *testing.T) {
	t.Parallel()
	m := goldenManifest(t)
	k1 := newRing(t)
	old, err := k1.Seal(m)
	require.NoError(t, err)

	// Add k2: the old seal still verifies, new seals still use k1.
	k2, err := k1.WithKey("k2", testKey("two"))
	require.NoError(t, err)
	require.NoError(t, k2.Verify(m, old))
	s, err := k2.Seal(m)
	require.NoError(t, err)
	require.Equal(t, "k1", s.KeyID)

	// Make k2 current: new seals use k2, the old seal verifies with k1.
	k3, err := k2.WithCurrent("k2")
	require.NoError(t, err)
	resealed, err := k3.Seal(m)
	require.NoError(t, err)
	require.Equal(t, "k2", resealed.KeyID)
	require.NotEqual(t, old.MAC, resealed.MAC)
	require.NoError(t, k3.Verify(m, old))
	require.NoError(t, k3.Verify(m, resealed))

	// A ring that never had k2 cannot verify the new seal.
	err = k1.Verify(m, resealed)
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)

	// Retire k1: the old seal no longer verifies, the new one does.
	k4, err := k3.Retire("k1")
	require.NoError(t, err)
	err = k4.Verify(m, old)
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)
	require.ErrorContains(t, err, `key "k1"`)
	require.ErrorContains(t, err, "retired or never known")
	require.NotContains(t, err.Error(), string(testKey("one")))
	require.NoError(t, k4.Verify(m, resealed))

	// A seal naming a key with the right ID but made with another key is
	// tampered, not unknown.
	other, err := snapshot.NewKeyRing("k2", map[string][]byte{"k2": testKey("impostor")})
	require.NoError(t, err)
	forged, err := other.Seal(m)
	require.NoError(t, err)
	require.ErrorIs(t, k4.Verify(m, forged), snapshot.ErrTampered)
}

func ExampleKeyRing_Seal() {
	// Keys come from a secret store; 32 bytes at least.
	ring, err := snapshot.NewKeyRing("2026-01", map[string][]byte{
		"2026-01": []byte("0123456789abcdef0123456789abcdef"),
	})
	if err != nil {
		panic(err)
	}
	m := &snapshot.Manifest{
		ID:        "snap-1",
		OSRelease: "rhel-9.4",
		Arch:      "x86_64",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Packages: []snapshot.PackageEntry{{
			Name: "bash", Arch: "x86_64",
			EVR:  rpmver.EVR{Version: "5.1.8", Release: "9.el9"},
			Size: 1234, Digest: snapshot.DigestOf([]byte("bash rpm")),
		}},
	}
	seal, err := ring.Seal(m)
	if err != nil {
		panic(err)
	}
	fmt.Println("sealed with", seal.KeyID)
	fmt.Println("verify:", ring.Verify(m, seal))

	m.Packages[0].Size = 4321
	fmt.Println("verify changed manifest:", ring.Verify(m, seal))
	m.Packages[0].Size = 1234

	// Rotate: add the new key, make it current, keep the old one until
	// every seal made with it is re-sealed, then retire it.
	ring, _ = ring.WithKey("2026-07", []byte("fedcba9876543210fedcba9876543210"))
	ring, _ = ring.WithCurrent("2026-07")
	fmt.Println("old seal after rotation:", ring.Verify(m, seal))
	seal, _ = ring.Seal(m)
	ring, _ = ring.Retire("2026-01")
	fmt.Println("re-sealed with", seal.KeyID, "verify:", ring.Verify(m, seal))
	fmt.Println(ring)

	// Output:
	// sealed with 2026-01
	// verify: <nil>
	// verify changed manifest: snapshot: verify manifest "snap-1" with key "2026-01": manifest does not match its seal
	// old seal after rotation: <nil>
	// re-sealed with 2026-07 verify: <nil>
	// KeyRing{current: "2026-07", keys: ["2026-07"]}
}
