package rpmver

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// ErrInvalid is wrapped by every error [Parse] returns.
var ErrInvalid = errors.New("rpmver: invalid EVR")

// EVR is an rpm epoch, version and release. The zero Epoch is rpm's
// missing epoch; an empty Release is a missing release, which sorts before
// any release (see [CompareEVR]).
type EVR struct {
	Epoch   int
	Version string
	Release string
}

// Parse parses s as "[epoch:]version[-release]".
//
// The epoch, when present, is the text before the only ':' and must be a
// non-negative decimal number that fits an int (leading zeros are allowed);
// the release is the text after the last '-', as in rpm's parseEVR
// (rpmio/rpmver.c), so a version may itself contain '-' only when a release
// follows. Parse returns an error wrapping [ErrInvalid], which names the
// problem and quotes s, when s is empty or contains whitespace, has more
// than one ':', has an empty, non-numeric, negative or overflowing epoch,
// an empty version or an empty release after '-'.
//
// rpm itself is more lenient with malformed strings (it reads "a:1" as the
// version "a:1"); [Compare] follows rpm there, Parse refuses them.
func Parse(s string) (EVR, error) {
	bad := func(format string, args ...any) (EVR, error) {
		return EVR{}, fmt.Errorf("%w %q: %s", ErrInvalid, s, fmt.Sprintf(format, args...))
	}
	if s == "" {
		return bad("empty string")
	}
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return bad("whitespace at byte %d", i)
	}
	if n := strings.Count(s, ":"); n > 1 {
		return bad("%d ':' separators; only one, after the epoch, is allowed", n)
	}

	var evr EVR
	rest := s
	if epoch, after, ok := strings.Cut(s, ":"); ok {
		e, reason := parseEpoch(epoch)
		if reason != "" {
			return bad("%s", reason)
		}
		evr.Epoch, rest = e, after
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		evr.Version, evr.Release = rest[:i], rest[i+1:]
		if evr.Release == "" {
			return bad("empty release after '-'")
		}
	} else {
		evr.Version = rest
	}
	if evr.Version == "" {
		return bad("empty version")
	}
	return evr, nil
}

// parseEpoch reads the text before ':' as an epoch, or says what is wrong
// with it.
func parseEpoch(s string) (int, string) {
	switch {
	case s == "":
		return 0, "empty epoch before ':'"
	case s[0] == '-' && len(s) > 1 && allDigits(s[1:]):
		return 0, fmt.Sprintf("negative epoch %q", s)
	case !allDigits(s):
		return 0, fmt.Sprintf("epoch %q is not a decimal number", s)
	}
	e, err := strconv.ParseInt(s, 10, strconv.IntSize)
	if err != nil {
		return 0, fmt.Sprintf("epoch %q overflows int", s)
	}
	return int(e), ""
}

func allDigits(s string) bool {
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// String returns the canonical form "[epoch:]version[-release]": the epoch
// is omitted when it is 0 (rpm treats a missing epoch as 0) and written
// without leading zeros otherwise, and the release is omitted when empty.
// For every EVR returned by [Parse], Parse(e.String()) returns e again.
func (e EVR) String() string {
	var b strings.Builder
	if e.Epoch != 0 {
		b.WriteString(strconv.Itoa(e.Epoch))
		b.WriteByte(':')
	}
	b.WriteString(e.Version)
	if e.Release != "" {
		b.WriteByte('-')
		b.WriteString(e.Release)
	}
	return b.String()
}

// CompareEVR returns -1 if a is older than b, 0 if they are equal and 1 if a
// is newer: epochs compare numerically, then versions with [Vercmp], then
// releases with [Vercmp], a missing release sorting before any present one
// ("1.0" < "1.0-1"), as rpm's rpmverCmp (rpmio/rpmver.c) orders them. This
// is a total order, so lists sort consistently and "the newest" is well
// defined. (rpm's dependency matching, rpmverOverlap, instead lets a missing
// release match any release; that is a question of whether a requirement
// is satisfied, not of order, and this package does not answer it.)
func CompareEVR(a, b EVR) int {
	if c := cmp.Compare(a.Epoch, b.Epoch); c != 0 {
		return c
	}
	if c := Vercmp(a.Version, b.Version); c != 0 {
		return c
	}
	return compareRelease(a.Release, b.Release)
}

// Compare compares two "[epoch:]version[-release]" strings by the rules of
// [CompareEVR] and returns -1 if a is older than b, 0 if they are equal and
// 1 if a is newer.
//
// Compare never fails. It splits its arguments as rpm's parseEVR does: the
// epoch is a leading run of digits ended by ':' (missing or empty means 0,
// and it is compared as a number of any size), the release is what follows
// the last '-' after it (missing or empty sorts first), and the version is
// what is left. For strings [Parse] accepts, Compare(a, b) equals
// CompareEVR(Parse(a), Parse(b)).
func Compare(a, b string) int {
	ea, va, ra := split(a)
	eb, vb, rb := split(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	if c := Vercmp(va, vb); c != 0 {
		return c
	}
	return compareRelease(ra, rb)
}

// compareRelease orders releases, a missing one first.
func compareRelease(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	return Vercmp(a, b)
}

// split cuts s into epoch digits ("0" when missing or empty), version and
// release the way rpm's parseEVR does.
func split(s string) (epoch, version, release string) {
	epoch, rest := "0", s
	if digits, after := span(s, isDigit); startsWith(after, ':') {
		if digits != "" {
			epoch = digits
		}
		rest = after[1:]
	}
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		return epoch, rest[:i], rest[i+1:]
	}
	return epoch, rest, ""
}
