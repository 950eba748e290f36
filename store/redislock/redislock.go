package redislock

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/store"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "fleetkit:lock:"

// DefaultExpiryMargin is the Options.ExpiryMargin used when it is not
// positive.
const DefaultExpiryMargin = time.Minute

// Options configures a Locker. A nil *Options, and every zero field, means
// the default.
type Options struct {
	// Prefix is put before every key the Locker writes; DefaultPrefix
	// when empty. Lockers that must exclude each other use the same
	// prefix. It must not contain "{}" (see the package documentation).
	Prefix string
	// Now is the clock that judges expiry; time.Now when nil. Every node
	// sharing a Redis needs a clock synchronised with the others'.
	Now func() time.Time
	// ExpiryMargin is how long after a lease's expiry Redis itself
	// removes the lock key, as a backstop that collects the keys of dead
	// holders; DefaultExpiryMargin when not positive. It must exceed the
	// clock skew between the nodes and the Redis server.
	ExpiryMargin time.Duration
}

// Locker is a store.Locker whose leases live in Redis. Make one with
// [New]. It is safe for concurrent use, and Lockers in many processes may
// share one Redis.
type Locker struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	margin time.Duration
}

var _ store.Locker = (*Locker)(nil)

// New returns a Locker over client, which the caller built and closes.
// opts may be nil.
func New(client redis.UniversalClient, opts *Options) *Locker {
	l := &Locker{client: client, prefix: DefaultPrefix, now: time.Now, margin: DefaultExpiryMargin}
	if opts != nil {
		if opts.Prefix != "" {
			l.prefix = opts.Prefix
		}
		if opts.Now != nil {
			l.now = opts.Now
		}
		if opts.ExpiryMargin > 0 {
			l.margin = opts.ExpiryMargin
		}
	}
	return l
}

// Key returns the lock key of name: a hash holding the current lease while
// the name is held. The token counter is Key(name) + ":token".
func (l *Locker) Key(name string) string {
	if strings.ContainsAny(name, "{}") {
		sum := sha256.Sum256([]byte(name))
		return l.prefix + "{" + hex.EncodeToString(sum[:16]) + "}" + name
	}
	return l.prefix + "{" + name + "}"
}

// millis returns d in whole milliseconds, rounded up so that a positive
// duration never becomes zero.
func millis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// fromMillis is the time at Unix milliseconds ms, in UTC.
func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// Acquire takes the lease on name for ttl, or takes over a lease that
// lapsed or was released, in one script; the lease's token comes from the
// name's counter, so it exceeds every earlier token of name. When another
// holder has an unexpired lease the error wraps store.ErrLocked. The
// expiry is kept to the millisecond, rounded down from Now and the TTL
// rounded up. It implements store.Locker.
func (l *Locker) Acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("redislock: acquire: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Lease{}, fmt.Errorf("redislock: acquire %q: %w", name, err)
	}
	now := l.now().UnixMilli()
	expires := now + millis(ttl)
	holder := store.NewHolder()
	key := l.Key(name)
	res, err := acquireScript.Run(ctx, l.client, []string{key, key + ":token"},
		holder, now, expires, millis(ttl)+millis(l.margin)).Slice()
	if err != nil {
		return store.Lease{}, fmt.Errorf("redislock: acquire %q: %w", name, err)
	}
	if len(res) != 2 {
		return store.Lease{}, fmt.Errorf("redislock: acquire %q: unexpected script reply of %d values", name, len(res))
	}
	if ok, _ := res[0].(int64); ok != 1 {
		if s, _ := res[1].(string); s != "" {
			if until, err := strconv.ParseInt(s, 10, 64); err == nil {
				return store.Lease{}, fmt.Errorf("redislock: acquire %q: %w until %s", name, store.ErrLocked,
					fromMillis(until).Format(time.RFC3339Nano))
			}
		}
		return store.Lease{}, fmt.Errorf("redislock: acquire %q: %w", name, store.ErrLocked)
	}
	token, ok := res[1].(int64)
	if !ok || token <= 0 {
		return store.Lease{}, fmt.Errorf("redislock: acquire %q: unexpected token in script reply", name)
	}
	return store.Lease{Name: name, Holder: holder, Token: token, Expires: fromMillis(expires)}, nil
}

// Renew extends a held lease to ttl from now, keeping its token, and
// pushes back Redis's own expiry of the lock key. When the lease lapsed,
// was released or was taken over the error wraps store.ErrNotHeld and
// nothing changes. It implements store.Locker.
func (l *Locker) Renew(ctx context.Context, lease store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(lease.Name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("redislock: renew: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Lease{}, fmt.Errorf("redislock: renew %s: %w", lease, err)
	}
	now := l.now().UnixMilli()
	expires := now + millis(ttl)
	n, err := renewScript.Run(ctx, l.client, []string{l.Key(lease.Name)},
		lease.Holder, strconv.FormatInt(lease.Token, 10), now, expires, millis(ttl)+millis(l.margin)).Int64()
	if err != nil {
		return store.Lease{}, fmt.Errorf("redislock: renew %s: %w", lease, err)
	}
	if n != 1 {
		return store.Lease{}, fmt.Errorf("redislock: renew %s: %w", lease, store.ErrNotHeld)
	}
	lease.Expires = fromMillis(expires)
	return lease, nil
}

// Release deletes the lock key of a held lease so that another holder may
// acquire the name at once; the token counter stays, so later tokens are
// still greater. When the lease was no longer held the error wraps
// store.ErrNotHeld and nothing changes. It implements store.Locker.
func (l *Locker) Release(ctx context.Context, lease store.Lease) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redislock: release %s: %w", lease, err)
	}
	if lease.Name == "" {
		return fmt.Errorf("redislock: release %s: %w", lease, store.ErrNotHeld)
	}
	n, err := releaseScript.Run(ctx, l.client, []string{l.Key(lease.Name)},
		lease.Holder, strconv.FormatInt(lease.Token, 10), l.now().UnixMilli()).Int64()
	if err != nil {
		return fmt.Errorf("redislock: release %s: %w", lease, err)
	}
	if n != 1 {
		return fmt.Errorf("redislock: release %s: %w", lease, store.ErrNotHeld)
	}
	return nil
}
