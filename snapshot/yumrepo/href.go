package yumrepo

import (
	"fmt"
	"strings"
)

// checkHref returns an error wrapping ErrUnsafeHref unless href is a
// relative slash-separated path that stays inside the repository.
func checkHref(href string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w %q: %s", ErrUnsafeHref, href, why)
	}
	switch {
	case href == "":
		return bad("empty")
	case strings.HasPrefix(href, "/"):
		return bad("absolute path")
	case strings.Contains(href, "\\"):
		return bad("backslash")
	}
	for _, r := range href {
		if r < 0x20 || r == 0x7f {
			return bad("control character")
		}
	}
	// A ':' before the first '/' would read as a URL scheme (or a
	// Windows drive letter).
	if i := strings.IndexByte(href, ':'); i >= 0 && !strings.Contains(href[:i], "/") {
		return bad("has a scheme")
	}
	for seg := range strings.SplitSeq(href, "/") {
		if seg == ".." {
			return bad(`".." segment`)
		}
	}
	return nil
}
