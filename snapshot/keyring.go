package snapshot

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key ring errors. Test with errors.Is.
var (
	// ErrInvalidKey means a key or key ID offered to a [KeyRing] is not
	// acceptable: a key shorter than [MinKeySize], an empty or unprintable
	// ID, an ID already in the ring, or a current key that is not in it.
	ErrInvalidKey = errors.New("invalid key")
	// ErrUnknownKey means a key ID is not in the ring: the key was retired
	// or never known.
	ErrUnknownKey = errors.New("unknown key (retired or never known)")
	// ErrKeyInUse means an attempt to retire the ring's current key.
	ErrKeyInUse = errors.New("key is current")
)

// MinKeySize is the least number of bytes of an HMAC-SHA256 key a
// [KeyRing] accepts: the size of the hash.
const MinKeySize = 32

// maxKeyIDLen bounds a key ID, which travels in every [Seal].
const maxKeyIDLen = 128

// KeyRing holds the HMAC-SHA256 keys that seal and verify manifests, each
// under an ID, one of them current. [KeyRing.Seal] uses the current key;
// [KeyRing.Verify] uses whichever key a seal names.
//
// A KeyRing is immutable: WithKey, WithCurrent and Retire return a new ring
// and leave the receiver unchanged, so a ring is safe for concurrent use
// by many goroutines and can be swapped atomically (an
// atomic.Pointer[KeyRing], say) when keys rotate. The zero KeyRing holds no
// keys; every operation on it fails.
//
// Formatting a KeyRing (String, GoString, or fmt with any verb) shows the
// key IDs and never key bytes, and no error from this package includes
// them.
//
// # Rotation
//
// To replace key "k1" by "k2" without a moment when a seal cannot be
// verified:
//
//  1. ring, err = ring.WithKey("k2", newKey): the new key can now verify,
//     which matters if several processes pick up the new ring at
//     different times.
//  2. ring, err = ring.WithCurrent("k2"): new seals use k2.
//  3. Keep k1 in the ring, for verification only, until every snapshot
//     sealed with it has been purged. A catalogue ([Store]) never changes
//     a sealed snapshot's seal, so its record stays what was sealed and
//     released: snapshots outlive keys by being retired, not re-sealed.
//     If k1 leaked, its seals prove nothing: build the snapshots again
//     (the blobs are shared, so only the manifests are new) and retire k1
//     at once.
//  4. ring, err = ring.Retire("k1"): seals that still name k1 now fail
//     with [ErrUnknownKey].
type KeyRing struct {
	r *ring
}

// ring is a KeyRing's content, never mutated after construction.
type ring struct {
	current string
	keys    map[string]*secret
}

// secret holds key bytes behind a pointer. fmt cannot call KeyRing.Format
// when a KeyRing sits in an unexported struct field and prints it by
// reflection instead, but it never follows a pointer nested that deep: it
// prints an address, not the key.
type secret struct{ b []byte }

// NewKeyRing returns a ring holding keys (ID to key), with current as its
// current key. Every ID must be non-empty, at most 128 bytes and made of
// printable characters other than space; every key at least [MinKeySize]
// bytes; current must be one of the IDs. Errors wrap [ErrInvalidKey]. The
// ring keeps copies of the keys.
func NewKeyRing(current string, keys map[string][]byte) (*KeyRing, error) {
	r := &ring{current: current, keys: make(map[string]*secret, len(keys))}
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		if err := checkKey(id, keys[id]); err != nil {
			return nil, fmt.Errorf("snapshot: new key ring: %w", err)
		}
		r.keys[id] = &secret{b: slices.Clone(keys[id])}
	}
	if _, ok := r.keys[current]; !ok {
		return nil, fmt.Errorf("snapshot: new key ring: %w: current key %s is not in the ring", ErrInvalidKey, quoteShort(current))
	}
	return &KeyRing{r: r}, nil
}

// checkKey checks an ID and its key, naming the ID (never the key) when
// something is wrong.
func checkKey(id string, key []byte) error {
	if err := checkKeyID(id); err != nil {
		return err
	}
	if len(key) < MinKeySize {
		return fmt.Errorf("%w: key %s is %d bytes, want at least %d", ErrInvalidKey, quoteShort(id), len(key), MinKeySize)
	}
	return nil
}

func checkKeyID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty key ID", ErrInvalidKey)
	case len(id) > maxKeyIDLen:
		return fmt.Errorf("%w: key ID %s is longer than %d bytes", ErrInvalidKey, quoteShort(id), maxKeyIDLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: key ID %s is not valid UTF-8", ErrInvalidKey, quoteShort(id))
	case strings.IndexFunc(id, func(r rune) bool { return r == ' ' || !unicode.IsPrint(r) }) >= 0:
		return fmt.Errorf("%w: key ID %s has a space or an unprintable character", ErrInvalidKey, quoteShort(id))
	}
	return nil
}

// errEmptyRing is returned, wrapped, by operations on the zero KeyRing.
func errEmptyRing(op string) error {
	return fmt.Errorf("snapshot: %s: %w: empty key ring", op, ErrUnknownKey)
}

// Current returns the ID of the key that [KeyRing.Seal] uses, or "" for
// the zero KeyRing.
func (k *KeyRing) Current() string {
	if k == nil || k.r == nil {
		return ""
	}
	return k.r.current
}

// IDs returns the IDs of the ring's keys, sorted.
func (k *KeyRing) IDs() []string {
	if k == nil || k.r == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.r.keys))
}

// WithKey returns a new ring with key added under id, which must not be
// in the ring already (a key ID names one key for ever, or seals made with
// the old key would fail); the current key is unchanged. id and key must
// meet [NewKeyRing]'s rules. Errors wrap [ErrInvalidKey].
func (k *KeyRing) WithKey(id string, key []byte) (*KeyRing, error) {
	if k == nil || k.r == nil {
		return nil, errEmptyRing("add key")
	}
	if err := checkKey(id, key); err != nil {
		return nil, fmt.Errorf("snapshot: add key: %w", err)
	}
	if _, ok := k.r.keys[id]; ok {
		return nil, fmt.Errorf("snapshot: add key: %w: key %s is already in the ring", ErrInvalidKey, quoteShort(id))
	}
	keys := maps.Clone(k.r.keys)
	keys[id] = &secret{b: slices.Clone(key)}
	return &KeyRing{r: &ring{current: k.r.current, keys: keys}}, nil
}

// WithCurrent returns a new ring whose current key is id, or an error
// wrapping [ErrUnknownKey] if id is not in the ring.
func (k *KeyRing) WithCurrent(id string) (*KeyRing, error) {
	if k == nil || k.r == nil {
		return nil, errEmptyRing("set current key")
	}
	if _, ok := k.r.keys[id]; !ok {
		return nil, fmt.Errorf("snapshot: set current key %s: %w", quoteShort(id), ErrUnknownKey)
	}
	return &KeyRing{r: &ring{current: id, keys: k.r.keys}}, nil
}

// Retire returns a new ring without the key id, after which seals made
// with it fail to verify with [ErrUnknownKey]. Retiring the current key
// fails with [ErrKeyInUse] (make another key current first); retiring a
// key not in the ring fails with [ErrUnknownKey].
func (k *KeyRing) Retire(id string) (*KeyRing, error) {
	if k == nil || k.r == nil {
		return nil, errEmptyRing("retire key")
	}
	if _, ok := k.r.keys[id]; !ok {
		return nil, fmt.Errorf("snapshot: retire key %s: %w", quoteShort(id), ErrUnknownKey)
	}
	if id == k.r.current {
		return nil, fmt.Errorf("snapshot: retire key %s: %w", quoteShort(id), ErrKeyInUse)
	}
	keys := maps.Clone(k.r.keys)
	delete(keys, id)
	return &KeyRing{r: &ring{current: k.r.current, keys: keys}}, nil
}

// key returns the key named id.
func (k *KeyRing) key(id string) ([]byte, bool) {
	if k == nil || k.r == nil {
		return nil, false
	}
	key, ok := k.r.keys[id]
	if !ok {
		return nil, false
	}
	return key.b, true
}

// String describes the ring by its key IDs, e.g.
// `KeyRing{current: "k2", keys: ["k1" "k2"]}`; it never shows key bytes.
func (k KeyRing) String() string {
	if k.r == nil {
		return "KeyRing{}"
	}
	return fmt.Sprintf("KeyRing{current: %q, keys: %q}", k.r.current, slices.Sorted(maps.Keys(k.r.keys)))
}

// GoString is like String, for %#v.
func (k KeyRing) GoString() string { return "snapshot." + k.String() }

// Format writes String for every verb (GoString for %#v), so that no verb
// or flag (%x, %+v, …) prints key bytes.
func (k KeyRing) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		fmt.Fprint(f, k.GoString())
		return
	}
	fmt.Fprint(f, k.String())
}
