package inventory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Connector opens the Shard of a server address. It is called once per
// address; the Pool keeps the result.
type Connector func(ctx context.Context, server string) (Shard, error)

// DefaultHealthTimeout bounds a server's health check during selection.
const DefaultHealthTimeout = 500 * time.Millisecond

// Pool holds one Shard per server address, opened on first use, and picks
// live servers of replica groups. It is safe for concurrent use.
type Pool struct {
	connect Connector
	health  time.Duration

	mu     sync.Mutex
	shards map[string]Shard
}

// NewPool returns a Pool that opens shards with connect. healthTimeout
// bounds each health check; 0 means DefaultHealthTimeout.
func NewPool(connect Connector, healthTimeout time.Duration) *Pool {
	if healthTimeout <= 0 {
		healthTimeout = DefaultHealthTimeout
	}
	return &Pool{connect: connect, health: healthTimeout, shards: map[string]Shard{}}
}

// StaticPool returns a Pool over shards already open, keyed by address.
func StaticPool(shards map[string]Shard) *Pool {
	p := NewPool(func(_ context.Context, s string) (Shard, error) {
		return nil, fmt.Errorf("%w: no shard for server %q", ErrInvalid, s)
	}, 0)
	for k, v := range shards {
		p.shards[k] = v
	}
	return p
}

// Shard returns the shard of server, opening it if needed.
func (p *Pool) Shard(ctx context.Context, server string) (Shard, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.shards[server]; ok {
		return s, nil
	}
	s, err := p.connect(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("open shard %s: %w", server, err)
	}
	p.shards[server] = s
	return s, nil
}

// Close closes the shards that implement io.Closer.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for addr, s := range p.shards {
		if c, ok := s.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close shard %s: %w", addr, err))
			}
		}
		delete(p.shards, addr)
	}
	return errors.Join(errs...)
}

// Pick returns a live server of g: servers are tried in random order, each
// must answer a health check within the pool's health timeout; those in
// skip are not tried. The error wraps ErrNoServer and names the group and
// what each server said.
func (p *Pool) Pick(ctx context.Context, g Group, skip map[string]bool) (string, Shard, error) {
	order := rand.Perm(len(g.Servers))
	var why []string
	for _, i := range order {
		addr := g.Servers[i]
		if skip[addr] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return "", nil, err
		}
		s, err := p.Shard(ctx, addr)
		if err == nil {
			hctx, cancel := context.WithTimeout(ctx, p.health)
			err = s.Ping(hctx)
			cancel()
			if err == nil {
				return addr, s, nil
			}
		}
		why = append(why, fmt.Sprintf("%s: %v", addr, err))
	}
	if len(why) == 0 {
		why = append(why, "every server already failed")
	}
	return "", nil, fmt.Errorf("%w %q: %s", ErrNoServer, g.Name, strings.Join(why, "; "))
}
