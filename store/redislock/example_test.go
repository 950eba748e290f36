package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/redislock"
)

// A background task that must run on one node at a time takes a lease,
// renews it while it works, and releases it when done. The example needs a
// Redis server, so it is compiled but not run.
func Example() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379"})
	defer rdb.Close()
	locker := redislock.New(rdb, nil)

	lease, err := locker.Acquire(ctx, "rescue", 30*time.Second)
	if errors.Is(err, store.ErrLocked) {
		fmt.Println("another node is rescuing")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	// Record lease.Token with every write the task makes, so that a
	// later holder can refuse this one's writes once it has lost the
	// lease.
	fmt.Println("rescuing with token", lease.Token)

	if lease, err = locker.Renew(ctx, lease, 30*time.Second); err != nil {
		log.Fatal(err) // wraps store.ErrNotHeld: stop the work
	}
	if err := locker.Release(ctx, lease); err != nil {
		log.Fatal(err)
	}
}
