package redisshard_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

// startCluster starts three private redis-server in cluster mode and
// joins them into one Redis Cluster (redis-cli --cluster create), its 16,384
// slots spread over the three.
func startCluster(t *testing.T) []string {
	t.Helper()
	var addrs []string
	for range 3 {
		r := startRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		addrs = append(addrs, r.addr)
	}
	cli := testenv.Tool(t, "redis-cli", "redis-tools")
	out, err := exec.Command(cli, append(append([]string{"--cluster", "create"}, addrs...), "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	// Every node must see the cluster up (each learns it through the
	// cluster bus, one after the other), or a command routed to a late one
	// is refused with CLUSTERDOWN.
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr})
		require.Eventually(t, func() bool {
			info, err := c.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		}, 30*time.Second, 50*time.Millisecond, "node %s does not see the cluster up", addr)
		_ = c.Close()
	}
	return addrs
}

// TestClusterConformance runs the shard suite on a Redis Cluster as one
// shard: index and dictionary keys of one object name share a hash tag, so
// every multi-key command stays on one node.
func TestClusterConformance(t *testing.T) {
	addrs := startCluster(t)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	inventorytest.Run(t, inventorytest.HarnessFunc(func(_ context.Context, t testing.TB) inventory.Shard {
		return redisshard.New(c, &redisshard.Options{Namespace: namespace()})
	}))
}
