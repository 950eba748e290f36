package fleetkit

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Hostname limits from RFC 1123 and RFC 1035.
const (
	// MaxHostnameLength is the longest hostname accepted, in bytes.
	MaxHostnameLength = 253
	// MaxLabelLength is the longest label (the part between dots), in bytes.
	MaxLabelLength = 63
)

// ErrInvalidHostname is matched by every error [NormalizeHostname] returns.
var ErrInvalidHostname = errors.New("invalid hostname")

// NormalizeHostname checks that s is a valid hostname and returns its
// canonical form: lower-cased, with one trailing dot (a fully qualified
// name) removed.
//
// A valid hostname is at most [MaxHostnameLength] bytes of dot-separated
// labels. Each label is 1 to [MaxLabelLength] letters, digits and hyphens,
// and neither starts nor ends with a hyphen (RFC 1123 §2.1, which allows a
// leading digit). Invalid input returns an error wrapping
// [ErrInvalidHostname] that quotes the input and says what is wrong.
func NormalizeHostname(s string) (string, error) {
	h := strings.TrimSuffix(s, ".")
	if h == "" {
		return "", fmt.Errorf("%w %q: empty", ErrInvalidHostname, s)
	}
	if len(h) > MaxHostnameLength {
		return "", fmt.Errorf("%w %.40q…: %d bytes, longer than %d", ErrInvalidHostname, s, len(h), MaxHostnameLength)
	}
	lower := true
	labelStart := 0
	for i := 0; i <= len(h); i++ {
		if i < len(h) && h[i] != '.' {
			c := h[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
			case 'A' <= c && c <= 'Z':
				lower = false
			default:
				r, _ := utf8.DecodeRuneInString(h[i:])
				return "", fmt.Errorf("%w %q: character %q not allowed (letters, digits, hyphens and dots only)", ErrInvalidHostname, s, r)
			}
			continue
		}
		label := h[labelStart:i]
		switch {
		case label == "":
			return "", fmt.Errorf("%w %q: empty label", ErrInvalidHostname, s)
		case len(label) > MaxLabelLength:
			return "", fmt.Errorf("%w %q: label %.20q… is %d bytes, longer than %d", ErrInvalidHostname, s, label, len(label), MaxLabelLength)
		case label[0] == '-' || label[len(label)-1] == '-':
			return "", fmt.Errorf("%w %q: label %q starts or ends with a hyphen", ErrInvalidHostname, s, label)
		}
		labelStart = i + 1
	}
	if !lower {
		h = strings.ToLower(h)
	}
	return h, nil
}
