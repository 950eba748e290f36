package inventory_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
)

func TestPublishReplicaDown(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 3, 0)
	g := f.topo.Groups[0]
	f.shards["g1-s2"].SetUnavailable(true)
	var mu sync.Mutex
	var seen []inventory.ServerWrite
	pub, err := inventory.NewPublisher(f.pool, &inventory.PublisherConfig{MinReplicas: 2, Observe: func(w inventory.ServerWrite) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, w)
	}})
	require.NoError(t, err)
	objs := []inventory.Object{inventorytest.Obj("uname-a", "Linux\n")}
	rep, err := pub.Publish(t.Context(), &inventory.PublishParams{Group: g, Host: "Web1.G1.", Objects: objs})
	require.NoError(t, err, "two of three replicas took it")
	require.Equal(t, "web1.g1", rep.Host, "hostname normalized")
	require.Equal(t, []string{"g1-s2"}, rep.Missed())
	require.Len(t, seen, 3, "the metrics hook sees every server")
	for _, w := range rep.Servers {
		if w.Server == "g1-s2" {
			require.Error(t, w.Err)
			continue
		}
		require.NoError(t, w.Err)
		require.Equal(t, 1, w.Result.Written)
		require.Positive(t, w.Result.Bytes)
		require.Positive(t, w.Latency)
	}
	require.Equal(t, 1, f.shards["g1-s1"].Len())
	require.Equal(t, 0, f.shards["g1-s2"].Len())

	f.shards["g1-s3"].SetUnavailable(true)
	rep, err = pub.Publish(t.Context(), &inventory.PublishParams{Group: g, Host: "web1.g1", Objects: objs})
	require.ErrorIs(t, err, inventory.ErrTooFewReplicas)
	require.ErrorContains(t, err, "g1-s2, g1-s3")
	require.Equal(t, []string{"g1-s2", "g1-s3"}, rep.Missed())
}

func TestPublishBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 2, 0)
	g := f.topo.Groups[0]
	pub, err := inventory.NewPublisher(f.pool, nil)
	require.NoError(t, err)
	ok := inventorytest.Obj("uname-a", "Linux\n")
	cases := map[string]inventory.PublishParams{
		"bad host":      {Group: g, Host: "-bad-", Objects: []inventory.Object{ok}},
		"duplicate":     {Group: g, Host: "h.g1", Objects: []inventory.Object{ok, ok}},
		"relative file": {Group: g, Host: "h.g1", Objects: []inventory.Object{ok, inventory.NewObject("etc/x", inventory.KindFile, nil, nil, time.Time{})}},
		"unclean file":  {Group: g, Host: "h.g1", Objects: []inventory.Object{inventory.NewObject("/etc/../x", inventory.KindFile, nil, nil, time.Time{})}},
		"control char":  {Group: g, Host: "h.g1", Objects: []inventory.Object{inventory.NewObject("a\nb", inventory.KindCommand, nil, nil, time.Time{})}},
		"no servers":    {Group: inventory.Group{Name: "empty"}, Host: "h.g1", Objects: []inventory.Object{ok}},
	}
	for name, p := range cases {
		_, err := pub.Publish(t.Context(), &p)
		require.ErrorIs(t, err, inventory.ErrInvalid, name)
	}
	for _, s := range f.shards {
		require.Zero(t, s.Len())
	}
	for _, c := range []inventory.PublisherConfig{{TTL: time.Millisecond}, {MinReplicas: -1}, {MaxObjectSize: inventory.MaxContentsSize + 1}} {
		_, err := inventory.NewPublisher(f.pool, &c)
		require.ErrorIs(t, err, inventory.ErrInvalid, "%+v", c)
	}
}

func TestPublishOversize(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1, 0)
	pub, err := inventory.NewPublisher(f.pool, &inventory.PublisherConfig{MaxObjectSize: 100})
	require.NoError(t, err)
	big := inventorytest.Obj("/var/log/syslog", strings.Repeat("x", 500))
	rep, err := pub.Publish(t.Context(), &inventory.PublishParams{Group: f.topo.Groups[0], Host: "h.g1", Objects: []inventory.Object{big}})
	require.NoError(t, err)
	require.Equal(t, []string{"/var/log/syslog"}, rep.Oversize)
	ex := inventory.NewExtractor(f.topo, f.pool, nil)
	x, err := ex.Extract(t.Context(), &inventory.Query{Lookup: inventory.Lookup{Scope: inventory.ScopeGlobal}, Fields: inventory.FieldContents | inventory.FieldsMeta})
	require.NoError(t, err)
	got := collect(t, x)
	require.Len(t, got, 1)
	require.True(t, got[0].Oversize)
	require.Empty(t, got[0].Contents)
	require.Equal(t, int64(500), got[0].Size)
	require.Equal(t, big.MD5, got[0].MD5, "the digest is of the real contents")
}

func TestCollect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc")
	out := filepath.Join(dir, "outgoing")
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, os.MkdirAll(out, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "sysctl.conf"), []byte("vm.swappiness = 10\n"), 0o640))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "big"), []byte(strings.Repeat("y", 300)), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(etc, "sysctl.conf"), filepath.Join(out, "sysctl.conf")))
	require.NoError(t, os.Symlink(filepath.Join(etc, "big"), filepath.Join(out, "big")))
	require.NoError(t, os.Symlink(filepath.Join(etc, "gone"), filepath.Join(out, "dangling")))
	cmds := filepath.Join(dir, "hardware_identification.json")
	data, _ := json.Marshal(map[string]string{"uname-a": "Linux h 6.1\n", "sysctl-a": "vm.swappiness = 10\n"})
	require.NoError(t, os.WriteFile(cmds, data, 0o644))

	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	objs, problems, err := inventory.Collect(context.Background(), &inventory.CollectParams{Dir: out, Commands: cmds, MaxObjectSize: 200, Now: func() time.Time { return now }})
	require.NoError(t, err)
	require.Len(t, problems, 1, "the dangling link")
	require.ErrorContains(t, problems[0], "dangling")
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	realEtc, err := filepath.EvalSymlinks(etc)
	require.NoError(t, err)
	require.Equal(t, []string{realEtc + "/big", realEtc + "/sysctl.conf", "sysctl-a", "uname-a"}, names)
	bigObj, conf, cmd := objs[0], objs[1], objs[3]
	require.True(t, bigObj.Oversize)
	require.Equal(t, int64(300), bigObj.Size)
	require.Equal(t, inventorytest.Obj("/x", strings.Repeat("y", 300)).MD5, bigObj.MD5)
	require.Equal(t, inventory.KindFile, conf.Kind)
	require.Equal(t, os.FileMode(0o640), conf.Stat.Mode)
	require.Equal(t, int64(19), conf.Stat.Size)
	require.Equal(t, inventory.Counts{Lines: 1, Words: 3, Chars: 19}, conf.Counts)
	require.Equal(t, now, conf.Collected)
	require.Equal(t, inventory.KindCommand, cmd.Kind)
	require.Nil(t, cmd.Stat)

	require.NoError(t, os.WriteFile(cmds, []byte(`["not", "an", "object"]`), 0o644))
	_, _, err = inventory.Collect(context.Background(), &inventory.CollectParams{Commands: cmds})
	require.ErrorIs(t, err, inventory.ErrInvalid)
}

func TestPublishMany(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 2, 2, 0)
	g := f.topo.Groups[0]
	pub, err := inventory.NewPublisher(f.pool, &inventory.PublisherConfig{MinReplicas: 2})
	require.NoError(t, err)
	var ps []*inventory.PublishParams
	for _, h := range []string{"a.g1", "b.g1", "c.g1"} {
		ps = append(ps, &inventory.PublishParams{Group: g, Host: h, Objects: []inventory.Object{inventorytest.Obj("uname-a", "Linux "+h+"\n")}})
	}
	reps, err := pub.PublishMany(t.Context(), ps)
	require.NoError(t, err)
	require.Len(t, reps, 3)
	for i, rep := range reps {
		require.Equal(t, ps[i].Host, rep.Host)
		require.Empty(t, rep.Missed())
		require.Equal(t, 1, rep.Servers[1].Result.Written)
	}
	require.Equal(t, 3, f.shards["g1-s2"].Len())

	// Hosts of two groups, or one bad host, write nothing.
	other := &inventory.PublishParams{Group: f.topo.Groups[1], Host: "d.g2", Objects: ps[0].Objects}
	_, err = pub.PublishMany(t.Context(), append(ps[:1:1], other))
	require.ErrorIs(t, err, inventory.ErrInvalid)
	bad := &inventory.PublishParams{Group: g, Host: "bad host", Objects: ps[0].Objects}
	_, err = pub.PublishMany(t.Context(), []*inventory.PublishParams{{Group: g, Host: "e.g1"}, bad})
	require.ErrorIs(t, err, inventory.ErrInvalid)
	require.Equal(t, 3, f.shards["g1-s1"].Len())

	f.shards["g1-s1"].SetUnavailable(true)
	reps, err = pub.PublishMany(t.Context(), ps)
	require.ErrorIs(t, err, inventory.ErrTooFewReplicas)
	require.ErrorContains(t, err, "a.g1, b.g1, c.g1")
	for _, rep := range reps {
		require.Equal(t, []string{"g1-s1"}, rep.Missed())
	}
}
