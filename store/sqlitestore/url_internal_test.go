package sqlitestore

import (
	"errors"
	"net/url"
	"testing"

	"github.com/fleetkit/fleetkit/store"
)

// FuzzPathFromURL feeds sqlite URLs from outside to the parser: it never
// panics, refuses with store.ErrInvalid, and accepts only a non-empty path
// of a URL without host, user, query or fragment.
func FuzzPathFromURL(f *testing.F) {
	for _, s := range []string{"sqlite:///var/lib/fleet.db", "sqlite:rel/fleet.db", "sqlite://host/x.db",
		"sqlite:///x.db?mode=ro", "sqlite://u:p@/x", "sqlite:///", "sqlite:%zz", "sqlite:///a%20b.db#frag"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		p, err := pathFromURL(u)
		if err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("%q: error %v does not wrap store.ErrInvalid", raw, err)
			}
			return
		}
		if p == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Opaque == "" && u.Host != "") {
			t.Fatalf("%q accepted as path %q", raw, p)
		}
	})
}
