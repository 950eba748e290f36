package inventory_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/memshard"
)

// A replica group of two in-memory shards: four hosts publish their
// sysctl -a, then one call asks the fleet for the value of
// net.core.netdev_budget, uniq -c style.
func Example() {
	ctx := context.Background()
	topo := &inventory.Topology{Groups: []inventory.Group{
		{Name: "core1", Site: "dc1", Servers: []string{"cache1", "cache2"}, Hosts: []string{"*.dc1"}},
	}}
	pool := inventory.StaticPool(map[string]inventory.Shard{
		"cache1": memshard.New(nil), "cache2": memshard.New(nil),
	})
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{MinReplicas: 2})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, budget := range []int{300, 300, 600, 300} {
		host := fmt.Sprintf("web%d.dc1", i+1)
		out := fmt.Sprintf("kernel.hostname = %s\nnet.core.netdev_budget = %d\nvm.swappiness = 60\n", host, budget)
		objs := []inventory.Object{inventory.NewObject("sysctl-a", inventory.KindCommand, []byte(out), nil, now)}
		if _, err := pub.Publish(ctx, &inventory.PublishParams{Group: topo.Groups[0], Host: host, Objects: objs}); err != nil {
			panic(err)
		}
	}

	ex := inventory.NewExtractor(topo, pool, nil)
	lines, problems, err := ex.CountLines(ctx, &inventory.Query{
		Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal},
		Names:  "sysctl-a",
		Grep:   "net.core.netdev_budget",
	}, true)
	if err != nil {
		panic(err)
	}
	for _, l := range lines {
		fmt.Printf("%7d %s  %v\n", l.Count, l.Line, l.Hosts)
	}
	fmt.Println("problems:", len(problems))
	// Output:
	//       3 net.core.netdev_budget = 300  [web1.dc1 web2.dc1 web4.dc1]
	//       1 net.core.netdev_budget = 600  [web3.dc1]
	// problems: 0
}

// Does every host have the same /etc/resolv.conf? Compare groups the
// objects by digest and lists the hosts that differ.
func ExampleExtractor_Compare() {
	ctx := context.Background()
	topo := &inventory.Topology{Groups: []inventory.Group{{Name: "core1", Site: "dc1", Servers: []string{"cache1"}, Hosts: []string{"*"}}}}
	pool := inventory.StaticPool(map[string]inventory.Shard{"cache1": memshard.New(nil)})
	pub, _ := inventory.NewPublisher(pool, nil)
	for _, h := range []string{"a.dc1", "b.dc1", "c.dc1"} {
		conf := "nameserver 10.0.0.53\n"
		if h == "b.dc1" {
			conf = "nameserver 8.8.8.8\n"
		}
		objs := []inventory.Object{inventory.NewObject("/etc/resolv.conf", inventory.KindFile, []byte(conf), &inventory.FileStat{Mode: 0o644}, time.Time{})}
		if _, err := pub.Publish(ctx, &inventory.PublishParams{Group: topo.Groups[0], Host: h, Objects: objs}); err != nil {
			panic(err)
		}
	}
	ex := inventory.NewExtractor(topo, pool, nil)
	cmp, _, err := ex.Compare(ctx, &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "/etc/resolv.conf"})
	if err != nil {
		panic(err)
	}
	fmt.Println("same everywhere:", cmp.Same())
	fmt.Println("differing:", cmp.Differing())
	// Output:
	// same everywhere: false
	// differing: [b.dc1#/etc/resolv.conf]
}

// A topology file in YAML (JSON works too) resolves scopes to groups.
func ExampleParseTopology() {
	topo, err := inventory.ParseTopology([]byte(`
groups:
  - {name: core1, site: dc1, servers: ["10.0.0.1:6379", "10.0.0.2:6379"], hosts: ["*.dc1.example.com"]}
  - {name: core2, site: dc2, servers: ["10.0.1.1:6379"], hosts: ["*.dc2.example.com"]}
`))
	if err != nil {
		panic(err)
	}
	gs, _ := topo.Resolve(context.Background(), inventory.Lookup{Scope: inventory.ScopeLocal, Host: "web7.dc2.example.com"})
	fmt.Println(gs[0].Name, gs[0].Servers)
	// Output: core2 [10.0.1.1:6379]
}
