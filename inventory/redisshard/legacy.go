package redisshard

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/inventory"
)

// Legacy reads a cache written by sysops-api: keys host#path holding a
// list of five bz2-compressed fields (see inventory.DecodeLegacy). It
// walks the key space with SCAN, never KEYS, and cannot publish.
type Legacy struct {
	c     redis.UniversalClient
	name  string
	count int64
	own   bool
}

var _ inventory.UnorderedShard = (*Legacy)(nil)

// LegacyOptions configure a Legacy reader. nil means defaults.
type LegacyOptions struct {
	// Name is the shard's name in reports; default "redis " + address +
	// " (legacy)".
	Name string
	// ScanCount is the COUNT hint of each SCAN; default 1000.
	ScanCount int64
}

// NewLegacy returns a reader of the sysops-api cache that c reaches. c
// must select database inventory.LegacyDB (1), where sysops-api writes:
// redis.Options{DB: inventory.LegacyDB}. opts may be nil.
func NewLegacy(c redis.UniversalClient, opts *LegacyOptions) *Legacy {
	l := &Legacy{c: c, name: clientName(c) + " (legacy)", count: 1000}
	if opts != nil {
		if opts.Name != "" {
			l.name = opts.Name
		}
		if opts.ScanCount > 0 {
			l.count = opts.ScanCount
		}
	}
	return l
}

// String names the server.
func (l *Legacy) String() string { return l.name }

// Unordered reports true: SCAN returns keys in no order.
func (l *Legacy) Unordered() bool { return true }

// Ping sends PING.
func (l *Legacy) Ping(ctx context.Context) error {
	if err := l.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping %s: %w", l.name, err)
	}
	return nil
}

// Publish fails with an error wrapping inventory.ErrUnsupported: the
// legacy format is read-only here.
func (l *Legacy) Publish(context.Context, *inventory.HostWrite) (*inventory.WriteResult, error) {
	return nil, fmt.Errorf("publish to %s: %w: the sysops-api format is read-only", l.name, inventory.ErrUnsupported)
}

// Scan walks the keys with SCAN MATCH (host pattern)#*, keeps those whose
// object name matches, and fetches their lists with pipelined LRANGE. Keys
// come in no order and p.After is ignored.
func (l *Legacy) Scan(ctx context.Context, p *inventory.ScanParams, fn func([]inventory.RawRecord) error) error {
	match := "*#*"
	if g := p.Hosts.String(); g != "" {
		match = strings.ReplaceAll(strings.ReplaceAll(g, "#", `\#`), "$", `\$`) + "#*"
	}
	var cursor uint64
	for {
		var keys []string
		var err error
		keys, cursor, err = l.c.Scan(ctx, cursor, match, l.count).Result()
		if err != nil {
			return fmt.Errorf("scan %s: %w", l.name, err)
		}
		var batch []inventory.RawRecord
		var rawKeys []string
		for _, k := range keys {
			key, kind, ok := inventory.ParseLegacyKey(k)
			if !ok || !p.Names.Match(key.Name) || !p.Hosts.Match(key.Host) {
				continue
			}
			batch = append(batch, inventory.RawRecord{Key: key, Kind: kind})
			rawKeys = append(rawKeys, k)
		}
		if len(batch) > 0 && p.Fetch != inventory.FetchNone {
			pipe := l.c.Pipeline()
			cmds := make([]*redis.StringSliceCmd, len(rawKeys))
			for i, k := range rawKeys {
				cmds[i] = pipe.LRange(ctx, k, 0, -1)
			}
			if _, err := pipe.Exec(ctx); err != nil && !isWrongType(err) {
				return fmt.Errorf("scan %s: fetch %d lists: %w", l.name, len(rawKeys), err)
			}
			kept := batch[:0]
			for i, c := range cmds {
				r := batch[i]
				if c.Err() != nil {
					// Not a list: a malformed record, reported by the decoder.
					r.Legacy = [][]byte{}
					kept = append(kept, r)
					continue
				}
				vals := c.Val()
				if len(vals) == 0 {
					continue // expired between SCAN and LRANGE
				}
				r.Legacy = make([][]byte, len(vals))
				for j, v := range vals {
					r.Legacy[j] = bytesOf(v)
				}
				kept = append(kept, r)
			}
			batch = kept
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return err
			}
		}
		if cursor == 0 {
			return nil
		}
	}
}

func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}
