package main

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/memshard"
)

// fleetCache is the demo's section 12: hosts publish their state to a
// replica group of cache servers (in memory here; redis-server in
// production), and one question is asked of the whole fleet.
func fleetCache(ctx context.Context) error {
	section("12. The fleet state cache: hosts publish, one question answered for the fleet")
	topo := &inventory.Topology{Groups: []inventory.Group{
		{Name: "core1", Site: "dc1", Servers: []string{"cache1", "cache2"}, Hosts: []string{"*.dc1"}},
	}}
	cache1, cache2 := memshard.New(&memshard.Options{Name: "cache1"}), memshard.New(&memshard.Options{Name: "cache2"})
	pool := inventory.StaticPool(map[string]inventory.Shard{"cache1": cache1, "cache2": cache2})
	pub, err := inventory.NewPublisher(pool, &inventory.PublisherConfig{MinReplicas: 1})
	if err != nil {
		return err
	}
	now := time.Now()
	for i := 1; i <= 20; i++ {
		host, budget := fmt.Sprintf("web%02d.dc1", i), 300
		if i%7 == 0 {
			budget = 600 // a few hosts drifted
		}
		sysctl := fmt.Sprintf("kernel.hostname = %s\nnet.core.netdev_budget = %d\nvm.swappiness = 60\n", host, budget)
		objs := []inventory.Object{inventory.NewObject("sysctl-a", inventory.KindCommand, []byte(sysctl), nil, now)}
		rep, err := pub.Publish(ctx, &inventory.PublishParams{Group: topo.Groups[0], Host: host, Objects: objs})
		if err != nil {
			return err
		}
		if i == 1 {
			fmt.Fprintf(out, "%s published sysctl-a to %d of %d replicas\n", host, len(rep.Servers)-len(rep.Missed()), len(rep.Servers))
		}
	}
	fmt.Fprintln(out, "20 hosts published; cache1 goes down, the extract asks cache2")
	cache1.SetUnavailable(true)
	ex := inventory.NewExtractor(topo, pool, nil)
	lines, problems, err := ex.CountLines(ctx, &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal},
		Names: "sysctl-a", Grep: "net.core.netdev_budget"}, true)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "sysops-extract --search sysctl-a --grep net.core.netdev_budget --count:")
	for _, l := range lines {
		hosts := fmt.Sprint(l.Hosts)
		if len(l.Hosts) > 3 {
			hosts = fmt.Sprintf("[%s %s … %d hosts]", l.Hosts[0], l.Hosts[1], len(l.Hosts))
		}
		fmt.Fprintf(out, "%7d %s  %s\n", l.Count, l.Line, hosts)
	}
	fmt.Fprintf(out, "(%d problems reported with the results)\n", len(problems))
	return nil
}
