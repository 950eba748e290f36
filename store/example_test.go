package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func ExampleOpen() {
	ctx := context.Background()
	b, err := store.Open(ctx, "memory://")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Close(ctx)
	fmt.Printf("%T\n", b)

	_, err = store.Open(ctx, "mysql://user:secret@db/fleet")
	fmt.Println(errors.Is(err, store.ErrUnknownScheme))
	// Output:
	// *memstore.Store
	// true
}

func ExampleLocker() {
	ctx := context.Background()
	b, _ := store.Open(ctx, "memory://")
	defer b.Close(ctx)

	// Only one node runs the retention task at a time.
	lease, err := b.Acquire(ctx, "retention", 30*time.Second)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = b.Acquire(ctx, "retention", 30*time.Second)
	fmt.Println("second node:", errors.Is(err, store.ErrLocked))

	// Renew while working; stop at once on ErrNotHeld.
	lease, err = b.Renew(ctx, lease, 30*time.Second)
	fmt.Println("renewed:", err == nil, "token", lease.Token)
	fmt.Println("released:", b.Release(ctx, lease) == nil)

	next, _ := b.Acquire(ctx, "retention", 30*time.Second)
	fmt.Println("next token is greater:", next.Token > lease.Token)
	// Output:
	// second node: true
	// renewed: true token 1
	// released: true
	// next token is greater: true
}

// Every runs a background task on one node at a time: here two nodes
// share a memstore Locker, and only the one holding the lease works.
func ExampleEvery() {
	locker := memstore.New(nil) // or the pgstore, sqlitestore or redislock of the nodes
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	rounds := map[string]int{}
	started := make(chan struct{})
	var wg sync.WaitGroup
	for _, node := range []string{"node-a", "node-b"} {
		wg.Go(func() {
			_ = store.Every(ctx, locker, "rescue", 5*time.Millisecond, func(ctx context.Context, l store.Lease) error {
				mu.Lock()
				defer mu.Unlock()
				rounds[node]++
				switch rounds["node-a"] + rounds["node-b"] {
				case 1:
					close(started)
				case 5:
					cancel()
				}
				return nil
			}, &store.EveryOptions{TTL: time.Minute})
		})
		<-started // node-a holds the lease before node-b starts
	}
	wg.Wait()
	fmt.Println(rounds["node-a"], rounds["node-b"])
	// Output:
	// 5 0
}
