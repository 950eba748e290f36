package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
)

// Compile-time checks.
var (
	_ lifecycle.Store = (*Store)(nil)
	_ store.Backend   = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Scheme is the URL scheme the package registers with store.Open.
const Scheme = "sqlite"

func init() {
	store.Register(Scheme, openURL)
}

// Options configures a Store. A nil *Options means the defaults.
type Options struct {
	// Now is the clock that judges lease expiry, and the time given to a
	// batch whose CreatedAt is zero (default time.Now).
	Now func() time.Time
	// BusyTimeout is how long a connection waits for a lock another
	// process holds before failing with "database is locked" (default
	// 10s).
	BusyTimeout time.Duration
	// ReadConns bounds the connections used for reads, beside the one
	// writer connection (default: GOMAXPROCS, at least 4). Open only: New
	// uses the caller's pool as it is.
	ReadConns int
	// MaxGroup is the most write requests committed in one transaction
	// (group commit; see the package documentation). 1 gives every write
	// a transaction of its own. Default 64.
	MaxGroup int
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
	if out.BusyTimeout == 0 {
		out.BusyTimeout = 10 * time.Second
	}
	if out.ReadConns == 0 {
		out.ReadConns = max(runtime.GOMAXPROCS(0), 4)
	}
	if out.MaxGroup == 0 {
		out.MaxGroup = 64
	}
	return out
}

func (o *Options) validate() error {
	switch {
	case o.BusyTimeout < 0:
		return fmt.Errorf("%w: options: BusyTimeout %s is negative", store.ErrInvalid, o.BusyTimeout)
	case o.ReadConns < 1:
		return fmt.Errorf("%w: options: ReadConns %d is less than 1", store.ErrInvalid, o.ReadConns)
	case o.MaxGroup < 1:
		return fmt.Errorf("%w: options: MaxGroup %d is less than 1", store.ErrInvalid, o.MaxGroup)
	}
	return nil
}

// Store is the SQLite backend: it implements lifecycle.Store and
// store.Locker (store.Backend). Create one with Open or New. A Store is safe
// for concurrent use by many goroutines, and several processes may open
// the same database file.
type Store struct {
	db     *sql.DB
	ownDB  bool
	opts   Options
	w      *writer
	rd     *readStmts
	rstmts *stmtList
	closed atomic.Bool
}

// DSN returns the modernc.org/sqlite data source name Open uses for the
// database file at path: a file: URI whose parameters make every
// connection wait busyTimeout for locks, use the write-ahead log, check
// foreign keys, keep temporary data (such as savepoint journals) in memory,
// and sync at NORMAL level (in WAL mode a commit is durable once the WAL is
// synced at the next checkpoint; a power loss can lose the last commits but
// never corrupts the database).
//
// Use it to build the *sql.DB given to New.
func DSN(path string, busyTimeout time.Duration) string {
	u := url.URL{Path: path}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

// Open opens (creating it if needed) the database file at path, applies
// the pending migrations and returns a Store that owns the database: Close
// closes it. The directory must exist. ":memory:" is refused: every
// connection of the pool would see a different empty database.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	switch {
	case path == "":
		return nil, fmt.Errorf("sqlitestore: open: %w: empty path", store.ErrInvalid)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return nil, fmt.Errorf("sqlitestore: open %s: %w: want the path of a database file", path, store.ErrInvalid)
	}
	db, err := sql.Open("sqlite", DSN(path, o.BusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(o.ReadConns + 1)
	db.SetMaxIdleConns(o.ReadConns + 1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	s, err := newStore(ctx, db, o, true)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	return s, nil
}

// New returns a Store over a database the caller opened with the
// modernc.org/sqlite driver ("sqlite"), ideally with DSN. It applies the
// pending migrations. The Store keeps one connection of db for itself, for
// all its writes (on it, New sets busy_timeout, foreign_keys and
// synchronous=NORMAL, and switches the database to WAL), and reads through
// the rest of the pool, so db must allow at least two open connections.
// Close does not close db.
func New(ctx context.Context, db *sql.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("sqlitestore: new: %w: nil *sql.DB", store.ErrInvalid)
	}
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("sqlitestore: new: %w", err)
	}
	if n := db.Stats().MaxOpenConnections; n == 1 {
		return nil, fmt.Errorf("sqlitestore: new: %w: the pool allows 1 connection; the store needs one for writes and at least one for reads", store.ErrInvalid)
	}
	s, err := newStore(ctx, db, o, false)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: new: %w", err)
	}
	return s, nil
}

func newStore(ctx context.Context, db *sql.DB, o Options, own bool) (_ *Store, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		if err != nil {
			_ = conn.Close()
		}
	}()
	for _, p := range []string{
		"PRAGMA busy_timeout = " + strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10),
		"PRAGMA foreign_keys = ON",
		"PRAGMA journal_mode = WAL",
		"PRAGMA synchronous = NORMAL",
		"PRAGMA temp_store = MEMORY",
	} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := migrate(ctx, conn); err != nil {
		return nil, err
	}
	wst, wlist, err := prepareWrite(ctx, conn)
	if err != nil {
		return nil, err
	}
	rd, rlist, err := prepareRead(ctx, db)
	if err != nil {
		_ = wlist.close()
		return nil, err
	}
	s := &Store{db: db, ownDB: own, opts: o, rd: rd, rstmts: rlist}
	s.w = newWriter(conn, wst, wlist, o.MaxGroup)
	go s.w.loop()
	return s, nil
}

// Close stops the writer (queued writes fail with store.ErrClosed) and
// closes the writer connection, the prepared statements and, when the
// Store was made by Open, the database. It waits for the write being
// committed, if any; when ctx ends first it returns ctx's error and the
// resources are released as soon as that write is done. Calls after Close
// return errors wrapping store.ErrClosed; closing again does nothing and
// returns nil.
func (s *Store) Close(ctx context.Context) error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	release := func() error {
		errs := []error{s.w.stmts.close(), s.w.conn.Close(), s.rstmts.close()}
		if s.ownDB {
			errs = append(errs, s.db.Close())
		}
		return errors.Join(errs...)
	}
	if err := s.w.stop(ctx, release); err != nil {
		return fmt.Errorf("sqlitestore: close: %w", err)
	}
	return nil
}

// checkOpen returns an error wrapping store.ErrClosed after Close.
func (s *Store) checkOpen(what string) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlitestore: %s: %w", what, store.ErrClosed)
	}
	return nil
}

// write runs fn on the writer (see writer.do).
func (s *Store) write(ctx context.Context, fn op) error {
	return s.w.do(ctx, fn)
}

// now is Options.Now, in UTC to the microsecond, as times are stored.
func (s *Store) now() time.Time {
	return s.opts.Now().UTC().Truncate(time.Microsecond)
}

// openURL opens a Store for store.Open. The URL names a file:
// sqlite:///absolute/path/fleet.db, or sqlite:relative/path/fleet.db
// (relative to the working directory). A host part (sqlite://name/...),
// query parameters and fragments are refused rather than silently ignored.
func openURL(ctx context.Context, u *url.URL) (store.Backend, error) {
	path, err := pathFromURL(u)
	if err != nil {
		return nil, err
	}
	s, err := Open(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func pathFromURL(u *url.URL) (string, error) {
	const want = "want sqlite:///absolute/path.db or sqlite:relative/path.db"
	switch {
	case u.User != nil:
		return "", fmt.Errorf("sqlitestore: %w: a sqlite URL has no user information; %s", store.ErrInvalid, want)
	case u.RawQuery != "" || u.ForceQuery:
		return "", fmt.Errorf("sqlitestore: %w: a sqlite URL takes no query parameters; %s", store.ErrInvalid, want)
	case u.Fragment != "":
		return "", fmt.Errorf("sqlitestore: %w: a sqlite URL has no fragment; %s", store.ErrInvalid, want)
	case u.Opaque != "":
		p, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("sqlitestore: %w: malformed path; %s", store.ErrInvalid, want)
		}
		return p, nil
	case u.Host != "":
		return "", fmt.Errorf("sqlitestore: %w: host %q in a sqlite URL; %s", store.ErrInvalid, u.Host, want)
	case u.Path == "" || u.Path == "/":
		return "", fmt.Errorf("sqlitestore: %w: no database path; %s", store.ErrInvalid, want)
	}
	return u.Path, nil
}
