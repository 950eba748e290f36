package store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetkit/fleetkit/store"
)

// A backend that always fails, naming its URL the way backends do.
func init() {
	store.Register("failing", func(_ context.Context, u *url.URL) (store.Backend, error) {
		return nil, errors.New("cannot reach " + store.Redact(u))
	})
}

// FuzzOpen feeds store.Open URLs from outside: it must never panic, and its
// errors must never quote the URL's password. (Backends that create files,
// like sqlite, are left out: the fuzzer would create them.)
func FuzzOpen(f *testing.F) {
	for _, s := range [][2]string{
		{"failing://", "db.example.com/x"}, {"failing:", "opaque"}, {"failing://u:p@", "h/x"},
		{"nosuch://", "db/x"}, {"", "host=db password=%s"}, {"FAILING://", "/x?mode=ro"},
	} {
		f.Add(s[0], s[1])
	}
	const secret = "Zq8secretPW9x"
	f.Fuzz(func(t *testing.T, prefix, rest string) {
		if strings.Contains(prefix+rest, "Zq8") {
			return // the secret must appear only where we put it
		}
		for _, raw := range []string{
			prefix + "admin:" + secret + "@" + rest,
			prefix + strings.ReplaceAll(rest, "%s", secret),
		} {
			// The secret must stay hidden when url.Parse finds it as the
			// password, and whenever the input is not a hierarchical URL
			// (an opaque scheme:rest, or a key=value connection string),
			// since no one can tell what in it is a credential. In a
			// hierarchical URL's host or path it may be shown.
			hide := true
			if u, err := url.Parse(raw); err == nil && u.Scheme != "" && u.Opaque == "" {
				p, _ := u.User.Password()
				hide = strings.Contains(p, secret)
			}
			ctx, cancel := context.WithCancel(context.Background())
			b, err := store.Open(ctx, raw)
			if err == nil {
				_ = b.Close(ctx)
			} else if hide && strings.Contains(err.Error(), secret) {
				t.Fatalf("error for %q quotes the password: %v", raw, err)
			}
			cancel()
		}
	})
}
