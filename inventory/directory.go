package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Scope says how much of the fleet an extraction covers.
type Scope string

const (
	// ScopeLocal is the replica group of the asking host.
	ScopeLocal Scope = "local"
	// ScopeSite is every group of one site.
	ScopeSite Scope = "site"
	// ScopeGlobal is every group.
	ScopeGlobal Scope = "global"
)

// ParseScope checks a scope name.
func ParseScope(s string) (Scope, error) {
	switch Scope(s) {
	case ScopeLocal, ScopeSite, ScopeGlobal:
		return Scope(s), nil
	}
	return "", fmt.Errorf("%w: scope %q is not local, site or global", ErrInvalid, s)
}

// Group is a replica group: servers that each hold a full copy of what
// the group's hosts publish.
type Group struct {
	// Name identifies the group ("core1").
	Name string `json:"name" yaml:"name"`
	// Site is the site the group serves ("dc1").
	Site string `json:"site" yaml:"site"`
	// Servers are the addresses of the group's cache servers (host:port).
	Servers []string `json:"servers" yaml:"servers"`
	// Hosts are globs ([Pattern]) of the hosts that publish to the group.
	Hosts []string `json:"hosts,omitempty" yaml:"hosts,omitempty"`
}

// Serves reports whether host publishes to the group.
func (g *Group) Serves(host string) bool {
	for _, h := range g.Hosts {
		if p, err := CompilePattern(h); err == nil && p.Match(host) {
			return true
		}
	}
	return false
}

// Lookup asks a Directory for the groups of a scope.
type Lookup struct {
	Scope Scope
	// Site selects the site of ScopeSite; empty means the asking host's.
	Site string
	// Host is the asking host, which picks the group of ScopeLocal (and
	// the site of ScopeSite when Site is empty).
	Host string
}

// Directory resolves a scope to replica groups. Implementations:
// [Topology] (a static file) and [DNSDirectory] (DNS TXT records).
type Directory interface {
	// Resolve returns the groups of l.Scope, in a stable order. It returns
	// an error wrapping ErrInvalid when the scope names no group.
	Resolve(ctx context.Context, l Lookup) ([]Group, error)
}

// Topology is a static Directory: a list of groups, usually loaded from a
// JSON or YAML file with LoadTopology:
//
//	groups:
//	  - name: core1
//	    site: dc1
//	    servers: [10.0.0.1:6379, 10.0.0.2:6379]
//	    hosts: ["*.dc1.example.com"]
type Topology struct {
	Groups []Group `json:"groups" yaml:"groups"`
}

var _ Directory = (*Topology)(nil)

// Validate checks that every group has a unique name, a site, servers and
// valid host globs.
func (t *Topology) Validate() error {
	if len(t.Groups) == 0 {
		return fmt.Errorf("%w: topology has no groups", ErrInvalid)
	}
	seen := map[string]bool{}
	for i, g := range t.Groups {
		switch {
		case g.Name == "":
			return fmt.Errorf("%w: topology group %d has no name", ErrInvalid, i+1)
		case seen[g.Name]:
			return fmt.Errorf("%w: topology group %q appears twice", ErrInvalid, g.Name)
		case g.Site == "":
			return fmt.Errorf("%w: topology group %q has no site", ErrInvalid, g.Name)
		case len(g.Servers) == 0:
			return fmt.Errorf("%w: topology group %q has no servers", ErrInvalid, g.Name)
		}
		for _, s := range g.Servers {
			if s == "" || strings.ContainsAny(s, " \t,") {
				return fmt.Errorf("%w: topology group %q has a bad server address %q", ErrInvalid, g.Name, s)
			}
		}
		for _, h := range g.Hosts {
			if _, err := CompilePattern(h); err != nil {
				return fmt.Errorf("topology group %q: %w", g.Name, err)
			}
		}
		seen[g.Name] = true
	}
	return nil
}

// ParseTopology reads a topology in JSON or YAML (YAML is a superset) and
// validates it.
func ParseTopology(data []byte) (*Topology, error) {
	var t Topology
	trimmed := strings.TrimSpace(string(data))
	var err error
	if strings.HasPrefix(trimmed, "{") {
		dec := json.NewDecoder(strings.NewReader(trimmed))
		dec.DisallowUnknownFields()
		err = dec.Decode(&t)
	} else {
		dec := yaml.NewDecoder(strings.NewReader(trimmed))
		dec.KnownFields(true)
		err = dec.Decode(&t)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: parse topology: %v", ErrInvalid, err)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// LoadTopology reads and validates a topology file (JSON or YAML).
func LoadTopology(path string) (*Topology, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load topology: %w", err)
	}
	t, err := ParseTopology(data)
	if err != nil {
		return nil, fmt.Errorf("load topology %s: %w", filepath.Base(path), err)
	}
	return t, nil
}

// Resolve resolves l against the topology.
func (t *Topology) Resolve(ctx context.Context, l Lookup) ([]Group, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return resolve(t.Groups, l)
}

func resolve(all []Group, l Lookup) ([]Group, error) {
	local := func() (*Group, error) {
		if l.Host == "" {
			return nil, fmt.Errorf("%w: scope %s needs the asking host's name", ErrInvalid, l.Scope)
		}
		for i := range all {
			if all[i].Serves(l.Host) {
				return &all[i], nil
			}
		}
		return nil, fmt.Errorf("%w: no group serves host %q", ErrInvalid, l.Host)
	}
	switch l.Scope {
	case ScopeLocal:
		g, err := local()
		if err != nil {
			return nil, err
		}
		return []Group{*g}, nil
	case ScopeSite:
		site := l.Site
		if site == "" {
			g, err := local()
			if err != nil {
				return nil, err
			}
			site = g.Site
		}
		var out []Group
		for _, g := range all {
			if g.Site == site {
				out = append(out, g)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: no group in site %q", ErrInvalid, site)
		}
		return out, nil
	case ScopeGlobal:
		if len(all) == 0 {
			return nil, fmt.Errorf("%w: no groups", ErrInvalid)
		}
		return slices.Clone(all), nil
	}
	return nil, fmt.Errorf("%w: scope %q is not local, site or global", ErrInvalid, l.Scope)
}

// TXTResolver looks up DNS TXT records; *net.Resolver is one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// DNSDirectory is a Directory kept in DNS: each TXT record of Name
// describes one group as space-separated key=value pairs,
//
//	"group=core1 site=dc1 servers=10.0.0.1:6379,10.0.0.2:6379 hosts=*.dc1.example.com"
//
// (hosts optional, comma-separated globs). Records are read at every
// lookup.
type DNSDirectory struct {
	// Name is the DNS name holding the records, e.g.
	// "_inventory.example.com".
	Name string
	// Resolver does the lookups; nil means net.DefaultResolver.
	Resolver TXTResolver
}

var _ Directory = (*DNSDirectory)(nil)

// Resolve reads the TXT records and resolves l against them.
func (d *DNSDirectory) Resolve(ctx context.Context, l Lookup) ([]Group, error) {
	r := d.Resolver
	if r == nil {
		r = defaultResolver
	}
	txts, err := r.LookupTXT(ctx, d.Name)
	if err != nil {
		return nil, fmt.Errorf("look up inventory groups in TXT %s: %w", d.Name, err)
	}
	t, err := ParseTXTTopology(txts)
	if err != nil {
		return nil, fmt.Errorf("TXT %s: %w", d.Name, err)
	}
	slices.SortFunc(t.Groups, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return resolve(t.Groups, l)
}

// ParseTXTTopology reads the TXT records of a DNSDirectory.
func ParseTXTTopology(txts []string) (*Topology, error) {
	var t Topology
	for _, txt := range txts {
		var g Group
		for _, f := range strings.Fields(txt) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("%w: TXT record %q: %q is not key=value", ErrInvalid, txt, f)
			}
			switch k {
			case "group":
				g.Name = v
			case "site":
				g.Site = v
			case "servers":
				g.Servers = strings.Split(v, ",")
			case "hosts":
				g.Hosts = strings.Split(v, ",")
			default:
				return nil, fmt.Errorf("%w: TXT record %q: unknown key %q", ErrInvalid, txt, k)
			}
		}
		t.Groups = append(t.Groups, g)
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}
