package redisshard_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
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

// ownRedis is a redis-server started by a test, so that the test may kill
// it (the servers of scripts/test.sh are shared).
type ownRedis struct {
	addr string
	cmd  *exec.Cmd
}

// startRedis starts a private redis-server on a free loopback port, with
// extra arguments. It skips loudly (fails under CI) when redis-server is
// not installed, and only runs where the test script provides its
// servers, like every other Redis test.
func startRedis(t testing.TB, extra ...string) *ownRedis {
	t.Helper()
	testenv.Redis(t)
	bin := testenv.Tool(t, "redis-server", "redis-server")
	for try := 0; try < 5; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		require.NoError(t, l.Close())
		dir := t.TempDir()
		args := append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", dir + "/redis.log"}, extra...)
		cmd := exec.Command(bin, args...)
		require.NoError(t, cmd.Start())
		r := &ownRedis{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd}
		t.Cleanup(r.kill)
		c := redis.NewClient(&redis.Options{Addr: r.addr, MaxRetries: -1})
		ok := false
		for i := 0; i < 50; i++ {
			if c.Ping(context.Background()).Err() == nil {
				ok = true
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = c.Close()
		if ok {
			return r
		}
		r.kill()
	}
	t.Fatal("redis-server did not start")
	return nil
}

func (r *ownRedis) kill() {
	if r.cmd.Process != nil && r.cmd.ProcessState == nil {
		_ = r.cmd.Process.Kill()
		_ = r.cmd.Wait()
	}
}

// faultGroup starts n private servers as one replica group and returns
// them with a pool over them (small scan batches, quick timeouts).
func faultGroup(t testing.TB, n int) ([]*ownRedis, inventory.Group, *inventory.Pool) {
	g := inventory.Group{Name: "core1", Site: "dc1", Hosts: []string{"*"}}
	var rs []*ownRedis
	for range n {
		r := startRedis(t)
		rs = append(rs, r)
		g.Servers = append(g.Servers, r.addr)
	}
	pool := inventory.NewPool(redisshard.Connector(&redis.Options{DialTimeout: time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DialerRetries: 1}, &redisshard.Options{BatchSize: 20}), 0)
	t.Cleanup(func() { _ = pool.Close() })
	return rs, g, pool
}

func byAddr(rs []*ownRedis, addr string) *ownRedis {
	for _, r := range rs {
		if r.addr == addr {
			return r
		}
	}
	return nil
}

func TestFaultKillServerDuringExtract(t *testing.T) {
	ctx := t.Context()
	rs, g, pool := faultGroup(t, 2)
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{MinReplicas: 2})
	require.NoError(t, err)
	const hosts = 400
	for i := range hosts {
		host := fmt.Sprintf("host%04d.dc1", i)
		body := strings.Repeat(fmt.Sprintf("net.ipv4.conf.eth%d.rp_filter = 1\n", i), 50) + "net.core.netdev_budget = 300\n"
		_, err := pub.Publish(ctx, &inventory.PublishParams{Group: g, Host: host, Objects: []inventory.Object{inventorytest.Obj("sysctl-a", body)}})
		require.NoError(t, err)
	}
	topo := &inventory.Topology{Groups: []inventory.Group{g}}
	ex := inventory.NewExtractor(topo, pool, &inventory.ExtractorConfig{Workers: 1})
	x, err := ex.Extract(ctx, &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "sysctl-a", Grep: "netdev_budget"})
	require.NoError(t, err)
	victim := x.Servers()[0]
	seen := map[string]bool{}
	for r := range x.All(ctx) {
		if len(seen) == 0 {
			byAddr(rs, victim).kill()
		}
		require.False(t, seen[r.Host], "%s twice", r.Host)
		seen[r.Host] = true
		require.Equal(t, []string{"net.core.netdev_budget = 300"}, r.Lines)
	}
	require.NoError(t, x.Err())
	require.Len(t, seen, hosts, "the extract stays complete")
	ps := x.Problems()
	require.Len(t, ps, 1, "%v", ps)
	require.Equal(t, inventory.ProblemFailover, ps[0].Kind)
	require.Equal(t, victim, ps[0].Server)
	require.NotEqual(t, victim, ps[0].Replacement)
}

func TestFaultKillServerDuringPublish(t *testing.T) {
	ctx := t.Context()
	rs, g, pool := faultGroup(t, 3)
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{MinReplicas: 2, WriteTimeout: 3 * time.Second})
	require.NoError(t, err)
	victim := rs[1]
	missed := 0
	for i := range 60 {
		if i == 20 {
			victim.kill()
		}
		host := fmt.Sprintf("host%04d.dc1", i)
		rep, err := pub.Publish(ctx, &inventory.PublishParams{Group: g, Host: host, Objects: []inventory.Object{inventorytest.Obj("uname-a", "Linux "+host+"\n")}})
		require.NoError(t, err, "the publish succeeds on the other two")
		if i < 20 {
			require.Empty(t, rep.Missed())
			continue
		}
		require.Equal(t, []string{victim.addr}, rep.Missed(), "the report says which replica missed it")
		missed++
	}
	require.Equal(t, 40, missed)
	// The survivors hold everything.
	for _, r := range []*ownRedis{rs[0], rs[2]} {
		s, err := pool.Shard(ctx, r.addr)
		require.NoError(t, err)
		require.Len(t, inventorytest.ScanAll(ctx, t, s, &inventory.ScanParams{}), 60)
	}
	// With the next one down too, MinReplicas 2 is not met.
	rs[2].kill()
	rep, err := pub.Publish(ctx, &inventory.PublishParams{Group: g, Host: "late.dc1", Objects: []inventory.Object{inventorytest.Obj("uname-a", "Linux\n")}})
	require.ErrorIs(t, err, inventory.ErrTooFewReplicas)
	require.ElementsMatch(t, []string{rs[1].addr, rs[2].addr}, rep.Missed())
}
