package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func TestEveryOneNodeAtATime(t *testing.T) {
	locker := memstore.New(nil)
	var (
		mu      sync.Mutex
		running int
		rounds  = map[string]int{}
		tokens  = map[string]int64{}
		overlap bool
	)
	round := func(node string) func(context.Context, store.Lease) error {
		return func(_ context.Context, l store.Lease) error {
			mu.Lock()
			running++
			overlap = overlap || running > 1
			rounds[node]++
			tokens[node] = l.Token
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	var wg sync.WaitGroup
	wg.Go(func() {
		require.NoError(t, store.Every(ctxA, locker, "rescue", 10*time.Millisecond, round("a"), &store.EveryOptions{TTL: time.Second, OnError: func(err error) { t.Log("a:", err) }}))
	})
	time.Sleep(5 * time.Millisecond) // a takes the lease first
	doneB := make(chan struct{})
	go func() {
		defer close(doneB)
		require.NoError(t, store.Every(ctxB, locker, "rescue", 10*time.Millisecond, round("b"), &store.EveryOptions{TTL: time.Second, OnError: func(err error) { t.Log("b:", err) }}))
	}()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rounds["a"] > 5
	}, 10*time.Second, 5*time.Millisecond)
	mu.Lock()
	require.Zero(t, rounds["b"], "b never ran while a held the task")
	mu.Unlock()
	stopA() // a stops and releases: b takes over at its next round
	wg.Wait()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return rounds["b"] > 2
	}, 5*time.Second, 5*time.Millisecond)
	stopB()
	<-doneB
	mu.Lock()
	defer mu.Unlock()
	require.False(t, overlap, "rounds never overlapped")
	require.Greater(t, tokens["b"], tokens["a"], "the fencing token grew")
}

func TestEveryWithoutLocker(t *testing.T) {
	var n atomic.Int32
	var errs []error
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("boom")
	go func() {
		for n.Load() < 3 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := store.Every(ctx, nil, "stats", time.Millisecond, func(context.Context, store.Lease) error {
		n.Add(1)
		return boom
	}, &store.EveryOptions{OnError: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }})
	require.NoError(t, err)
	require.GreaterOrEqual(t, n.Load(), int32(3))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, errs)
	require.ErrorIs(t, errs[0], boom)
}

func TestEveryInvalid(t *testing.T) {
	fn := func(context.Context, store.Lease) error { return nil }
	ctx := context.Background()
	require.ErrorIs(t, store.Every(ctx, nil, "x", 0, fn, nil), store.ErrInvalid)
	require.ErrorIs(t, store.Every(ctx, nil, "x", time.Second, fn, &store.EveryOptions{TTL: time.Millisecond}), store.ErrInvalid)
	require.ErrorIs(t, store.Every(ctx, memstore.New(nil), "", time.Second, fn, nil), store.ErrInvalid)
}
