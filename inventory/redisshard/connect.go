package redisshard

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/fleetkit/fleetkit/inventory"
)

// Connector returns an inventory.Connector that opens one Redis client
// per server address, with base's settings (nil means defaults) and Addr
// set to the address. The shards it opens close their client when the
// inventory.Pool is closed.
func Connector(base *redis.Options, opts *Options) inventory.Connector {
	return func(_ context.Context, server string) (inventory.Shard, error) {
		s := New(redis.NewClient(clientOptions(base, server, -1)), opts)
		s.own = true
		return s, nil
	}
}

// LegacyConnector is Connector for sysops-api caches: its clients select
// database inventory.LegacyDB.
func LegacyConnector(base *redis.Options, opts *LegacyOptions) inventory.Connector {
	return func(_ context.Context, server string) (inventory.Shard, error) {
		l := NewLegacy(redis.NewClient(clientOptions(base, server, inventory.LegacyDB)), opts)
		l.own = true
		return l, nil
	}
}

func clientOptions(base *redis.Options, addr string, db int) *redis.Options {
	var o redis.Options
	if base != nil {
		o = *base
	}
	o.Addr = addr
	if db >= 0 {
		o.DB = db
	}
	return &o
}

// Close closes the client when the shard opened it (Connector); a client
// handed to New is the caller's to close.
func (s *Shard) Close() error {
	if s.own {
		return s.c.Close()
	}
	return nil
}

// Close closes the client when the reader opened it (LegacyConnector).
func (l *Legacy) Close() error {
	if l.own {
		return l.c.Close()
	}
	return nil
}
