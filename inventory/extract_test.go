package inventory_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/memshard"
)

// fleet is a set of memshard groups behind a static topology.
type fleet struct {
	shards map[string]*memshard.Shard
	topo   *inventory.Topology
	pool   *inventory.Pool
}

// newFleet makes groups named g1, g2, … of n servers each (addresses
// g1-s1, …), serving hosts *.g1, *.g2, …
func newFleet(t testing.TB, groups, n, batch int) *fleet {
	f := &fleet{shards: map[string]*memshard.Shard{}, topo: &inventory.Topology{}}
	shards := map[string]inventory.Shard{}
	for g := 1; g <= groups; g++ {
		grp := inventory.Group{Name: fmt.Sprintf("g%d", g), Site: "dc1", Hosts: []string{fmt.Sprintf("*.g%d", g)}}
		for s := 1; s <= n; s++ {
			addr := fmt.Sprintf("g%d-s%d", g, s)
			m := memshard.New(&memshard.Options{Name: addr, BatchSize: batch})
			f.shards[addr], shards[addr] = m, m
			grp.Servers = append(grp.Servers, addr)
		}
		f.topo.Groups = append(f.topo.Groups, grp)
	}
	require.NoError(t, f.topo.Validate())
	f.pool = inventory.StaticPool(shards)
	return f
}

func (f *fleet) group(t testing.TB, host string) inventory.Group {
	gs, err := f.topo.Resolve(t.Context(), inventory.Lookup{Scope: inventory.ScopeLocal, Host: host})
	require.NoError(t, err)
	return gs[0]
}

func sysctl(host string, budget int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kernel.hostname = %s\n", host)
	for i := range 40 {
		fmt.Fprintf(&b, "net.ipv4.conf.eth%d.rp_filter = 1\n", i)
	}
	fmt.Fprintf(&b, "net.core.netdev_budget = %d\nnet.core.netdev_budget_usecs = 8000\nvm.swappiness = 60\n", budget)
	return b.String()
}

// publishHosts publishes n hosts of group g; hosts in odd list get a
// netdev_budget of 600 instead of 300.
func publishHosts(t testing.TB, f *fleet, g, n int, odd ...int) []string {
	t.Helper()
	pub, err := inventory.NewPublisher(f.pool, nil)
	require.NoError(t, err)
	var hosts []string
	for i := range n {
		host := fmt.Sprintf("host%04d.g%d", i, g)
		budget := 300
		if slices.Contains(odd, i) {
			budget = 600
		}
		objs := []inventory.Object{
			inventorytest.Obj("sysctl-a", sysctl(host, budget)),
			inventorytest.Obj("uname-a", "Linux "+host+" 6.1.0-18-amd64 x86_64 GNU/Linux\n"),
			inventorytest.Obj("/etc/sysctl.conf", "vm.swappiness = 60\n"),
		}
		_, err := pub.Publish(t.Context(), &inventory.PublishParams{Group: f.group(t, host), Host: host, Objects: objs})
		require.NoError(t, err)
		hosts = append(hosts, host)
	}
	return hosts
}

func collect(t testing.TB, x *inventory.Extraction) []*inventory.Result {
	t.Helper()
	var out []*inventory.Result
	for r := range x.All(t.Context()) {
		out = append(out, r)
	}
	require.NoError(t, x.Err())
	return out
}

func resultKeys(rs []*inventory.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Host+"#"+r.Name)
	}
	slices.Sort(out)
	return out
}

func TestExtractGrepCountCompare(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	f := newFleet(t, 2, 2, 16)
	hosts := publishHosts(t, f, 1, 60, 5, 17, 42)
	hosts = append(hosts, publishHosts(t, f, 2, 40)...)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	global := inventory.Lookup{Scope: inventory.ScopeGlobal}

	lines, problems, err := ex.CountLines(ctx, &inventory.Query{Lookup: global, Names: "sysctl-a", Grep: "net.core.netdev_budget ="}, true)
	require.NoError(t, err)
	require.Empty(t, problems)
	require.Len(t, lines, 2)
	require.Equal(t, inventory.LineCount{Line: "net.core.netdev_budget = 300", Count: 97}, inventory.LineCount{Line: lines[0].Line, Count: lines[0].Count})
	require.Equal(t, "net.core.netdev_budget = 600", lines[1].Line)
	require.Equal(t, []string{"host0005.g1", "host0017.g1", "host0042.g1"}, lines[1].Hosts)

	cmp, _, err := ex.Compare(ctx, &inventory.Query{Lookup: global, Names: "sysctl-a", GrepRegexp: `^net\.core\.netdev_budget\s`})
	require.NoError(t, err)
	require.False(t, cmp.Same())
	require.Equal(t, 100, cmp.Total)
	require.Equal(t, []inventory.Key{{Host: "host0005.g1", Name: "sysctl-a"}, {Host: "host0017.g1", Name: "sysctl-a"}, {Host: "host0042.g1", Name: "sysctl-a"}}, cmp.Differing())

	same, _, err := ex.Compare(ctx, &inventory.Query{Lookup: global, Names: "/etc/sysctl.conf"})
	require.NoError(t, err)
	require.True(t, same.Same(), "every host has the same sysctl.conf")
	require.Equal(t, 100, same.Total)

	// Keys only, scoped by site and host glob.
	x, err := ex.Extract(ctx, &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeLocal, Host: "any.g2"}, Names: "*", Hosts: "host001?.g2"})
	require.NoError(t, err)
	got := collect(t, x)
	require.Len(t, got, 30)
	for _, r := range got {
		require.Nil(t, r.Contents)
		require.Equal(t, [16]byte{}, r.MD5, "metadata not asked for")
	}

	// Metadata without contents; then contents.
	x, err = ex.Extract(ctx, &inventory.Query{Lookup: global, Names: "uname-a", Hosts: "host0001.*", Fields: inventory.FieldsMeta})
	require.NoError(t, err)
	got = collect(t, x)
	require.Equal(t, []string{"host0001.g1#uname-a", "host0001.g2#uname-a"}, resultKeys(got))
	want := inventorytest.Obj("uname-a", "Linux host0001.g1 6.1.0-18-amd64 x86_64 GNU/Linux\n")
	for _, r := range got {
		if r.Host == "host0001.g1" {
			require.Equal(t, want.MD5, r.MD5)
			require.Equal(t, want.Counts, r.Counts)
			require.Equal(t, inventory.KindCommand, r.Kind)
			require.Nil(t, r.Contents)
		}
	}
	x, err = ex.Extract(ctx, &inventory.Query{Lookup: global, Names: "uname-a", Hosts: "host0001.g1", Fields: inventory.FieldContents})
	require.NoError(t, err)
	got = collect(t, x)
	require.Len(t, got, 1)
	require.Equal(t, string(want.Contents), string(got[0].Contents))
	require.Contains(t, f.topo.Groups[0].Servers, got[0].Server)
	_ = hosts
}

func TestExtractRejectsBadQuery(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1, 0)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	for _, q := range []inventory.Query{
		{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, GrepRegexp: "("},
		{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "[x"},
		{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Hosts: "[x"},
		{Lookup: inventory.Lookup{Scope: "world"}},
	} {
		_, err := ex.Extract(t.Context(), &q)
		require.ErrorIs(t, err, inventory.ErrInvalid, "%+v", q)
	}
}

func TestExtractFailover(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 3, 5)
	hosts := publishHosts(t, f, 1, 200)
	ex := inventory.NewExtractor(f.topo, f.pool, &inventory.ExtractorConfig{Workers: 2})
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "sysctl-a", Grep: "netdev_budget ="})
	require.NoError(t, err)
	first := x.Servers()[0]
	var got []*inventory.Result
	for r := range x.All(t.Context()) {
		if len(got) == 0 {
			f.shards[first].SetUnavailable(true)
		}
		got = append(got, r)
	}
	require.NoError(t, x.Err())
	require.Len(t, got, len(hosts), "the extract stays complete")
	require.Len(t, slices.Compact(resultKeys(got)), len(hosts), "no result twice")
	ps := x.Problems()
	require.Len(t, ps, 1)
	require.Equal(t, inventory.ProblemFailover, ps[0].Kind)
	require.Equal(t, first, ps[0].Server)
	require.NotEqual(t, first, ps[0].Replacement)
	require.ErrorIs(t, ps[0].Err, memshard.ErrUnavailable)
	moved := 0
	for _, r := range got {
		if r.Server == ps[0].Replacement {
			moved++
		}
	}
	require.Positive(t, moved, "the rest came from the replacement")
}

func TestExtractGaps(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, 2, 0)
	publishHosts(t, f, 1, 5)
	publishHosts(t, f, 2, 5)
	for _, s := range f.topo.Groups[1].Servers {
		f.shards[s].SetUnavailable(true)
	}
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	q := inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "uname-a"}
	_, err := ex.Extract(t.Context(), &q)
	require.ErrorIs(t, err, inventory.ErrNoServer)
	require.ErrorContains(t, err, `"g2"`)
	require.ErrorContains(t, err, "g2-s1")

	q.AllowGaps = true
	x, err := ex.Extract(t.Context(), &q)
	require.NoError(t, err)
	require.Len(t, collect(t, x), 5)
	ps := x.Problems()
	require.Len(t, ps, 1)
	require.Equal(t, inventory.ProblemGap, ps[0].Kind)
	require.Equal(t, "g2", ps[0].Group)
}

func TestExtractWholeGroupFailsMidway(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 2, 3)
	publishHosts(t, f, 1, 100)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "sysctl-a", Grep: "x"})
	require.NoError(t, err)
	n := 0
	for range x.All(t.Context()) {
		if n == 0 {
			for _, m := range f.shards {
				m.SetUnavailable(true)
			}
		}
		n++
	}
	require.Less(t, n, 100)
	require.ErrorIs(t, x.Err(), inventory.ErrNoServer)
}

func TestExtractMalformedRecords(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1, 0)
	publishHosts(t, f, 1, 3)
	bad := &inventory.HostWrite{Host: "bad.g1", TTL: time.Hour, Objects: []inventory.EncodedObject{
		{Name: "sysctl-a", Record: []byte("FK\x01\x00garbage")},
		{Name: "uname-a", Record: []byte("not a record at all")},
	}}
	_, err := f.shards["g1-s1"].Publish(t.Context(), bad)
	require.NoError(t, err)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	for _, q := range []inventory.Query{
		{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "*-a", Grep: "Linux"},
		{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Names: "*-a", Fields: inventory.FieldMD5},
	} {
		x, err := ex.Extract(t.Context(), &q)
		require.NoError(t, err)
		got := collect(t, x)
		require.Len(t, got, 6, "the good records all come")
		ps := x.Problems()
		require.Len(t, ps, 2)
		for _, p := range ps {
			require.Equal(t, inventory.ProblemRecord, p.Kind)
			require.Equal(t, "bad.g1", p.Key.Host)
			require.ErrorIs(t, p.Err, inventory.ErrMalformed)
			require.Contains(t, p.String(), "bad.g1#")
		}
	}
}

func TestExtractDeduplicatesAcrossGroups(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, 1, 0)
	pub, err := inventory.NewPublisher(f.pool, nil)
	require.NoError(t, err)
	// A host moving between groups is in both for a while.
	for _, g := range f.topo.Groups {
		_, err := pub.Publish(t.Context(), &inventory.PublishParams{Group: g, Host: "mover.g1", Objects: []inventory.Object{inventorytest.Obj("uname-a", "Linux\n")}})
		require.NoError(t, err)
	}
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}})
	require.NoError(t, err)
	require.Equal(t, []string{"mover.g1#uname-a"}, resultKeys(collect(t, x)))
}

func TestExtractStopsEarly(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, 1, 2)
	publishHosts(t, f, 1, 50)
	publishHosts(t, f, 2, 50)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Grep: "a"})
	require.NoError(t, err)
	n := 0
	for range x.All(t.Context()) {
		n++
		if n == 3 {
			break
		}
	}
	require.Equal(t, 3, n)
	require.NoError(t, x.Err())
	// A second iteration is refused.
	for range x.All(t.Context()) {
		t.Fatal("second iteration yielded")
	}
	require.Error(t, x.Err())
}

func TestExtractCanceled(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1, 1)
	publishHosts(t, f, 1, 30)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	for range x.All(ctx) {
		once.Do(cancel)
	}
	require.ErrorIs(t, x.Err(), context.Canceled)
}

func TestExtractBoundsRecordProblems(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1, 0)
	for i := range inventory.MaxRecordProblems + 5 {
		bad := &inventory.HostWrite{Host: fmt.Sprintf("bad%04d.g1", i), TTL: time.Hour, Objects: []inventory.EncodedObject{{Name: "x", Record: []byte("junk")}}}
		_, err := f.shards["g1-s1"].Publish(t.Context(), bad)
		require.NoError(t, err)
	}
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Fields: inventory.FieldMD5})
	require.NoError(t, err)
	require.Empty(t, collect(t, x))
	require.Len(t, x.Problems(), inventory.MaxRecordProblems)
	require.Equal(t, 5, x.Dropped())
}
