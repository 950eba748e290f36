// Package storetest is the conformance suite for store.Locker. Every
// backend's tests run it:
//
//	func TestLockerConformance(t *testing.T) {
//		storetest.RunLocker(t, func(t testing.TB, now func() time.Time) store.Locker {
//			return memstore.New(&memstore.Options{Now: now})
//		})
//	}
//
// The suite drives time through the clock it hands the backend, so lease
// expiry is tested without sleeping.
package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/store"
)

// NewLocker returns a fresh Locker whose notion of the current time is now.
// Lockers made by separate calls within one test need not share state.
type NewLocker func(t testing.TB, now func() time.Time) store.Locker

// Clock is a manual clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RunLocker runs the Locker conformance suite.
func RunLocker(t *testing.T, newLocker NewLocker) {
	setup := func(t *testing.T) (context.Context, store.Locker, *Clock) {
		c := NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
		return context.Background(), newLocker(t, c.Now), c
	}

	t.Run("AcquireExcludes", func(t *testing.T) {
		ctx, l, c := setup(t)
		a, err := l.Acquire(ctx, "rescue", time.Minute)
		require.NoError(t, err)
		require.Equal(t, "rescue", a.Name)
		require.NotEmpty(t, a.Holder)
		require.Positive(t, a.Token)
		require.True(t, a.Expires.Equal(c.Now().Add(time.Minute)), "expires %s", a.Expires)
		_, err = l.Acquire(ctx, "rescue", time.Minute)
		require.ErrorIs(t, err, store.ErrLocked)
		other, err := l.Acquire(ctx, "rollup", time.Minute)
		require.NoError(t, err, "names are independent")
		require.NotEqual(t, a.Holder, other.Holder)
	})

	t.Run("ExpiryAndTakeover", func(t *testing.T) {
		ctx, l, c := setup(t)
		a, err := l.Acquire(ctx, "job", 10*time.Second)
		require.NoError(t, err)
		c.Advance(9 * time.Second)
		_, err = l.Acquire(ctx, "job", time.Second)
		require.ErrorIs(t, err, store.ErrLocked, "not expired yet")
		c.Advance(time.Second)
		b, err := l.Acquire(ctx, "job", 10*time.Second)
		require.NoError(t, err, "an expired lease is taken over")
		require.Greater(t, b.Token, a.Token, "fencing token increases")
		_, err = l.Renew(ctx, a, time.Minute)
		require.ErrorIs(t, err, store.ErrNotHeld, "the old holder lost it")
		require.ErrorIs(t, l.Release(ctx, a), store.ErrNotHeld)
		// The old holder's release did not free the new holder's lease.
		_, err = l.Acquire(ctx, "job", time.Second)
		require.ErrorIs(t, err, store.ErrLocked)
	})

	t.Run("RenewExtends", func(t *testing.T) {
		ctx, l, c := setup(t)
		a, err := l.Acquire(ctx, "job", 10*time.Second)
		require.NoError(t, err)
		c.Advance(8 * time.Second)
		r, err := l.Renew(ctx, a, 10*time.Second)
		require.NoError(t, err)
		require.Equal(t, a.Token, r.Token, "renewal keeps the token")
		require.Equal(t, a.Holder, r.Holder)
		require.True(t, r.Expires.Equal(c.Now().Add(10*time.Second)))
		c.Advance(8 * time.Second) // past the first expiry, within the renewed one
		_, err = l.Acquire(ctx, "job", time.Second)
		require.ErrorIs(t, err, store.ErrLocked)
		c.Advance(3 * time.Second)
		_, err = l.Renew(ctx, r, 10*time.Second)
		require.ErrorIs(t, err, store.ErrNotHeld, "a lapsed lease cannot be renewed")
	})

	t.Run("ReleaseFrees", func(t *testing.T) {
		ctx, l, _ := setup(t)
		a, err := l.Acquire(ctx, "job", time.Hour)
		require.NoError(t, err)
		require.NoError(t, l.Release(ctx, a))
		require.ErrorIs(t, l.Release(ctx, a), store.ErrNotHeld, "released twice")
		_, err = l.Renew(ctx, a, time.Hour)
		require.ErrorIs(t, err, store.ErrNotHeld)
		b, err := l.Acquire(ctx, "job", time.Hour)
		require.NoError(t, err, "free at once after release")
		require.Greater(t, b.Token, a.Token, "tokens increase across release too")
	})

	t.Run("ForgedLease", func(t *testing.T) {
		ctx, l, _ := setup(t)
		a, err := l.Acquire(ctx, "job", time.Hour)
		require.NoError(t, err)
		forged := a
		forged.Holder = "someone-else"
		require.ErrorIs(t, l.Release(ctx, forged), store.ErrNotHeld)
		forged = a
		forged.Token++
		_, err = l.Renew(ctx, forged, time.Hour)
		require.ErrorIs(t, err, store.ErrNotHeld)
		_, err = l.Renew(ctx, store.Lease{Name: "never", Holder: "x", Token: 1}, time.Hour)
		require.ErrorIs(t, err, store.ErrNotHeld)
		require.NoError(t, l.Release(ctx, a), "the real holder still holds it")
	})

	t.Run("InvalidArguments", func(t *testing.T) {
		ctx, l, _ := setup(t)
		for _, tc := range []struct {
			name string
			ttl  time.Duration
		}{{"", time.Second}, {"job", 0}, {"job", -time.Second}, {string(make([]byte, 201)), time.Second}} {
			_, err := l.Acquire(ctx, tc.name, tc.ttl)
			require.ErrorIs(t, err, store.ErrInvalid, "name %q ttl %s", tc.name, tc.ttl)
		}
		a, err := l.Acquire(ctx, "job", time.Second)
		require.NoError(t, err)
		_, err = l.Renew(ctx, a, 0)
		require.ErrorIs(t, err, store.ErrInvalid)
	})

	t.Run("ContextCancelled", func(t *testing.T) {
		_, l, _ := setup(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := l.Acquire(ctx, "job", time.Second)
		require.ErrorIs(t, err, context.Canceled)
	})

	t.Run("Closed", func(t *testing.T) {
		ctx, l, _ := setup(t)
		c, ok := l.(interface{ Close(context.Context) error })
		if !ok {
			t.Skipf("%T has no Close(context.Context) error", l)
		}
		a, err := l.Acquire(ctx, "job", time.Minute)
		require.NoError(t, err)
		require.NoError(t, c.Close(ctx))
		_, err = l.Acquire(ctx, "other", time.Minute)
		require.ErrorIs(t, err, store.ErrClosed)
		_, err = l.Renew(ctx, a, time.Minute)
		require.ErrorIs(t, err, store.ErrClosed)
		require.ErrorIs(t, l.Release(ctx, a), store.ErrClosed)
	})

	t.Run("ConcurrentAcquire", func(t *testing.T) {
		ctx, l, c := setup(t)
		// Rounds of 8 goroutines racing for one name: exactly one wins
		// each round, and tokens strictly increase round to round.
		var last int64
		for range 20 {
			var wins atomic.Int32
			var won store.Lease
			var mu sync.Mutex
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := l.Acquire(ctx, "race", time.Second)
					if err == nil {
						wins.Add(1)
						mu.Lock()
						won = got
						mu.Unlock()
						return
					}
					if !errors.Is(err, store.ErrLocked) {
						t.Errorf("acquire: %v", err)
					}
				}()
			}
			wg.Wait()
			require.Equal(t, int32(1), wins.Load(), "exactly one winner")
			require.Greater(t, won.Token, last)
			last = won.Token
			c.Advance(2 * time.Second)
		}
	})
}
