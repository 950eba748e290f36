package redisshard_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/redisshard"
)

// TestLegacyExtract writes a sysops-api cache into database 1, as
// sysops-api lays it out, and reads it back through the extractor.
func TestLegacyExtract(t *testing.T) {
	testenv.Tool(t, "bzip2", "bzip2")
	ctx := t.Context()
	c := client(t, 1, inventory.LegacyDB)
	pfx := namespace() // hosts of this test only: the database is shared
	var keys []string
	t.Cleanup(func() {
		if len(keys) > 0 {
			_ = c.Del(t.Context(), keys...).Err()
		}
	})
	want := map[string]inventory.Object{}
	for i := range 30 {
		host := fmt.Sprintf("%s-web%02d.dc1", pfx, i)
		budget := 300
		if i == 7 {
			budget = 600
		}
		for _, o := range []inventory.Object{
			inventorytest.Obj("sysctl-a", fmt.Sprintf("kernel.hostname = %s\nnet.core.netdev_budget = %d\n", host, budget)),
			inventorytest.Obj("/etc/resolv.conf", "nameserver 10.0.0.53\n"),
		} {
			o.Host = host
			fields, err := inventorytest.EncodeLegacy(&o)
			require.NoError(t, err)
			k := inventory.LegacyKey(inventory.Key{Host: host, Name: o.Name}, o.Kind)
			vals := make([]any, len(fields))
			for j, f := range fields {
				vals[j] = f
			}
			require.NoError(t, c.RPush(ctx, k, vals...).Err())
			keys = append(keys, k)
			want[host+"#"+o.Name] = o
		}
	}
	// A temporary key of an insertion under way, and two broken records.
	tmp := pfx + "-web01.dc1$6f1c2b9e-1111-2222-3333-444455556666"
	require.NoError(t, c.RPush(ctx, tmp, "x").Err())
	short := pfx + "-broken.dc1#/etc/hardware_identification.json@sysctl-a"
	require.NoError(t, c.RPush(ctx, short, "only", "three", "fields").Err())
	str := pfx + "-broken2.dc1#/etc/hardware_identification.json@sysctl-a"
	require.NoError(t, c.Set(ctx, str, "a string", 0).Err())
	keys = append(keys, tmp, short, str)

	legacy := redisshard.NewLegacy(c, &redisshard.LegacyOptions{ScanCount: 7})
	require.True(t, legacy.Unordered())
	_, err := legacy.Publish(ctx, &inventory.HostWrite{Host: "h", TTL: time.Hour})
	require.ErrorIs(t, err, inventory.ErrUnsupported)

	topo := &inventory.Topology{Groups: []inventory.Group{{Name: "legacy", Site: "dc1", Servers: []string{"old"}, Hosts: []string{"*"}}}}
	ex := inventory.NewExtractor(topo, inventory.StaticPool(map[string]inventory.Shard{"old": legacy}), nil)
	global := inventory.Lookup{Scope: inventory.ScopeGlobal}

	x, err := ex.Extract(ctx, &inventory.Query{Lookup: global, Hosts: pfx + "-*", Fields: inventory.FieldContents | inventory.FieldsMeta})
	require.NoError(t, err)
	n := 0
	for r := range x.All(ctx) {
		o, ok := want[r.Host+"#"+r.Name]
		require.True(t, ok, "unexpected %s#%s", r.Host, r.Name)
		require.WithinDuration(t, o.Collected, r.Collected, 10*time.Millisecond)
		r.Collected = o.Collected
		require.Equal(t, o, r.Object)
		n++
	}
	require.NoError(t, x.Err())
	require.Equal(t, len(want), n)
	ps := x.Problems()
	require.Len(t, ps, 2, "the two broken records, not the temporary key")
	for _, p := range ps {
		require.Equal(t, inventory.ProblemRecord, p.Kind)
		require.ErrorIs(t, p.Err, inventory.ErrMalformed)
	}

	lines, _, err := ex.CountLines(ctx, &inventory.Query{Lookup: global, Names: "sysctl-a", Hosts: pfx + "-web*", Grep: "netdev_budget"}, true)
	require.NoError(t, err)
	require.Equal(t, []inventory.LineCount{
		{Line: "net.core.netdev_budget = 300", Count: 29},
		{Line: "net.core.netdev_budget = 600", Count: 1, Hosts: []string{pfx + "-web07.dc1"}},
	}, []inventory.LineCount{{Line: lines[0].Line, Count: lines[0].Count}, lines[1]})

	// Listing keys only fetches no list.
	x, err = ex.Extract(ctx, &inventory.Query{Lookup: global, Names: "/etc/*", Hosts: pfx + "-web1?.dc1"})
	require.NoError(t, err)
	n = 0
	for r := range x.All(ctx) {
		require.Equal(t, "/etc/resolv.conf", r.Name)
		require.Equal(t, inventory.KindFile, r.Kind)
		n++
	}
	require.Equal(t, 10, n)
}
