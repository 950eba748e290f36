package memshard

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
)

// ErrUnavailable is returned by every call of a Shard marked unavailable
// with SetUnavailable, as a dead server would fail.
var ErrUnavailable = errors.New("memshard: shard unavailable")

// Options configure a Shard. The zero value is valid.
type Options struct {
	// Name is the shard's name in reports; default "memshard".
	Name string
	// Now is the clock; default time.Now.
	Now func() time.Time
	// BatchSize is the largest batch a scan returns when the caller sets
	// none; default 256.
	BatchSize int
}

// Shard is an in-memory inventory.Shard.
type Shard struct {
	name  string
	now   func() time.Time
	batch int
	down  atomic.Bool

	mu        sync.RWMutex
	lastSweep time.Time
	names     map[string]map[string]*entry // name → host → record
	hosts     map[string]map[string]bool   // host → its names
	dicts     map[string]map[uint64]*dictEntry
	current   map[string]uint64 // name → ID of its current dictionary
}

type dictEntry struct {
	d       *inventory.Dict
	expires time.Time
}

type entry struct {
	rec     []byte
	md5     [16]byte
	expires time.Time
}

var _ inventory.DictShard = (*Shard)(nil)

// CurrentDict returns the current dictionary of name, or nil.
func (s *Shard) CurrentDict(ctx context.Context, name string) (*inventory.Dict, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("dictionary of %q on %s: %w", name, s.name, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dictLocked(name, s.current[name]), nil
}

// dictLocked returns a live dictionary of name, or nil.
func (s *Shard) dictLocked(name string, id uint64) *inventory.Dict {
	if e := s.dicts[name][id]; e != nil && s.now().Before(e.expires) {
		return e.d
	}
	return nil
}

// New returns an empty shard. opts may be nil.
func New(opts *Options) *Shard {
	s := &Shard{name: "memshard", now: time.Now, batch: 256, names: map[string]map[string]*entry{}, hosts: map[string]map[string]bool{},
		dicts: map[string]map[uint64]*dictEntry{}, current: map[string]uint64{}}
	if opts != nil {
		if opts.Name != "" {
			s.name = opts.Name
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
		if opts.BatchSize > 0 {
			s.batch = opts.BatchSize
		}
	}
	return s
}

// SetUnavailable makes every later call fail with ErrUnavailable (true)
// or work again (false), to simulate a dead server. Scans under way fail
// at their next batch.
func (s *Shard) SetUnavailable(down bool) { s.down.Store(down) }

// String returns the shard's name.
func (s *Shard) String() string { return s.name }

func (s *Shard) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.down.Load() {
		return fmt.Errorf("%s: %w", s.name, ErrUnavailable)
	}
	return nil
}

// Ping fails when the shard is marked unavailable.
func (s *Shard) Ping(ctx context.Context) error { return s.check(ctx) }

// Publish replaces the objects of w.Host; see inventory.Shard.
func (s *Shard) Publish(ctx context.Context, w *inventory.HostWrite) (*inventory.WriteResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("publish %s to %s: %w", w.Host, s.name, err)
	}
	if w.TTL <= 0 {
		return nil, fmt.Errorf("publish %s to %s: %w: TTL %v is not positive", w.Host, s.name, inventory.ErrInvalid, w.TTL)
	}
	now := s.now()
	exp := now.Add(w.TTL)
	res := &inventory.WriteResult{}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.hosts[w.Host]
	cur := make(map[string]bool, len(w.Objects))
	for _, o := range w.Objects {
		cur[o.Name] = true
		if o.Dict != nil {
			// Dictionaries outlive the records that use them.
			byID := s.dicts[o.Name]
			if byID == nil {
				byID = map[uint64]*dictEntry{}
				s.dicts[o.Name] = byID
			}
			if e := byID[o.Dict.ID]; e != nil && now.Before(e.expires) {
				e.expires = maxTime(e.expires, exp.Add(w.TTL))
			} else {
				byID[o.Dict.ID] = &dictEntry{d: &inventory.Dict{ID: o.Dict.ID, Data: slices.Clone(o.Dict.Data)}, expires: exp.Add(w.TTL)}
			}
			if s.dictLocked(o.Name, s.current[o.Name]) == nil {
				s.current[o.Name] = o.Dict.ID
			}
		}
		byHost := s.names[o.Name]
		if byHost == nil {
			byHost = map[string]*entry{}
			s.names[o.Name] = byHost
		}
		if e := byHost[w.Host]; e != nil && e.md5 == o.MD5 && now.Before(e.expires) {
			e.expires = exp
			res.Renewed++
			continue
		}
		byHost[w.Host] = &entry{rec: slices.Clone(o.Record), md5: o.MD5, expires: exp}
		res.Written++
		res.Bytes += int64(len(o.Record))
	}
	for name := range old {
		if !cur[name] {
			delete(s.names[name], w.Host)
			if len(s.names[name]) == 0 {
				delete(s.names, name)
			}
			res.Removed++
		}
	}
	s.hosts[w.Host] = cur
	if now.Sub(s.lastSweep) >= time.Minute {
		s.sweepLocked(now)
	}
	return res, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// sweepLocked drops expired records, so that hosts that stopped
// publishing age out of memory too.
func (s *Shard) sweepLocked(now time.Time) {
	s.lastSweep = now
	for name, byHost := range s.names {
		for host, e := range byHost {
			if !now.Before(e.expires) {
				delete(byHost, host)
				delete(s.hosts[host], name)
				if len(s.hosts[host]) == 0 {
					delete(s.hosts, host)
				}
			}
		}
		if len(byHost) == 0 {
			delete(s.names, name)
		}
	}
	for name, byID := range s.dicts {
		for id, e := range byID {
			if !now.Before(e.expires) {
				delete(byID, id)
			}
		}
		if len(byID) == 0 {
			delete(s.dicts, name)
			delete(s.current, name)
		}
	}
}

// Scan streams matching records in (name, host) order; see
// inventory.Shard.
func (s *Shard) Scan(ctx context.Context, p *inventory.ScanParams, fn func([]inventory.RawRecord) error) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("scan %s: %w", s.name, err)
	}
	size := p.BatchSize
	if size <= 0 {
		size = s.batch
	}
	s.mu.RLock()
	var names []string
	for name := range s.names {
		if p.Names.Match(name) && (p.After.Name == "" || name >= p.After.Name) {
			names = append(names, name)
		}
	}
	s.mu.RUnlock()
	slices.Sort(names)
	for _, name := range names {
		s.mu.RLock()
		now := s.now()
		type hostRec struct {
			host string
			rec  []byte
			dict *inventory.Dict
		}
		var recs []hostRec
		for host, e := range s.names[name] {
			k := inventory.Key{Host: host, Name: name}
			if !p.Hosts.Match(host) || !now.Before(e.expires) || (p.After != inventory.Key{} && !p.After.Less(k)) {
				continue
			}
			var d *inventory.Dict
			if id, ok := inventory.RecordDictID(e.rec); ok && p.Fetch == inventory.FetchAll {
				d = s.dictLocked(name, id)
			}
			recs = append(recs, hostRec{host, e.rec, d})
		}
		s.mu.RUnlock()
		slices.SortFunc(recs, func(a, b hostRec) int { return cmp.Compare(a.host, b.host) })
		for len(recs) > 0 {
			n := min(size, len(recs))
			batch := make([]inventory.RawRecord, n)
			for i, r := range recs[:n] {
				batch[i] = inventory.RawRecord{Key: inventory.Key{Host: r.host, Name: name}}
				switch p.Fetch {
				case inventory.FetchAll:
					batch[i].Value = slices.Clone(r.rec)
					batch[i].Dict = r.dict
				case inventory.FetchHeader:
					batch[i].Value = slices.Clone(r.rec[:min(len(r.rec), inventory.HeaderFetchSize)])
				}
			}
			recs = recs[n:]
			if err := s.check(ctx); err != nil {
				return fmt.Errorf("scan %s: %w", s.name, err)
			}
			if err := fn(batch); err != nil {
				return err
			}
		}
	}
	return nil
}

// Len returns the number of live records, for tests.
func (s *Shard) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	n := 0
	for _, byHost := range s.names {
		for _, e := range byHost {
			if now.Before(e.expires) {
				n++
			}
		}
	}
	return n
}
