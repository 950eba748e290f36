package snapshot

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrTampered means a manifest does not match its seal: the manifest, the
// seal or both were changed after sealing (or were sealed with a different
// key under the same ID).
var ErrTampered = errors.New("manifest does not match its seal")

// sealDomain is prefixed to the canonical encoding before it is MACed, so
// that a MAC over a manifest can never be mistaken for one over anything
// else computed with the same key.
const sealDomain = "fleetkit snapshot manifest v1\n"

// Seal vouches for a manifest: an HMAC-SHA256 over its canonical encoding,
// made with the key that KeyID names. It holds no secret.
type Seal struct {
	KeyID string
	MAC   []byte
}

// Sealed is a manifest with its seal, as it is stored.
type Sealed struct {
	Manifest
	Seal
}

// Seal seals m with the ring's current key: the MAC is HMAC-SHA256, keyed
// with that key, over "fleetkit snapshot manifest v1\n" followed by
// m.Canonical(). It fails if m does not validate (an error wrapping
// [ErrInvalidManifest]) or the ring is empty.
func (k *KeyRing) Seal(m *Manifest) (Seal, error) {
	id := k.Current()
	key, ok := k.key(id)
	if !ok {
		return Seal{}, errEmptyRing("seal manifest")
	}
	mac, err := manifestMAC(key, m)
	if err != nil {
		return Seal{}, fmt.Errorf("snapshot: seal manifest: %w", err)
	}
	return Seal{KeyID: id, MAC: mac}, nil
}

// Verify checks that s is a seal of m made with the key that s.KeyID
// names, comparing MACs in constant time. It returns nil if so; an error
// wrapping [ErrUnknownKey] if the key is not in the ring (retired or never
// known); an error wrapping [ErrTampered] if the MAC does not match; or an
// error wrapping [ErrInvalidManifest] if m does not validate.
func (k *KeyRing) Verify(m *Manifest, s Seal) error {
	key, ok := k.key(s.KeyID)
	if !ok {
		return fmt.Errorf("snapshot: verify manifest %s: key %s: %w", manifestID(m), quoteShort(s.KeyID), ErrUnknownKey)
	}
	want, err := manifestMAC(key, m)
	if err != nil {
		return fmt.Errorf("snapshot: verify manifest: %w", err)
	}
	if !hmac.Equal(want, s.MAC) {
		return fmt.Errorf("snapshot: verify manifest %s with key %s: %w", manifestID(m), quoteShort(s.KeyID), ErrTampered)
	}
	return nil
}

// SealManifest seals m with the ring's current key and returns a copy of
// m with its seal.
func (k *KeyRing) SealManifest(m *Manifest) (Sealed, error) {
	s, err := k.Seal(m)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{Manifest: *m, Seal: s}, nil
}

// VerifySealed is Verify(&s.Manifest, s.Seal).
func (k *KeyRing) VerifySealed(s *Sealed) error { return k.Verify(&s.Manifest, s.Seal) }

// manifestMAC is the HMAC of m's canonical encoding, streamed into the
// hash (see Manifest.writeCanonical) rather than built whole first.
func manifestMAC(key []byte, m *Manifest) ([]byte, error) {
	pkgs, err := m.validate()
	if err != nil {
		return nil, err
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(sealDomain))
	m.writeCanonical(h, pkgs)
	return h.Sum(nil), nil
}

func manifestID(m *Manifest) string {
	if m == nil {
		return "<nil>"
	}
	return quoteShort(m.ID)
}
