package redisshard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/inventory"
)

// Key layout of format version 1: see the package documentation. Every
// key is prefixed with Options.Namespace and ":" when one is set.
const keyVersion = "fk1:"

func (s *Shard) namesKey() string                 { return s.prefix + "n" }
func (s *Shard) recordKey(k inventory.Key) string { return s.prefix + "r:" + k.Host + "#" + k.Name }
func (s *Shard) indexKey(name string) string      { return s.prefix + "{" + name + "}:i" }
func (s *Shard) expiryKey(name string) string     { return s.prefix + "{" + name + "}:e" }
func (s *Shard) hostKey(host string) string       { return s.prefix + "h:" + host }
func (s *Shard) dictKey(name string, id uint64) string {
	return s.prefix + "{" + name + "}:d:" + strconv.FormatUint(id, 16)
}
func (s *Shard) currentDictKey(name string) string { return s.prefix + "{" + name + "}:dc" }

// pruneScript drops from an object's index the hosts whose records
// expired, atomically with respect to a host publishing again.
var pruneScript = redis.NewScript(`
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 512)
for _, h in ipairs(dead) do
  redis.call('ZREM', KEYS[1], h)
  redis.call('ZREM', KEYS[2], h)
end
return #dead`)

// Options configure a Shard. nil means defaults.
type Options struct {
	// Name is the shard's name in reports; default "redis " + the client's
	// address.
	Name string
	// BatchSize is the number of records fetched per round trip during a
	// scan; default 256.
	BatchSize int
	// Now is the clock used for expiry scores; default time.Now. The
	// records' own expiry is Redis's.
	Now func() time.Time
	// PruneEvery sets how often a publish also prunes expired hosts from
	// the indexes of the names it writes: once in PruneEvery publishes on
	// average. Default 32; negative never (scans skip expired entries
	// anyway; pruning only bounds the indexes' size).
	PruneEvery int
	// Namespace, when set, prefixes every key (Namespace + ":"), so that
	// several caches can share a database.
	Namespace string
}

// Shard is an inventory.Shard on a Redis server (or a Redis Cluster
// serving as one replica), storing records in fleetkit's format.
type Shard struct {
	c       redis.UniversalClient
	name    string
	batch   int
	now     func() time.Time
	cluster bool
	prefix  string
	own     bool
	// pruneEvery is Options.PruneEvery (0: never).
	pruneEvery int
}

var (
	_ inventory.BatchShard = (*Shard)(nil)
	_ inventory.DictShard  = (*Shard)(nil)
)

// CurrentDict returns the current dictionary of name, or nil when there
// is none (or it expired).
func (s *Shard) CurrentDict(ctx context.Context, name string) (*inventory.Dict, error) {
	cur, err := s.c.Get(ctx, s.currentDictKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dictionary of %q on %s: %w", name, s.name, err)
	}
	id, err := strconv.ParseUint(cur, 16, 64)
	if err != nil {
		return nil, fmt.Errorf("dictionary of %q on %s: %w: current ID %q", name, s.name, inventory.ErrMalformed, cur)
	}
	data, err := s.c.Get(ctx, s.dictKey(name, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dictionary of %q on %s: %w", name, s.name, err)
	}
	d := &inventory.Dict{ID: id, Data: data}
	if err := d.Check(); err != nil {
		return nil, fmt.Errorf("dictionary of %q on %s: %w", name, s.name, err)
	}
	return d, nil
}

// New returns a Shard over c, which the caller keeps and closes. opts may
// be nil.
func New(c redis.UniversalClient, opts *Options) *Shard {
	s := &Shard{c: c, batch: 256, now: time.Now, name: clientName(c), prefix: keyVersion, pruneEvery: 32}
	if opts != nil {
		if opts.PruneEvery != 0 {
			s.pruneEvery = max(opts.PruneEvery, 0)
		}
		if opts.Namespace != "" {
			s.prefix = opts.Namespace + ":" + keyVersion
		}
		if opts.Name != "" {
			s.name = opts.Name
		}
		if opts.BatchSize > 0 {
			s.batch = opts.BatchSize
		}
		if opts.Now != nil {
			s.now = opts.Now
		}
	}
	_, s.cluster = c.(*redis.ClusterClient)
	return s
}

func clientName(c redis.UniversalClient) string {
	if cl, ok := c.(*redis.Client); ok {
		return "redis " + cl.Options().Addr
	}
	if cl, ok := c.(*redis.ClusterClient); ok && len(cl.Options().Addrs) > 0 {
		return "redis cluster " + cl.Options().Addrs[0]
	}
	return "redis"
}

// String names the server.
func (s *Shard) String() string { return s.name }

// Ping sends PING.
func (s *Shard) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping %s: %w", s.name, err)
	}
	return nil
}

// Publish replaces the objects of w.Host; see inventory.Shard and
// PublishBatch.
func (s *Shard) Publish(ctx context.Context, w *inventory.HostWrite) (*inventory.WriteResult, error) {
	res, err := s.PublishBatch(ctx, []*inventory.HostWrite{w})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// PublishBatch publishes several hosts at once, in the round trips one
// host takes: read the hosts' stored digests, then one pipeline that
// writes changed records, renews unchanged ones, updates the indexes and
// removes vanished objects. Now and then (Options.PruneEvery) it also
// drops expired hosts from the indexes of the names it wrote and forgets
// names nobody published for a TTL (one more round trip). A record that
// expired between the two round trips is written again (one more).
func (s *Shard) PublishBatch(ctx context.Context, ws []*inventory.HostWrite) ([]*inventory.WriteResult, error) {
	for _, w := range ws {
		if w.TTL < time.Millisecond {
			return nil, fmt.Errorf("publish %s to %s: %w: TTL %v is under 1ms", w.Host, s.name, inventory.ErrInvalid, w.TTL)
		}
	}
	what := "publish " + ws[0].Host
	if len(ws) > 1 {
		what = fmt.Sprintf("publish %d hosts", len(ws))
	}
	rd := s.c.Pipeline()
	olds := make([]*redis.MapStringStringCmd, len(ws))
	for i, w := range ws {
		olds[i] = rd.HGetAll(ctx, s.hostKey(w.Host))
	}
	// Dictionaries: renew those the server has; the others are stored
	// below, before the records that use them. A dictionary lives twice
	// the TTL of its records; the first one of a name becomes its current
	// one (for twice the TTL, then whichever is used next).
	type dictUse struct {
		name  string
		d     *inventory.Dict
		ttl   time.Duration
		renew *redis.BoolCmd
	}
	var dictUses []*dictUse
	seenDict := map[string]bool{}
	for _, w := range ws {
		for _, o := range w.Objects {
			if o.Dict == nil {
				continue
			}
			dk := s.dictKey(o.Name, o.Dict.ID)
			if !seenDict[dk] {
				seenDict[dk] = true
				dictUses = append(dictUses, &dictUse{name: o.Name, d: o.Dict, ttl: 2 * w.TTL, renew: rd.PExpire(ctx, dk, 2*w.TTL)})
			}
		}
	}
	if _, err := rd.Exec(ctx); err != nil {
		return nil, fmt.Errorf("%s to %s: read digests: %w", what, s.name, err)
	}
	now := s.now()
	nowMS := strconv.FormatInt(now.UnixMilli(), 10)
	pipe := s.c.Pipeline()
	results := make([]*inventory.WriteResult, len(ws))
	renews := make([][]*redis.BoolCmd, len(ws))
	pruned := map[string]bool{}
	for _, u := range dictUses {
		if !u.renew.Val() {
			pipe.Set(ctx, s.dictKey(u.name, u.d.ID), u.d.Data, u.ttl)
			pipe.SetNX(ctx, s.currentDictKey(u.name), strconv.FormatUint(u.d.ID, 16), u.ttl)
		}
	}
	var deadNames *redis.StringSliceCmd
	for h, w := range ws {
		old := olds[h].Val()
		expMS := float64(now.Add(w.TTL).UnixMilli())
		res := &inventory.WriteResult{}
		results[h] = res
		renews[h] = make([]*redis.BoolCmd, len(w.Objects))
		digests := make([]any, 0, 2*len(w.Objects))
		cur := make(map[string]bool, len(w.Objects))
		for i, o := range w.Objects {
			cur[o.Name] = true
			k := s.recordKey(inventory.Key{Host: w.Host, Name: o.Name})
			if d, ok := old[o.Name]; ok && d == string(o.MD5[:]) {
				renews[h][i] = pipe.PExpire(ctx, k, w.TTL)
			} else {
				pipe.Set(ctx, k, o.Record, w.TTL)
				res.Written++
				res.Bytes += int64(len(o.Record))
			}
			pipe.ZAdd(ctx, s.indexKey(o.Name), redis.Z{Member: w.Host})
			pipe.ZAdd(ctx, s.expiryKey(o.Name), redis.Z{Score: expMS, Member: w.Host})
			pipe.ZAddGT(ctx, s.namesKey(), redis.Z{Score: expMS, Member: o.Name})
			if !pruned[o.Name] && s.pruneEvery > 0 && rand.IntN(s.pruneEvery) == 0 {
				pruned[o.Name] = true
				pruneScript.Eval(ctx, pipe, []string{s.indexKey(o.Name), s.expiryKey(o.Name)}, nowMS)
				if deadNames == nil {
					deadNames = pipe.ZRangeByScore(ctx, s.namesKey(), &redis.ZRangeBy{Min: "-inf", Max: nowMS, Count: 16})
				}
			}
			digests = append(digests, o.Name, string(o.MD5[:]))
		}
		var gone []string
		for name := range old {
			if !cur[name] {
				pipe.ZRem(ctx, s.indexKey(name), w.Host)
				pipe.ZRem(ctx, s.expiryKey(name), w.Host)
				pipe.Del(ctx, s.recordKey(inventory.Key{Host: w.Host, Name: name}))
				gone = append(gone, name)
				res.Removed++
			}
		}
		if len(gone) > 0 {
			pipe.HDel(ctx, s.hostKey(w.Host), gone...)
		}
		if len(digests) > 0 {
			pipe.HSet(ctx, s.hostKey(w.Host), digests...)
			pipe.PExpire(ctx, s.hostKey(w.Host), w.TTL)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("%s to %s: %w", what, s.name, err)
	}
	var again redis.Pipeliner
	for h, w := range ws {
		for i, r := range renews[h] {
			if r == nil {
				continue
			}
			if r.Val() {
				results[h].Renewed++
				continue
			}
			// The record expired or was evicted since the digests were read.
			if again == nil {
				again = s.c.Pipeline()
			}
			o := w.Objects[i]
			again.Set(ctx, s.recordKey(inventory.Key{Host: w.Host, Name: o.Name}), o.Record, w.TTL)
			results[h].Written++
			results[h].Bytes += int64(len(o.Record))
		}
	}
	if deadNames != nil && len(deadNames.Val()) > 0 {
		// Names nobody published for a TTL: drop their indexes. A host
		// publishing one of them at this very moment is indexed again by
		// its next publish.
		if again == nil {
			again = s.c.Pipeline()
		}
		for _, name := range deadNames.Val() {
			again.Del(ctx, s.indexKey(name), s.expiryKey(name))
		}
		again.ZRemRangeByScore(ctx, s.namesKey(), "-inf", nowMS)
	}
	if again != nil {
		if _, err := again.Exec(ctx); err != nil {
			return nil, fmt.Errorf("%s to %s: rewrite expired records: %w", what, s.name, err)
		}
	}
	return results, nil
}

// Scan streams matching records in (name, host) order from the object-name
// index; it never walks the key space. See inventory.Shard.
func (s *Shard) Scan(ctx context.Context, p *inventory.ScanParams, fn func([]inventory.RawRecord) error) error {
	size := s.batch
	if p.BatchSize > 0 {
		size = p.BatchSize
	}
	nowMS := s.now().UnixMilli()
	names, err := s.c.ZRangeByScore(ctx, s.namesKey(), &redis.ZRangeBy{Min: "(" + strconv.FormatInt(nowMS, 10), Max: "+inf"}).Result()
	if err != nil {
		return fmt.Errorf("scan %s: list object names: %w", s.name, err)
	}
	names = slices.DeleteFunc(names, func(n string) bool {
		return !p.Names.Match(n) || n < p.After.Name
	})
	slices.Sort(names)
	hp := p.Hosts.Prefix()
	for _, name := range names {
		dicts := map[uint64]*inventory.Dict{} // of this name, fetched once per scan
		lo, hi := "-", "+"
		if hp != "" {
			lo = "[" + hp
			if end, ok := prefixEnd(hp); ok {
				hi = "(" + end
			}
		}
		if name == p.After.Name && p.After.Host >= hp {
			lo = "(" + p.After.Host
		}
		for {
			hosts, err := s.c.ZRangeByLex(ctx, s.indexKey(name), &redis.ZRangeBy{Min: lo, Max: hi, Count: int64(size)}).Result()
			if err != nil {
				return fmt.Errorf("scan %s: index of %q: %w", s.name, name, err)
			}
			if len(hosts) == 0 {
				break
			}
			lo = "(" + hosts[len(hosts)-1]
			full := len(hosts) == size
			hosts = slices.DeleteFunc(hosts, func(h string) bool { return !p.Hosts.Match(h) })
			if len(hosts) > 0 {
				batch, err := s.fetch(ctx, name, hosts, p.Fetch, nowMS, dicts)
				if err != nil {
					return err
				}
				if len(batch) > 0 {
					if err := fn(batch); err != nil {
						return err
					}
				}
			}
			if !full {
				break
			}
		}
	}
	return nil
}

// fetch reads the records of name for hosts in one round trip, leaving out
// those that expired.
func (s *Shard) fetch(ctx context.Context, name string, hosts []string, f inventory.Fetch, nowMS int64, dicts map[uint64]*inventory.Dict) ([]inventory.RawRecord, error) {
	keys := make([]string, len(hosts))
	for i, h := range hosts {
		keys[i] = s.recordKey(inventory.Key{Host: h, Name: name})
	}
	pipe := s.c.Pipeline()
	scores := pipe.ZMScore(ctx, s.expiryKey(name), hosts...)
	var mget *redis.SliceCmd
	var ranges []*redis.StringCmd
	switch {
	case f == inventory.FetchAll && !s.cluster:
		mget = pipe.MGet(ctx, keys...)
	case f == inventory.FetchAll:
		ranges = make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			ranges[i] = pipe.Get(ctx, k)
		}
	case f == inventory.FetchHeader:
		ranges = make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			ranges[i] = pipe.GetRange(ctx, k, 0, inventory.HeaderFetchSize-1)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("scan %s: fetch %d records of %q: %w", s.name, len(keys), name, err)
	}
	sc := scores.Val()
	batch := make([]inventory.RawRecord, 0, len(hosts))
	for i, h := range hosts {
		if i >= len(sc) || sc[i] <= float64(nowMS) {
			continue // expired, not yet pruned
		}
		r := inventory.RawRecord{Key: inventory.Key{Host: h, Name: name}}
		switch {
		case mget != nil:
			v, _ := mget.Val()[i].(string)
			if v == "" {
				continue
			}
			r.Value = bytesOf(v)
		case ranges != nil:
			v := ranges[i].Val()
			if v == "" {
				continue
			}
			r.Value = bytesOf(v)
		}
		batch = append(batch, r)
	}
	if f == inventory.FetchAll {
		if err := s.attachDicts(ctx, name, batch, dicts); err != nil {
			return nil, err
		}
	}
	return batch, nil
}

// attachDicts sets the Dict of the records compressed with one, reading
// the dictionaries not in dicts in one round trip. A dictionary the server
// lacks leaves Dict nil: the record is reported undecodable.
func (s *Shard) attachDicts(ctx context.Context, name string, batch []inventory.RawRecord, dicts map[uint64]*inventory.Dict) error {
	var missing []uint64
	for i := range batch {
		id, ok := inventory.RecordDictID(batch[i].Value)
		if !ok {
			continue
		}
		if _, known := dicts[id]; !known && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		pipe := s.c.Pipeline()
		cmds := make([]*redis.StringCmd, len(missing))
		for i, id := range missing {
			cmds[i] = pipe.Get(ctx, s.dictKey(name, id))
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("scan %s: dictionaries of %q: %w", s.name, name, err)
		}
		for i, id := range missing {
			dicts[id] = nil
			if data, err := cmds[i].Bytes(); err == nil {
				if d := (&inventory.Dict{ID: id, Data: data}); d.Check() == nil {
					dicts[id] = d
				}
			}
		}
	}
	for i := range batch {
		if id, ok := inventory.RecordDictID(batch[i].Value); ok {
			batch[i].Dict = dicts[id]
		}
	}
	return nil
}

// bytesOf returns the bytes of s without copying. Records are read-only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// prefixEnd returns the smallest string greater than every string with
// prefix p.
func prefixEnd(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
