package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

var (
	_ lifecycle.Store = (*Store)(nil)
	_ store.Backend   = (*Store)(nil)
)

func init() {
	opener := func(ctx context.Context, u *url.URL) (store.Backend, error) {
		s, err := open(ctx, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("pgstore: %w", err)
		}
		return s, nil
	}
	store.Register("postgres", opener)
	store.Register("postgresql", opener)
}

// Options configures a Store. A nil *Options means the defaults.
type Options struct {
	// Now is the clock that judges lease expiry (default time.Now). Every
	// node sharing a database compares its own clock with the expiry
	// another node wrote, so the nodes' clocks must be synchronised (NTP)
	// to well within the lease TTLs they use.
	Now func() time.Time
}

// withDefaults returns a copy of o with unset fields set.
func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return out
}

// Store is a lifecycle.Store and store.Locker on PostgreSQL. It is safe for
// concurrent use by many goroutines, and any number of Stores, in any number
// of processes, may share one database.
type Store struct {
	pool    *pgxpool.Pool
	ownPool bool // opened by Open, closed by Close
	now     func() time.Time
	closed  atomic.Bool

	// claims and finishes group the queue's calls (group.go).
	claims   *group[lifecycle.ClaimRequest, []lifecycle.Claim]
	finishes *group[[]lifecycle.JobResult, []lifecycle.Finished]
}

// New returns a Store over a pool the caller built, after bringing the
// database's schema up to date (see the package documentation). Close does
// not close the pool; the caller does, after closing the Store.
func New(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	if pool == nil {
		return nil, errors.New("pgstore: New: nil pool")
	}
	s, err := newStore(ctx, pool, opts)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	return s, nil
}

// newStore is New with errors that do not name the package.
func newStore(ctx context.Context, pool *pgxpool.Pool, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	s := &Store{pool: pool, now: o.Now}
	s.initQueue()
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Open connects to the PostgreSQL database at url (postgres://… or
// postgresql://…, or a key=value connection string, as pgx accepts) with a
// pool of its own, and returns a Store over it as New does. Close closes the
// pool. Errors never quote the password.
func Open(ctx context.Context, url string, opts *Options) (*Store, error) {
	s, err := open(ctx, url, opts)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open %s: %w", redact(url), err)
	}
	return s, nil
}

// open is Open without the URL in its errors, for store.Open, which names
// the URL itself.
func open(ctx context.Context, url string, opts *Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgconn masks the password in its message; scrub it anyway.
		return nil, scrub(err, passwordOf(url))
	}
	pw := cfg.ConnConfig.Password
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, scrub(err, pw)
	}
	s, err := newStore(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, scrub(err, pw)
	}
	s.ownPool = true
	return s, nil
}

// Close marks the store closed: later calls fail with an error wrapping
// store.ErrClosed. It closes the pool when Open made it, waiting for calls
// in flight to return it their connections, or for ctx. Closing twice is
// not an error.
func (s *Store) Close(ctx context.Context) error {
	if s.closed.Swap(true) || !s.ownPool {
		return nil
	}
	done := make(chan struct{})
	go func() {
		s.pool.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("pgstore: close: %w", ctx.Err())
	}
}

// check fails when the store is closed or ctx is done, before any I/O.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// interpretError maps driver errors to the sentinels callers branch on:
// pgx.ErrNoRows to store.ErrNotFound, and any failure of a closed store to
// store.ErrClosed. Other errors are returned unchanged.
func (s *Store) interpretError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return store.ErrNotFound
	case s.closed.Load() && !errors.Is(err, store.ErrClosed):
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}

// conn runs fn on a connection of the pool. A function that needs a
// transaction queues qBegin at the head of its first pipeline (pgx.Batch)
// and qCommit at the tail of its last, so that reading rows, deciding in Go
// and writing costs two round trips. Whatever transaction fn leaves open,
// on an error or a refusal, is rolled back here; a connection that cannot
// be rolled back is closed by the pool.
func (s *Store) conn(ctx context.Context, fn func(*pgx.Conn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	err = fn(c.Conn())
	if c.Conn().PgConn().TxStatus() != 'I' && !c.Conn().IsClosed() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = c.Conn().Exec(rctx, qRollback)
	}
	return err
}

// closeBatch closes a pipeline's results and returns err, or else the
// first error of the pipeline.
func closeBatch(res pgx.BatchResults, err error) error {
	cerr := res.Close()
	if err != nil {
		return err
	}
	return cerr
}

// PostgreSQL error codes the store acts on.
const (
	codeUniqueViolation = "23505"
)

// isCode reports whether err is a PostgreSQL error with the given code.
func isCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// redact returns a URL for messages, its password masked; a key=value
// connection string is not quoted at all.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return "(connection string)"
	}
	return store.Redact(u)
}

// passwordOf returns the password of a URL, if it has one.
func passwordOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	pw, _ := u.User.Password()
	return pw
}

// scrubbedError is an error whose message had a password masked. It
// unwraps to the original, so errors.Is still sees through it.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub masks pw, raw or escaped, in err's message.
func scrub(err error, pw string) error {
	msg := err.Error()
	if pw == "" {
		return err
	}
	for _, s := range []string{pw, url.QueryEscape(pw), url.PathEscape(pw)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return &scrubbedError{msg: msg, err: err}
}
