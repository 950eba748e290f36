package redislock_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/redislock"
	"github.com/fleetkit/fleetkit/store/storetest"
)

// newClient returns a client of the first test Redis, closed when t ends.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)[0]})
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(context.Background()).Err())
	return c
}

// newPrefix returns a fresh random key prefix, and deletes every key under
// it when t ends, so that tests never see each other's locks.
func newPrefix(t testing.TB, c *redis.Client) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	prefix := "fleetkit-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
	})
	return prefix
}

func TestLockerConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLocker(t, func(t testing.TB, now func() time.Time) store.Locker {
		c := newClient(t)
		return redislock.New(c, &redislock.Options{Prefix: newPrefix(t, c), Now: now})
	})
}

// Two Lockers on two clients, as two nodes sharing a Redis, exclude each
// other, and the fencing token increases from one to the other.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c1, c2 := newClient(t), newClient(t)
	prefix := newPrefix(t, c1)
	n1 := redislock.New(c1, &redislock.Options{Prefix: prefix})
	n2 := redislock.New(c2, &redislock.Options{Prefix: prefix})

	a, err := n1.Acquire(ctx, "rescue", time.Minute)
	require.NoError(t, err)
	_, err = n2.Acquire(ctx, "rescue", time.Minute)
	require.ErrorIs(t, err, store.ErrLocked)
	require.ErrorIs(t, n2.Release(ctx, store.Lease{Name: "rescue", Holder: "forged", Token: a.Token}), store.ErrNotHeld)

	require.NoError(t, n1.Release(ctx, a))
	b, err := n2.Acquire(ctx, "rescue", time.Minute)
	require.NoError(t, err)
	require.Greater(t, b.Token, a.Token)
	_, err = n1.Renew(ctx, a, time.Minute)
	require.ErrorIs(t, err, store.ErrNotHeld, "node 1's old lease is gone")
	// Either node may renew or release the lease it is handed: the state
	// is in Redis only.
	b, err = n1.Renew(ctx, b, time.Minute)
	require.NoError(t, err)
	_, err = n1.Acquire(ctx, "rescue", time.Minute)
	require.ErrorIs(t, err, store.ErrLocked)
	require.NoError(t, n2.Release(ctx, b))

	// Both nodes race for the name, in rounds: one winner a round, and
	// tokens increase whichever node wins. (Each name counts on its own.)
	var last int64
	for range 10 {
		var (
			mu   sync.Mutex
			wins []store.Lease
			wg   sync.WaitGroup
		)
		for i := range 8 {
			node := n1
			if i%2 == 1 {
				node = n2
			}
			wg.Go(func() {
				l, err := node.Acquire(ctx, "race", time.Minute)
				if err != nil {
					if !errors.Is(err, store.ErrLocked) {
						t.Errorf("acquire: %v", err)
					}
					return
				}
				mu.Lock()
				wins = append(wins, l)
				mu.Unlock()
			})
		}
		wg.Wait()
		require.Len(t, wins, 1, "exactly one winner")
		require.Greater(t, wins[0].Token, last)
		last = wins[0].Token
		require.NoError(t, n2.Release(ctx, wins[0]))
	}
}

// Redis's own expiry removes the lock key of a lease that is never
// released, TTL plus the margin after Acquire; the token counter stays.
func TestRedisExpiryBackstop(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	const ttl, margin = 100 * time.Millisecond, 50 * time.Millisecond
	l := redislock.New(c, &redislock.Options{Prefix: newPrefix(t, c), ExpiryMargin: margin})

	a, err := l.Acquire(ctx, "job", ttl)
	require.NoError(t, err)
	key := l.Key("job")
	pttl, err := c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.Positive(t, pttl, "the lock key has a Redis expiry")
	require.LessOrEqual(t, pttl, ttl+margin)

	renewed, err := l.Renew(ctx, a, ttl)
	require.NoError(t, err)
	pttl, err = c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.Positive(t, pttl, "renewal keeps a Redis expiry")

	require.Eventually(t, func() bool {
		n, err := c.Exists(ctx, key).Result()
		return err == nil && n == 0
	}, 5*time.Second, 20*time.Millisecond, "Redis removes the lock key")
	n, err := c.Exists(ctx, key+":token").Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the token counter never expires")
	pttl, err = c.PTTL(ctx, key+":token").Result()
	require.NoError(t, err)
	require.Equal(t, time.Duration(-1), pttl, "the token counter has no expiry")

	_, err = l.Renew(ctx, renewed, ttl)
	require.ErrorIs(t, err, store.ErrNotHeld)
	b, err := l.Acquire(ctx, "job", ttl)
	require.NoError(t, err)
	require.Greater(t, b.Token, a.Token)
}

// Names with braces get keys of their own, distinct from each other and
// from brace-free names, and still work.
func TestBraceNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newClient(t)
	l := redislock.New(c, &redislock.Options{Prefix: newPrefix(t, c)})
	names := []string{"}", "{", "{}", "a}b", "x{y}z", "plain"}
	seen := map[string]bool{}
	for _, name := range names {
		k := l.Key(name)
		require.False(t, seen[k], "key of %q is unique", name)
		seen[k] = true
		a, err := l.Acquire(ctx, name, time.Minute)
		require.NoError(t, err, name)
		_, err = l.Acquire(ctx, name, time.Minute)
		require.ErrorIs(t, err, store.ErrLocked, name)
		_, err = l.Renew(ctx, a, time.Minute)
		require.NoError(t, err, name)
		require.NoError(t, l.Release(ctx, a), name)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	l := redislock.New(nil, nil)
	require.Equal(t, redislock.DefaultPrefix+"{rescue}", l.Key("rescue"))
}
