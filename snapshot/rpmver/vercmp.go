package rpmver

import "strings"

// Vercmp compares two version (or release) strings with rpm's rpmvercmp
// algorithm (rpmio/rpmvercmp.c) and returns -1 if a is older than b, 0 if
// they are equal and 1 if a is newer.
//
// Both strings are cut into segments, each a maximal run of ASCII digits or a
// maximal run of ASCII letters; every other byte separates segments and is
// otherwise ignored, except '~' and '^':
//
//   - '~' sorts before anything, even the end of the string: "1.0~rc1" < "1.0".
//   - '^' sorts after the end of the string but before any other segment:
//     "1.0" < "1.0^git1" < "1.0.1".
//
// Segments are compared in turn. Numeric segments compare as numbers of any
// length (leading zeros ignored, so "001" equals "1"); alphabetic segments
// compare byte-wise like C's strcmp, so "a" < "aa" < "b" and "Z" < "a". A numeric
// segment is newer than an alphabetic one. When all segments compared are
// equal, the string with segments left over is newer, and strings differing
// only in separators are equal ("2.0" equals "2_0").
//
// As in rpm, letters and digits are ASCII only: bytes outside ASCII (and
// NUL, which ends a C string but not a Go one) are separators.
func Vercmp(a, b string) int {
	if a == b {
		return 0
	}
	for {
		a, b = skipSeparators(a), skipSeparators(b)

		// '~' sorts before everything else, the end of the string included.
		if ta, tb := startsWith(a, '~'), startsWith(b, '~'); ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}

		// '^' is like '~', except that the end of the string (a base
		// version) sorts before it.
		if ca, cb := startsWith(a, '^'), startsWith(b, '^'); ca || cb {
			switch {
			case a == "":
				return -1
			case b == "":
				return 1
			case !ca:
				return 1
			case !cb:
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}

		if a == "" || b == "" {
			break
		}

		// The kind of a's segment decides how b's is read: if b has no
		// segment of that kind here, the kinds differ and the numeric one
		// is newer.
		isNum := isDigit(a[0])
		class := isAlpha
		if isNum {
			class = isDigit
		}
		var sa, sb string
		sa, a = span(a, class)
		sb, b = span(b, class)
		if sb == "" {
			if isNum {
				return 1
			}
			return -1
		}
		var c int
		if isNum {
			c = compareDigits(sa, sb)
		} else {
			c = strings.Compare(sa, sb)
		}
		if c != 0 {
			return c
		}
	}
	// All segments compared equal and at least one string is used up:
	// the one with something left is newer.
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	default:
		return 1
	}
}

// compareDigits compares two non-empty runs of ASCII digits as unbounded
// non-negative integers: leading zeros are dropped, then the longer number
// is the larger, and numbers of equal length compare lexically.
func compareDigits(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	switch {
	case len(a) > len(b):
		return 1
	case len(a) < len(b):
		return -1
	}
	return strings.Compare(a, b)
}

// skipSeparators drops the leading bytes of s that are neither ASCII
// letters, ASCII digits, '~' nor '^'.
func skipSeparators(s string) string {
	i := 0
	for i < len(s) && !isAlpha(s[i]) && !isDigit(s[i]) && s[i] != '~' && s[i] != '^' {
		i++
	}
	return s[i:]
}

// span splits s after its longest prefix of bytes satisfying class.
func span(s string, class func(byte) bool) (prefix, rest string) {
	i := 0
	for i < len(s) && class(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func startsWith(s string, c byte) bool { return s != "" && s[0] == c }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
