package sqlitestore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/fleetkit/fleetkit/store"
)

// Group commit.
//
// SQLite has one writer at a time, and what a write transaction costs is
// mostly fixed: taking the lock, and at COMMIT appending every page it
// touched to the WAL. So every write of the Store goes to one goroutine
// that owns the writer connection. It takes the first queued request and
// whatever else is queued behind it (at most Options.MaxGroup), opens one
// transaction (BEGIN IMMEDIATE), runs each request inside its own SAVEPOINT
// and commits them all at once. A request that fails (a rejected batch, a
// job not in the expected state) rolls back to its savepoint, alone; the
// others commit. Callers are answered only after COMMIT, so nobody sees a
// result that could still be lost.
//
// With one request queued there is no savepoint: BEGIN, the request,
// COMMIT or ROLLBACK. If the group transaction itself fails (COMMIT fails,
// or an I/O error makes SQLite roll back the whole transaction), every
// request of the group is run again in a transaction of its own, so that
// an error reaches only the request that caused it.
//
// A caller whose context ends while its request is still queued gets the
// context's error and the request is dropped; once the writer has started
// a request it runs to the end (a few statements) and the caller waits for
// it, so that a request is either wholly applied or not at all.

// op is the body of a write request; it runs on the writer goroutine
// inside a transaction and returns its error. It must leave its results
// in variables the caller reads after the request is done.
type op func(w *writer) error

// request states.
const (
	queued int32 = iota
	taken
	abandoned
)

type request struct {
	ctx   context.Context
	run   op
	state atomic.Int32
	err   error
	done  chan struct{}
}

// take claims r for the writer; false means its caller gave up.
func (r *request) take() bool { return r.state.CompareAndSwap(queued, taken) }

// writer owns the writer connection and runs the write requests.
type writer struct {
	conn     *sql.Conn
	st       *writeStmts
	stmts    *stmtList
	reqs     chan *request
	maxGroup int

	// ctx is the context of every statement: context.Background. A
	// statement never runs under a caller's context, whose end would
	// interrupt it and with it the transaction of the whole group; and
	// the driver watches a cancellable context with a goroutine per
	// statement, which costs more than many statements do.
	ctx   context.Context
	quit  chan struct{} // closed by Close
	done  chan struct{} // closed when loop returns
	group []*request    // the group being run; reused

	// jobStmts caches the job inserts by number of rows (batch.go).
	jobStmts map[int]*sql.Stmt
	// queueStmts caches the queue's statements by SQL text (queue.go).
	queueStmts map[string]*sql.Stmt

	// groups counts the group commits, and grouped the requests they
	// committed (successful or not), for tests.
	groups, grouped atomic.Int64
}

func newWriter(conn *sql.Conn, st *writeStmts, stmts *stmtList, maxGroup int) *writer {
	return &writer{
		conn: conn, st: st, stmts: stmts,
		reqs:     make(chan *request, 4*maxGroup),
		maxGroup: maxGroup,
		ctx:      context.Background(),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		group:    make([]*request, 0, maxGroup),

		jobStmts:   make(map[int]*sql.Stmt),
		queueStmts: make(map[string]*sql.Stmt),
	}
}

// do runs fn as a write request and returns its error. It returns an error
// wrapping store.ErrClosed when the store is closed before fn runs, and
// ctx's error when ctx ends before fn starts.
func (w *writer) do(ctx context.Context, fn op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{ctx: ctx, run: fn, done: make(chan struct{})}
	select {
	case w.reqs <- r:
	case <-w.quit:
		return store.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
	case <-w.done:
		// The writer stopped; the request may have been queued after it
		// drained the queue.
		if r.state.CompareAndSwap(queued, abandoned) {
			return store.ErrClosed
		}
	}
	<-r.done // taken: it is running or ran
	return r.err
}

// loop serves requests until Close. Once Close is called it starts no new
// group, and answers the requests still queued with store.ErrClosed.
func (w *writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.quit:
			w.drainClosed()
			return
		default:
		}
		select {
		case r := <-w.reqs:
			w.group = append(w.group[:0], r)
		drain:
			for len(w.group) < w.maxGroup {
				select {
				case r := <-w.reqs:
					w.group = append(w.group, r)
				default:
					break drain
				}
			}
			w.runGroup(w.group)
			clear(w.group)
		case <-w.quit:
			w.drainClosed()
			return
		}
	}
}

// drainClosed answers every queued request with store.ErrClosed.
func (w *writer) drainClosed() {
	for {
		select {
		case r := <-w.reqs:
			finish(r, store.ErrClosed)
		default:
			return
		}
	}
}

// finish answers a request that has not run.
func finish(r *request, err error) {
	if r.take() {
		r.err = err
		close(r.done)
	}
}

func (w *writer) exec(s *sql.Stmt) error {
	_, err := s.ExecContext(w.ctx)
	return err
}

// begin opens the write transaction. Should an earlier failure have left
// the connection inside a transaction, that one is rolled back first.
func (w *writer) begin() error {
	err := w.exec(w.st.begin)
	if err != nil && strings.Contains(err.Error(), "within a transaction") {
		_ = w.exec(w.st.rollback)
		err = w.exec(w.st.begin)
	}
	if err != nil {
		return fmt.Errorf("begin write transaction: %w", interpretError(err))
	}
	return nil
}

// runGroup runs the requests of one group commit and answers them.
func (w *writer) runGroup(group []*request) {
	// Take the write lock first: callers may still give up while it is
	// awaited.
	if err := w.begin(); err != nil {
		for _, r := range group {
			finish(r, err)
		}
		return
	}
	live := takeLive(group)
	var err error
	switch len(live) {
	case 0:
		_ = w.exec(w.st.rollback)
		return
	case 1:
		// Alone: no savepoint. If it fails, the transaction is rolled
		// back whole and whatever queued meanwhile waits for the next
		// group.
		r := live[0]
		if r.err = r.run(w); r.err != nil {
			_ = w.exec(w.st.rollback)
			close(r.done)
			return
		}
	default:
		err = w.runSavepoints(live)
	}
	// Requests queued while the group ran join it before COMMIT: under
	// load the writer never commits a small group while others wait.
	for err == nil && len(live) < w.maxGroup {
		more := w.takeQueued(w.maxGroup - len(live))
		if len(more) == 0 {
			break
		}
		err = w.runSavepoints(more)
		live = append(live, more...)
	}
	if err == nil {
		err = w.exec(w.st.commit)
	}
	if err != nil {
		// The group transaction failed as a whole: run each request
		// alone, so that the error reaches only the one that caused it.
		_ = w.exec(w.st.rollback)
		for _, r := range live {
			w.runOne(r)
		}
		return
	}
	w.groups.Add(1)
	w.grouped.Add(int64(len(live)))
	for _, r := range live {
		close(r.done)
	}
}

// takeLive takes the requests whose callers still wait, answering those
// whose context ended.
func takeLive(group []*request) []*request {
	live := make([]*request, 0, len(group))
	for _, r := range group {
		if !r.take() {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	return live
}

// takeQueued takes up to n queued requests without waiting; none once
// Close was called.
func (w *writer) takeQueued(n int) []*request {
	select {
	case <-w.quit:
		return nil
	default:
	}
	var more []*request
	for len(more) < n {
		select {
		case r := <-w.reqs:
			more = append(more, r)
		default:
			return takeLive(more)
		}
	}
	return takeLive(more)
}

// runSavepoints runs each request in its own savepoint of the open
// transaction. An error means the transaction is lost.
func (w *writer) runSavepoints(live []*request) error {
	for _, r := range live {
		if err := w.exec(w.st.savepoint); err != nil {
			return err
		}
		r.err = r.run(w)
		if r.err != nil {
			if err := w.exec(w.st.rollbackTo); err != nil {
				return err
			}
		}
		if err := w.exec(w.st.release); err != nil {
			return err
		}
	}
	return nil
}

// runOne runs r in a transaction of its own and answers it.
func (w *writer) runOne(r *request) {
	if err := w.begin(); err != nil {
		r.err = err
		close(r.done)
		return
	}
	w.finishOne(r)
}

// finishOne runs r in the open transaction, commits or rolls back, and
// answers it.
func (w *writer) finishOne(r *request) {
	defer close(r.done)
	if r.err = r.run(w); r.err != nil {
		// A failed rollback leaves at worst the transaction open, and
		// begin deals with that; r.err is what the caller needs.
		_ = w.exec(w.st.rollback)
		return
	}
	if err := w.exec(w.st.commit); err != nil {
		r.err = fmt.Errorf("commit: %w", interpretError(err))
		_ = w.exec(w.st.rollback)
	}
}

// stop ends the loop, answering queued requests with store.ErrClosed, and
// calls release once the running group, if any, is done. It waits for
// that unless ctx ends first; it then returns ctx's error and release runs
// later, its error lost.
func (w *writer) stop(ctx context.Context, release func() error) error {
	close(w.quit)
	select {
	case <-w.done:
		return release()
	case <-ctx.Done():
		go func() {
			<-w.done
			_ = release()
		}()
		return ctx.Err()
	}
}
