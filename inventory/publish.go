package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	fleetkit "github.com/fleetkit/fleetkit"
)

// Publishing defaults.
const (
	DefaultTTL           = 6 * time.Hour
	DefaultWriteTimeout  = 10 * time.Second
	DefaultMaxObjectSize = 16 << 20
)

// PublisherConfig configures a Publisher. The zero value means defaults.
type PublisherConfig struct {
	// TTL is how long records live without a new publish, so that dead
	// hosts age out; default DefaultTTL.
	TTL time.Duration
	// WriteTimeout bounds the write to each server; default
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MinReplicas is how many servers of the group must take the publish
	// for it to succeed; default 1. It is capped at the group's size.
	MinReplicas int
	// MaxObjectSize is the largest contents stored; a larger object is
	// replaced by a marker (Object.Oversize) keeping its metadata. Default
	// DefaultMaxObjectSize, at most MaxContentsSize.
	MaxObjectSize int64
	// Logger receives one line per failed server; nil means none.
	Logger *slog.Logger
	// Observe, when set, is called once per server write, e.g. to export
	// latency and bytes as metrics. It must be safe for concurrent use.
	Observe func(ServerWrite)
}

// WithDefaults returns c with zero fields set to their defaults.
func (c PublisherConfig) WithDefaults() PublisherConfig {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MinReplicas == 0 {
		c.MinReplicas = 1
	}
	if c.MaxObjectSize == 0 {
		c.MaxObjectSize = DefaultMaxObjectSize
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c PublisherConfig) Validate() error {
	switch {
	case c.TTL < time.Second:
		return fmt.Errorf("%w: publisher TTL %v is under 1s", ErrInvalid, c.TTL)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("%w: publisher write timeout %v is not positive", ErrInvalid, c.WriteTimeout)
	case c.MinReplicas < 1:
		return fmt.Errorf("%w: publisher MinReplicas %d is under 1", ErrInvalid, c.MinReplicas)
	case c.MaxObjectSize < 1 || c.MaxObjectSize > MaxContentsSize:
		return fmt.Errorf("%w: publisher MaxObjectSize %d is not in 1..%d", ErrInvalid, c.MaxObjectSize, MaxContentsSize)
	}
	return nil
}

// Publisher writes hosts' objects to every server of their replica group.
// It is safe for concurrent use.
type Publisher struct {
	pool *Pool
	cfg  PublisherConfig

	mu    sync.Mutex
	dicts map[string]*Dict // object name → dictionary to compress with
}

// NewPublisher returns a Publisher over the shards of pool. cfg may be
// nil.
func NewPublisher(pool *Pool, cfg *PublisherConfig) (*Publisher, error) {
	var c PublisherConfig
	if cfg != nil {
		c = *cfg
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Publisher{pool: pool, cfg: c, dicts: map[string]*Dict{}}, nil
}

// ServerWrite is the outcome of a publish on one server.
type ServerWrite struct {
	Group   string
	Server  string
	Host    string
	Latency time.Duration
	// Result is nil when Err is set.
	Result *WriteResult
	Err    error
}

// PublishReport is the outcome of a publish on every server of a group.
type PublishReport struct {
	Host    string
	Group   string
	Objects int
	// Oversize names the objects replaced by a marker.
	Oversize []string
	// Servers has one entry per server of the group, in the group's order.
	Servers []ServerWrite
}

// Missed returns the servers that did not take the publish.
func (r *PublishReport) Missed() []string {
	var out []string
	for _, s := range r.Servers {
		if s.Err != nil {
			out = append(out, s.Server)
		}
	}
	return out
}

// PublishParams is one host's publish.
type PublishParams struct {
	// Group is the host's replica group.
	Group Group
	// Host is the publishing host; it is normalized.
	Host string
	// Objects are all the host's objects; objects stored earlier and
	// missing here are removed. Their Host field is ignored.
	Objects []Object
}

// Publish encodes p.Objects and writes them to every server of p.Group in
// parallel, each write bounded by the configured timeout. A failing server
// is logged, reported and skipped. It returns the report, and an error
// wrapping ErrTooFewReplicas when fewer than MinReplicas servers took it
// (the report then says which missed it), or wrapping ErrInvalid for bad
// input, when nothing is written.
func (pb *Publisher) Publish(ctx context.Context, p *PublishParams) (*PublishReport, error) {
	reps, err := pb.PublishMany(ctx, []*PublishParams{p})
	if len(reps) == 0 {
		return nil, err
	}
	return reps[0], err
}

// PublishMany publishes several hosts of one replica group (every
// p.Group the same) at once: each server gets one batch
// (BatchShard.PublishBatch where the shard has it), bounded by the write
// timeout. This is for relays and bulk loads; a host publishes itself
// with Publish. Bad input anywhere returns an error wrapping ErrInvalid
// and writes nothing. Reports match ps; the error wraps ErrTooFewReplicas
// and names the hosts that fewer than MinReplicas servers took.
func (pb *Publisher) PublishMany(ctx context.Context, ps []*PublishParams) ([]*PublishReport, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	g := ps[0].Group
	reps := make([]*PublishReport, len(ps))
	ws := make([]*HostWrite, len(ps))
	for i, p := range ps {
		if p.Group.Name != g.Name || !slices.Equal(p.Group.Servers, g.Servers) {
			return nil, fmt.Errorf("publish %s: %w: PublishMany takes hosts of one group, not %q and %q", p.Host, ErrInvalid, g.Name, p.Group.Name)
		}
		var err error
		if ws[i], reps[i], err = pb.encode(ctx, p); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	for si, addr := range g.Servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, pb.cfg.WriteTimeout)
			defer cancel()
			results := make([]*WriteResult, len(ws))
			s, err := pb.pool.Shard(wctx, addr)
			if err == nil {
				if bs, ok := s.(BatchShard); ok && len(ws) > 1 {
					results, err = bs.PublishBatch(wctx, ws)
				} else {
					for i, w := range ws {
						if results[i], err = s.Publish(wctx, w); err != nil {
							break
						}
					}
				}
			}
			lat := time.Since(start)
			if err != nil && pb.cfg.Logger != nil {
				pb.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "inventory publish: server missed",
					slog.Int("hosts", len(ws)), slog.String("group", g.Name), slog.String("server", addr), slog.Any("err", err))
			}
			for i, rep := range reps {
				sw := ServerWrite{Group: g.Name, Server: addr, Host: rep.Host, Latency: lat, Err: err}
				if err == nil {
					sw.Result = results[i]
				}
				if pb.cfg.Observe != nil {
					pb.cfg.Observe(sw)
				}
				rep.Servers[si] = sw
			}
		}()
	}
	wg.Wait()
	need := min(pb.cfg.MinReplicas, len(g.Servers))
	var short []string
	var errs []error
	for _, rep := range reps {
		if ok := len(g.Servers) - len(rep.Missed()); ok < need {
			short = append(short, rep.Host)
			for _, s := range rep.Servers {
				if s.Err != nil && !slices.ContainsFunc(errs, func(e error) bool { return e == s.Err }) {
					errs = append(errs, s.Err)
				}
			}
		}
	}
	if len(short) == 0 {
		return reps, nil
	}
	if err := ctx.Err(); err != nil {
		return reps, fmt.Errorf("publish %s to group %q: %w", strings.Join(short, ", "), g.Name, err)
	}
	return reps, fmt.Errorf("publish %s to group %q: %w: %d of %d servers (need %d); missed %s: %w",
		strings.Join(short, ", "), g.Name, ErrTooFewReplicas, len(g.Servers)-len(reps[0].Missed()), len(g.Servers), need,
		strings.Join(reps[0].Missed(), ", "), errors.Join(errs...))
}

// dictFor returns the dictionary to compress contents of object name
// with: the one cached, else the current one of the first server of g
// that tells (a DictShard), else contents itself, which becomes the
// name's dictionary where none is set yet.
func (pb *Publisher) dictFor(ctx context.Context, g Group, name string, contents []byte) *Dict {
	if len(contents) < MinDictContents || len(contents) > MaxDictSize {
		return nil
	}
	pb.mu.Lock()
	d, ok := pb.dicts[name]
	pb.mu.Unlock()
	if ok {
		return d
	}
	for _, addr := range g.Servers {
		dctx, cancel := context.WithTimeout(ctx, pb.cfg.WriteTimeout)
		s, err := pb.pool.Shard(dctx, addr)
		if err == nil {
			if ds, ok := s.(DictShard); ok {
				d, err = ds.CurrentDict(dctx, name)
			}
		}
		cancel()
		if err == nil {
			break // asked one server that answered
		}
		d = nil
	}
	if d == nil {
		d = NewDict(bytes.Clone(contents))
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	if cur, ok := pb.dicts[name]; ok {
		return cur // another goroutine decided meanwhile
	}
	pb.dicts[name] = d
	return d
}

// encode checks and encodes one host's objects.
func (pb *Publisher) encode(ctx context.Context, p *PublishParams) (*HostWrite, *PublishReport, error) {
	host, err := fleetkit.NormalizeHostname(p.Host)
	if err != nil {
		return nil, nil, fmt.Errorf("publish: %w: %w", ErrInvalid, err)
	}
	if len(p.Group.Servers) == 0 {
		return nil, nil, fmt.Errorf("publish %s: %w: group %q has no servers", host, ErrInvalid, p.Group.Name)
	}
	rep := &PublishReport{Host: host, Group: p.Group.Name, Objects: len(p.Objects), Servers: make([]ServerWrite, len(p.Group.Servers))}
	w := &HostWrite{Host: host, TTL: pb.cfg.TTL, Objects: make([]EncodedObject, 0, len(p.Objects))}
	seen := make(map[string]bool, len(p.Objects))
	for i := range p.Objects {
		o := p.Objects[i]
		if err := CheckName(o.Name, o.Kind); err != nil {
			return nil, nil, fmt.Errorf("publish %s: %w", host, err)
		}
		if seen[o.Name] {
			return nil, nil, fmt.Errorf("publish %s: %w: object %q appears twice", host, ErrInvalid, o.Name)
		}
		seen[o.Name] = true
		if int64(len(o.Contents)) > pb.cfg.MaxObjectSize || (o.Oversize && len(o.Contents) == 0) {
			if !o.Oversize {
				o.Size = int64(len(o.Contents))
			}
			o.Oversize = true
			o.Contents = nil
			rep.Oversize = append(rep.Oversize, o.Name)
		} else {
			o.Size = int64(len(o.Contents))
		}
		eo := EncodedObject{Name: o.Name, MD5: o.MD5}
		if !o.Oversize {
			eo.Dict = pb.dictFor(ctx, p.Group, o.Name, o.Contents)
		}
		eo.Record = EncodeRecordDict(nil, &o, eo.Dict)
		if _, ok := RecordDictID(eo.Record); !ok {
			eo.Dict = nil
		}
		w.Objects = append(w.Objects, eo)
	}
	return w, rep, nil
}

// SortObjects sorts objects by name, the order records are stored in.
func SortObjects(objs []Object) {
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Name, b.Name) })
}
