package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Sentinel errors shared by every backend.
var (
	// ErrNotFound is wrapped when the requested record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrLocked is wrapped by Locker.Acquire when another holder has an
	// unexpired lease on the name.
	ErrLocked = errors.New("lock held by another owner")
	// ErrNotHeld is wrapped by Locker.Renew and Locker.Release when the
	// lease has expired or was taken over: the caller no longer holds the
	// lock and must stop the work it guarded.
	ErrNotHeld = errors.New("lease not held")
	// ErrClosed is wrapped by calls on a backend after Close.
	ErrClosed = errors.New("store closed")
	// ErrInvalid is wrapped when an argument is malformed; nothing was
	// changed.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnknownScheme is wrapped by Open when no backend is registered for
	// the URL's scheme.
	ErrUnknownScheme = errors.New("no backend registered for URL scheme")
)

// Backend is what [Open] returns: a storage backend that can also hand out
// leases. Concrete backends also implement the domain stores
// (lifecycle.Store, …); the domain packages offer helpers that open a URL
// and check for their interface.
type Backend interface {
	Locker
	// Close releases the backend's resources. Calls made after Close
	// return an error wrapping ErrClosed.
	Close(ctx context.Context) error
}

// Opener opens a backend for a parsed URL.
type Opener func(ctx context.Context, u *url.URL) (Backend, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a backend available to [Open] under a URL scheme. It is
// called from a backend package's init. Register panics if the scheme is
// empty, opener is nil, or the scheme is already registered.
func Register(scheme string, opener Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	scheme = strings.ToLower(scheme)
	if scheme == "" || opener == nil {
		panic("store: Register with empty scheme or nil opener")
	}
	if _, dup := registry[scheme]; dup {
		panic("store: Register called twice for scheme " + scheme)
	}
	registry[scheme] = opener
}

// Schemes returns the registered URL schemes, sorted.
func Schemes() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	out := make([]string, 0, len(registry))
	for s := range registry {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens the backend named by rawURL, choosing it by scheme:
// sqlite:///path/fleet.db, postgres://user@host/db, memory://. The backend
// package must have been imported so that it registered itself.
//
// Errors never quote the URL's password.
func Open(ctx context.Context, rawURL string) (Backend, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error quotes the input, which may hold a password.
		return nil, errors.New("store: open: malformed URL")
	}
	if u.Scheme == "" {
		// Not quoted: scheme-less input may be a key=value DSN with a
		// password in it.
		return nil, fmt.Errorf("store: open: URL has no scheme (want one of %s)", strings.Join(Schemes(), ", "))
	}
	registryMu.RLock()
	opener := registry[strings.ToLower(u.Scheme)]
	registryMu.RUnlock()
	if opener == nil {
		return nil, fmt.Errorf("store: open: %w %q (registered: %s; import the backend package)",
			ErrUnknownScheme, u.Scheme, strings.Join(Schemes(), ", "))
	}
	b, err := opener(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", Redact(u), err)
	}
	return b, nil
}

// Redact returns u for errors and logs with its password hidden. An opaque
// URL (scheme:rest, no slashes) shows only its scheme, since its rest may be
// "user:password@…" that url.Parse did not recognise as credentials.
// Backends use it whenever they name a URL.
func Redact(u *url.URL) string {
	if u.Opaque != "" {
		return u.Scheme + ":…"
	}
	return u.Redacted()
}
