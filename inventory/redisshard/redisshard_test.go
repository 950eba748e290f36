package redisshard_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

// testDB is the Redis database these tests write to; others packages use
// database 0, sysops-api's legacy layout database 1.
const testDB = 2

// client returns a client of the i-th test server, closed with the test.
func client(t testing.TB, i, db int) *redis.Client {
	t.Helper()
	addrs := testenv.Redis(t)
	c := redis.NewClient(&redis.Options{Addr: addrs[i%len(addrs)], DB: db})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func namespace() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

// dropNamespace deletes the keys of a namespace when the test ends.
func dropNamespace(t testing.TB, c *redis.Client, ns string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, ns+":*", 1000).Iterator()
		var ks []string
		for iter.Next(ctx) {
			ks = append(ks, iter.Val())
		}
		if len(ks) > 0 {
			_ = c.Del(ctx, ks...).Err()
		}
	})
}

func newShard(t testing.TB, i int) *redisshard.Shard {
	c := client(t, i, testDB)
	ns := namespace()
	dropNamespace(t, c, ns)
	return redisshard.New(c, &redisshard.Options{Namespace: ns})
}

func TestConformance(t *testing.T) {
	var n atomic.Int32
	inventorytest.Run(t, inventorytest.HarnessFunc(func(_ context.Context, t testing.TB) inventory.Shard {
		return newShard(t, int(n.Add(1)))
	}))
}

func TestNamespacesAreSeparate(t *testing.T) {
	ctx := t.Context()
	a, b := newShard(t, 0), newShard(t, 0)
	_, err := a.Publish(ctx, inventorytest.Write("h1", time.Hour, inventorytest.Obj("x", "1")))
	require.NoError(t, err)
	got := inventorytest.ScanAll(ctx, t, b, &inventory.ScanParams{})
	require.Empty(t, got)
	require.Len(t, inventorytest.ScanAll(ctx, t, a, &inventory.ScanParams{}), 1)
}

func BenchmarkScan(b *testing.B) {
	inventorytest.BenchmarkScan(b, inventorytest.HarnessFunc(func(_ context.Context, t testing.TB) inventory.Shard {
		return newShard(t, 0)
	}), 2000)
}
