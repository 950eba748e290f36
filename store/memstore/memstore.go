package memstore

import (
	"context"
	"hash/maphash"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var (
	_ lifecycle.Store = (*Store)(nil)
	_ store.Backend   = (*Store)(nil)
)

func init() {
	store.Register("memory", func(_ context.Context, _ *url.URL) (store.Backend, error) {
		return New(nil), nil
	})
}

// Options configures a Store. nil means the defaults.
type Options struct {
	// Now is the clock that judges lease expiry (default time.Now).
	Now func() time.Time
}

// Store is an in-memory lifecycle.Store and store.Locker. It is safe for
// concurrent use.
type Store struct {
	now  func() time.Time
	seed maphash.Seed // of hosts and ids; set once, so hashing needs no lock
	spin bool         // whether lock spins before it blocks: GOMAXPROCS > 1 at New

	mu     sync.Mutex
	closed bool
	hosts  hostTable
	// batches holds every batch in order of admission; a batch's index
	// here is its seq, which jobRefs use.
	batches []*batchRec
	ids     hashIndex              // batch ID → seq
	order   []int32                // seqs sorted by batch ID
	labels  labels                 // datacenters and SKUs of jobs
	leases  map[string]store.Lease // last lease per name, expired or not
	spares  spares
	q       queue
	low     atomic.Uint32  // what spares run short of: low* bits
	snaps   *snapshotTable // the snapshot catalogue (snapshot.go); nil until used
}

// New returns an empty Store.
func New(opts *Options) *Store {
	s := &Store{
		now:    time.Now,
		seed:   maphash.MakeSeed(),
		spin:   runtime.GOMAXPROCS(0) > 1,
		hosts:  hostTable{reasons: map[int32]string{}},
		labels: newLabels(),
		leases: map[string]store.Lease{},
		q:      newQueue(),
	}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

// Close empties the store; later calls fail with store.ErrClosed.
func (s *Store) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	// The indices are read without the lock (hashIndex.touch): empty them
	// with atomic stores.
	s.hosts.index.dir.Store(nil)
	s.ids.dir.Store(nil)
	s.hosts.chunks, s.hosts.names, s.hosts.reasons = nil, textArena{}, nil
	s.batches, s.order, s.labels, s.leases, s.spares = nil, nil, labels{}, nil, spares{}
	s.q = queue{}
	return nil
}

// spinTries is how many times lock tries the mutex before it blocks: about
// 2µs, a critical section or two.
const spinTries = 2000

// lock takes the mutex, failing when the store is closed or ctx is done.
//
// Most critical sections last a microsecond or two, less than parking a
// goroutine and waking it again costs, and a parked submitter can leave a
// CPU idle while the lock is free. sync.Mutex spins only when the P has no
// other goroutine to run, which under load it always has, so lock first
// retries for about as long as a critical section takes, when other Ps
// could be running the holder.
func (s *Store) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	locked := false
	for i := 0; s.spin && i < spinTries && !locked; i++ {
		locked = s.mu.TryLock()
	}
	if !locked {
		s.mu.Lock()
	}
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	return nil
}
