package inventory_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
)

const topoYAML = `
groups:
  - name: core1
    site: dc1
    servers: [10.0.0.1:6379, 10.0.0.2:6379]
    hosts: ["*.dc1.example.com"]
  - name: core2
    site: dc1
    servers: [10.0.0.3:6379]
    hosts: ["db*.dc1.example.net"]
  - name: core3
    site: dc2
    servers: [10.0.1.1:6379]
    hosts: ["*.dc2.example.com"]
`

const topoJSON = `{"groups": [
 {"name": "core1", "site": "dc1", "servers": ["10.0.0.1:6379", "10.0.0.2:6379"], "hosts": ["*.dc1.example.com"]},
 {"name": "core2", "site": "dc1", "servers": ["10.0.0.3:6379"], "hosts": ["db*.dc1.example.net"]},
 {"name": "core3", "site": "dc2", "servers": ["10.0.1.1:6379"], "hosts": ["*.dc2.example.com"]}]}`

func groupNames(gs []inventory.Group) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func checkScopes(t *testing.T, d inventory.Directory) {
	t.Helper()
	ctx := t.Context()
	cases := []struct {
		l    inventory.Lookup
		want []string
	}{
		{inventory.Lookup{Scope: inventory.ScopeLocal, Host: "web1.dc1.example.com"}, []string{"core1"}},
		{inventory.Lookup{Scope: inventory.ScopeLocal, Host: "db7.dc1.example.net"}, []string{"core2"}},
		{inventory.Lookup{Scope: inventory.ScopeSite, Host: "web1.dc2.example.com"}, []string{"core3"}},
		{inventory.Lookup{Scope: inventory.ScopeSite, Site: "dc1"}, []string{"core1", "core2"}},
		{inventory.Lookup{Scope: inventory.ScopeGlobal}, []string{"core1", "core2", "core3"}},
	}
	for _, c := range cases {
		gs, err := d.Resolve(ctx, c.l)
		require.NoError(t, err, "%+v", c.l)
		require.Equal(t, c.want, groupNames(gs), "%+v", c.l)
	}
	for _, l := range []inventory.Lookup{
		{Scope: inventory.ScopeLocal},
		{Scope: inventory.ScopeLocal, Host: "stranger.example.org"},
		{Scope: inventory.ScopeSite, Site: "dc9"},
		{Scope: "galaxy"},
	} {
		_, err := d.Resolve(ctx, l)
		require.ErrorIs(t, err, inventory.ErrInvalid, "%+v", l)
	}
}

func TestTopologyFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, text := range map[string]string{"topology.yaml": topoYAML, "topology.json": topoJSON} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(text), 0o644))
		topo, err := inventory.LoadTopology(p)
		require.NoError(t, err, name)
		checkScopes(t, topo)
	}
	_, err := inventory.LoadTopology(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestTopologyRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"empty":          ``,
		"no groups":      `groups: []`,
		"unknown field":  `{"groups": [{"name": "a", "site": "s", "servers": ["x:1"], "colour": "red"}]}`,
		"no name":        "groups:\n  - site: s\n    servers: [x:1]\n",
		"no site":        "groups:\n  - name: a\n    servers: [x:1]\n",
		"no servers":     "groups:\n  - name: a\n    site: s\n",
		"duplicate":      "groups:\n  - {name: a, site: s, servers: [x:1]}\n  - {name: a, site: s, servers: [y:1]}\n",
		"bad host glob":  "groups:\n  - {name: a, site: s, servers: [x:1], hosts: ['web[1']}\n",
		"bad server":     "groups:\n  - {name: a, site: s, servers: ['x:1,y:2']}\n",
		"not a topology": `[1, 2, 3]`,
	}
	for name, text := range cases {
		_, err := inventory.ParseTopology([]byte(text))
		require.ErrorIs(t, err, inventory.ErrInvalid, name)
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[name]; ok {
		return v, nil
	}
	return nil, errors.New("no such host")
}

func TestDNSDirectory(t *testing.T) {
	t.Parallel()
	d := &inventory.DNSDirectory{Name: "_inventory.example.com", Resolver: fakeResolver{"_inventory.example.com": {
		"group=core3 site=dc2 servers=10.0.1.1:6379 hosts=*.dc2.example.com",
		"group=core1 site=dc1 servers=10.0.0.1:6379,10.0.0.2:6379 hosts=*.dc1.example.com",
		"group=core2 site=dc1 servers=10.0.0.3:6379 hosts=db*.dc1.example.net",
	}}}
	checkScopes(t, d)
	gs, err := d.Resolve(t.Context(), inventory.Lookup{Scope: inventory.ScopeLocal, Host: "a.dc1.example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"10.0.0.1:6379", "10.0.0.2:6379"}, gs[0].Servers)

	bad := &inventory.DNSDirectory{Name: "x", Resolver: fakeResolver{"x": {"group=a site=s servers=h:1 colour=red"}}}
	_, err = bad.Resolve(t.Context(), inventory.Lookup{Scope: inventory.ScopeGlobal})
	require.ErrorIs(t, err, inventory.ErrInvalid)
	missing := &inventory.DNSDirectory{Name: "nowhere", Resolver: fakeResolver{}}
	_, err = missing.Resolve(t.Context(), inventory.Lookup{Scope: inventory.ScopeGlobal})
	require.ErrorContains(t, err, "nowhere")
}
