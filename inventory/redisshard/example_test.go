package redisshard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

// Wiring an extractor to the Redis servers of a topology file.
func ExampleConnector() {
	ctx := context.Background()
	topo, err := inventory.LoadTopology("/etc/fleetkit/inventory.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	pool := inventory.NewPool(redisshard.Connector(&redis.Options{DialTimeout: time.Second, DialerRetries: 1}, nil), 0)
	defer pool.Close()
	ex := inventory.NewExtractor(topo, pool, nil)
	lines, _, err := ex.CountLines(ctx, &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "sysctl-a", Grep: "net.core.netdev_budget"}, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range lines {
		fmt.Printf("%7d %s\n", l.Count, l.Line)
	}
}

// Reading an existing sysops-api cache: database 1, read-only.
func ExampleNewLegacy() {
	c := redis.NewClient(&redis.Options{Addr: "cache1.example.com:6379", DB: inventory.LegacyDB})
	defer c.Close()
	old := redisshard.NewLegacy(c, nil)
	fmt.Println(old.Unordered())
	// Output: true
}
