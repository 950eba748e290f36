package pgstore

import (
	"context"
	"sync"
	"sync/atomic"
)

// Group commit of the queue's hot calls.
//
// Workers claim and finish jobs all the time, and every such transaction
// locks the rows of the batches it changes (their counts) until it
// commits, so transactions on the same batches run one after another, each
// waiting for the previous one's commit to reach the disk. A Store
// therefore merges the ClaimJobs calls waiting at the same moment into one
// transaction, and likewise the FinishJobs calls: while one group's
// transaction runs, the calls that arrive queue up, and the next group
// takes them all (up to a bound). Each caller is answered when its group
// has committed. A caller whose context ends while its call is still
// queued gets the context's error and the call is dropped; once its group
// has started, the call runs to the end and the caller waits for it.

// call states.
const (
	callQueued int32 = iota
	callTaken
	callAbandoned
)

// call is one caller's request in a group.
type call[Q, R any] struct {
	q     Q
	r     R
	err   error
	state atomic.Int32
	done  chan struct{}
}

// group runs calls of one kind in groups, one group at a time.
type group[Q, R any] struct {
	// size is the weight of a request (results, jobs asked for); a group
	// takes requests until their weight reaches max.
	size func(Q) int
	max  int
	// run runs the calls of one group and sets each call's r and err.
	run func(ctx context.Context, calls []*call[Q, R])

	mu      sync.Mutex
	pending []*call[Q, R]
	busy    bool // a goroutine is running groups
}

// do queues q and waits for its group to run it, or for ctx.
func (g *group[Q, R]) do(ctx context.Context, q Q) (R, error) {
	c := &call[Q, R]{q: q, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	start := !g.busy
	g.busy = true
	g.mu.Unlock()
	if start {
		// The group's statements run under a context of their own: one
		// caller giving up must not abort the others' transaction.
		go g.loop(context.WithoutCancel(ctx))
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		if c.state.CompareAndSwap(callQueued, callAbandoned) {
			var zero R
			return zero, ctx.Err()
		}
		<-c.done
	}
	return c.r, c.err
}

// loop runs groups until no call is pending.
func (g *group[Q, R]) loop(ctx context.Context) {
	for {
		g.mu.Lock()
		n, weight := 0, 0
		for n < len(g.pending) && (n == 0 || weight+g.size(g.pending[n].q) <= g.max) {
			weight += g.size(g.pending[n].q)
			n++
		}
		taken := g.pending[:n:n]
		g.pending = g.pending[n:]
		if len(taken) == 0 {
			g.pending = nil
			g.busy = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		live := make([]*call[Q, R], 0, len(taken))
		for _, c := range taken {
			if c.state.CompareAndSwap(callQueued, callTaken) {
				live = append(live, c)
			}
		}
		if len(live) > 0 {
			g.run(ctx, live)
			for _, c := range live {
				close(c.done)
			}
		}
	}
}
