package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

func extractCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-servers", "x:1"},
		{"-search", "a", "-contents", "-md5sum", "-servers", "x:1"},
		{"-search", "a", "-count", "-servers", "x:1"},
		{"-search", "a", "-count", "-differ", "-grep", "x", "-servers", "x:1"},
		{"-search", "a", "-scope", "world", "-servers", "x:1"},
		{"-search", "a"},
		{"-search", "a", "-servers", "x:1", "-topology", "t.yaml"},
		{"-nope"},
		{"-search", "a", "extra"},
	} {
		code, _, stderr := extractCmd(t, args...)
		require.Equal(t, exitUsage, code, "%v: %s", args, stderr)
	}
	code, _, stderr := extractCmd(t, "-search", "a", "-servers", "127.0.0.1:1")
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "no live server")
}

func nsName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "extract-test-" + hex.EncodeToString(b[:])
}

// publish writes n hosts (web00.dc1 …) through the library; web03 has a
// different netdev_budget.
func publish(t *testing.T, servers []string, ns string, n int) {
	t.Helper()
	pool := inventory.NewPool(redisshard.Connector(nil, &redisshard.Options{Namespace: ns}), 0)
	t.Cleanup(func() { _ = pool.Close() })
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{TTL: time.Hour, MinReplicas: len(servers)})
	require.NoError(t, err)
	g := inventory.Group{Name: "g", Site: "s", Servers: servers}
	for i := range n {
		host := fmt.Sprintf("web%02d.dc1", i)
		budget := 300
		if i == 3 {
			budget = 600
		}
		objs := []inventory.Object{
			inventorytest.Obj("sysctl-a", fmt.Sprintf("kernel.hostname = %s\nnet.core.netdev_budget = %d\n", host, budget)),
			inventorytest.Obj("/etc/resolv.conf", "nameserver 10.0.0.53\n"),
		}
		_, err := pub.Publish(t.Context(), &inventory.PublishParams{Group: g, Host: host, Objects: objs})
		require.NoError(t, err)
	}
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: servers[0]})
		defer c.Close()
		for _, addr := range servers {
			c := redis.NewClient(&redis.Options{Addr: addr})
			it := c.Scan(context.Background(), 0, ns+":*", 1000).Iterator()
			for it.Next(context.Background()) {
				c.Del(context.Background(), it.Val())
			}
			_ = c.Close()
		}
	})
}

func TestExtractRedis(t *testing.T) {
	addrs := testenv.Redis(t)
	ns := nsName()
	publish(t, addrs[:2], ns, 10)
	base := []string{"-servers", strings.Join(addrs[:2], ","), "-namespace", ns, "-progress", "never"}
	x := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := extractCmd(t, append(append([]string{}, base...), args...)...)
		require.Equal(t, exitOK, code, stderr)
		require.Empty(t, stderr)
		return stdout
	}
	require.Equal(t, "      9 net.core.netdev_budget = 300\n      1 net.core.netdev_budget = 600\n",
		x("-search", "sysctl-a", "-grep", "net.core.netdev_budget", "-count"))
	require.Equal(t, "      9 net.core.netdev_budget = 300\n      1 net.core.netdev_budget = 600\n",
		x("-search", "sysctl", "-regexp", `^net\.core\.netdev_budget `, "-count"), "a search without wildcard matches names containing it")

	out := x("-search", "sysctl-a", "-grep", "netdev_budget", "-differ")
	require.Contains(t, out, "10 objects, 2 different values:")
	require.Contains(t, out, "        web03.dc1#sysctl-a\n")
	require.Contains(t, x("-search", "/etc/resolv.conf", "-differ"), "all 10 objects have the same value")

	out = x("-search", "*", "-hosts", "web0[12].dc1", "-list-files")
	require.ElementsMatch(t, []string{"web01.dc1#/etc/resolv.conf", "web01.dc1#sysctl-a", "web02.dc1#/etc/resolv.conf", "web02.dc1#sysctl-a"}, strings.Fields(out))

	out = x("-search", "sysctl-a", "-hosts", "web05.dc1", "-contents", "-prefix-hostnames")
	require.Equal(t, "web05.dc1: kernel.hostname = web05.dc1\nweb05.dc1: net.core.netdev_budget = 300\n", out)

	out = x("-search", "/etc/resolv.conf", "-hosts", "web05.dc1", "-md5sum")
	require.Equal(t, inventorytest.Obj("/x", "nameserver 10.0.0.53\n").MD5Hex()+"  web05.dc1#/etc/resolv.conf\n", out)
	require.Regexp(t, `^web05.dc1#/etc/resolv.conf -rw-r--r-- size=21 uid=0 gid=0 mtime=`, x("-search", "/etc/resolv.conf", "-hosts", "web05.dc1", "-stat"))
	require.Equal(t, "       1        2       21 web05.dc1#/etc/resolv.conf\n", x("-search", "/etc/resolv.conf", "-hosts", "web05.dc1", "-wordcount"))
	require.Contains(t, x("-search", "/etc/resolv.conf", "-hosts", "web05.dc1", "-time"), "2026-03-01T12:00:00Z web05.dc1#/etc/resolv.conf")

	out = x("-search", "sysctl-a", "-hosts", "web0[34].dc1", "-wordcount", "-json")
	var rows []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		rows = append(rows, m)
	}
	require.Len(t, rows, 2)
	require.EqualValues(t, 2, rows[0]["lines"])
	require.Equal(t, "command", rows[0]["kind"])

	// The progress line, forced on (stderr is no terminal here), is erased
	// at the end and leaves stdout alone.
	code, stdout, stderr := extractCmd(t, append(append([]string{}, base[:len(base)-2]...), "-progress", "always", "-search", "sysctl-a", "-grep", "netdev_budget =", "-count")...)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "      9 net.core.netdev_budget = 300\n      1 net.core.netdev_budget = 600\n", stdout)
	require.True(t, strings.HasSuffix(stderr, "\r\033[K"), "stderr: %q", stderr)

	out = x("-search", "sysctl-a", "-grep", "netdev", "-count", "-json")
	var counts []inventory.LineCount
	require.NoError(t, json.Unmarshal([]byte(out), &counts))
	require.Equal(t, 9, counts[0].Count)
}

func TestExtractLegacy(t *testing.T) {
	addrs := testenv.Redis(t)
	testenv.Tool(t, "bzip2", "bzip2") // the sysops-api fixtures are compressed with it
	c := redis.NewClient(&redis.Options{Addr: addrs[0], DB: inventory.LegacyDB})
	defer c.Close()
	pfx := nsName()
	var keys []string
	t.Cleanup(func() { _ = c.Del(context.Background(), keys...).Err() })
	for i := range 5 {
		o := inventorytest.Obj("sysctl-a", fmt.Sprintf("net.core.netdev_budget = %d\n", 300+100*(i/4)))
		o.Host = fmt.Sprintf("%s-h%d", pfx, i)
		fields, err := inventorytest.EncodeLegacy(&o)
		require.NoError(t, err)
		k := inventory.LegacyKey(inventory.Key{Host: o.Host, Name: o.Name}, o.Kind)
		keys = append(keys, k)
		require.NoError(t, c.RPush(t.Context(), k, fields[0], fields[1], fields[2], fields[3], fields[4]).Err())
	}
	code, stdout, stderr := extractCmd(t, "-servers", addrs[0], "-legacy", "-hosts", pfx+"-*", "-search", "sysctl-a", "-grep", "netdev_budget", "-count")
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "      4 net.core.netdev_budget = 300\n      1 net.core.netdev_budget = 400\n", stdout)
}
