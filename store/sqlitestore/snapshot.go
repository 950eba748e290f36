package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/fleetkit/fleetkit/snapshot"
)

var _ snapshot.Store = (*Store)(nil)

// The snapshot catalogue (migration 0002). Writes run on the writer like
// every other write, so each is one transaction deciding on the state it
// reads; reads run in read transactions on the pool. The statements are
// not prepared ahead: the catalogue changes a few times a day.

const snapshotColumns = `id, os_release, parent, state, pinned, seal_key_id, seal_mac, total_bytes,
created_by, created_at, sealed_at, released_at, state_at, updated_at`

const (
	sqlSnapshotByID       = `SELECT ` + snapshotColumns + `, manifest FROM snapshots WHERE id = ?`
	sqlSnapshotEvents     = `SELECT at, by_whom, from_state, to_state, pinned, reason FROM snapshot_events WHERE snapshot_id = ? ORDER BY seq`
	sqlInsertSnapshot     = `INSERT INTO snapshots (id, os_release, parent, state, pinned, created_by, created_at, state_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	sqlInsertSnapshotEvnt = `INSERT INTO snapshot_events (snapshot_id, seq, at, by_whom, from_state, to_state, pinned, reason)
VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM snapshot_events WHERE snapshot_id = ?), ?, ?, ?, ?, ?, ?)`
	sqlSealSnapshot = `UPDATE snapshots SET state = ?, manifest = ?, seal_key_id = ?, seal_mac = ?, total_bytes = ?,
sealed_at = ?, state_at = ?, updated_at = ? WHERE id = ?`
	sqlInsertSnapshotBlob = `INSERT INTO snapshot_blobs (snapshot_id, digest, size) VALUES (?, ?, ?)`
	sqlSetSnapshotState   = `UPDATE snapshots SET state = ?, released_at = ?, state_at = ?, updated_at = ? WHERE id = ?`
	sqlSetSnapshotPinned  = `UPDATE snapshots SET pinned = ?, updated_at = ? WHERE id = ?`
	sqlReferencedBlobs    = `SELECT b.digest, b.size FROM snapshots s JOIN snapshot_blobs b ON b.snapshot_id = s.id
WHERE s.state <> ? AND s.id NOT IN (SELECT value FROM json_each(?))`
	sqlCountSnapshots = `SELECT state, COUNT(*) FROM snapshots GROUP BY state`
)

// querier is a connection or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// scanSnapshot reads a row of snapshotColumns, followed by the manifest
// when withManifest.
func scanSnapshot(sc scanner, withManifest bool) (*snapshot.Snapshot, error) {
	s := &snapshot.Snapshot{}
	var state string
	dest := []any{&s.ID, &s.OSRelease, &s.Parent, &state, &s.Pinned, &s.Seal.KeyID, &s.Seal.MAC, &s.TotalBytes,
		&s.CreatedBy, timeCol{&s.CreatedAt}, timeCol{&s.SealedAt}, timeCol{&s.ReleasedAt}, timeCol{&s.StateAt}, timeCol{&s.UpdatedAt}}
	if withManifest {
		dest = append(dest, &s.Manifest)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	s.State = snapshot.State(state)
	if len(s.Seal.MAC) == 0 {
		s.Seal.MAC = nil
	}
	if len(s.Manifest) == 0 {
		s.Manifest = nil
	}
	return s, nil
}

// readSnapshot reads snapshot id with its manifest and history through q.
func readSnapshot(ctx context.Context, q querier, id string) (*snapshot.Snapshot, error) {
	s, err := scanSnapshot(q.QueryRowContext(ctx, sqlSnapshotByID, id), true)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, sqlSnapshotEvents, id)
	if err != nil {
		return nil, err
	}
	s.History, err = collect(rows, func(sc scanner) (snapshot.Event, error) {
		var e snapshot.Event
		var from, to string
		err := sc.Scan(timeCol{&e.At}, &e.By, &from, &to, &e.Pinned, &e.Reason)
		e.From, e.To = snapshot.State(from), snapshot.State(to)
		return e, err
	})
	return s, err
}

// addEvent records the last event of s.
func addEvent(ctx context.Context, q querier, s *snapshot.Snapshot) error {
	e := s.History[len(s.History)-1]
	_, err := q.ExecContext(ctx, sqlInsertSnapshotEvnt, s.ID, s.ID, micros(e.At), e.By, string(e.From), string(e.To), e.Pinned, e.Reason)
	return err
}

// CreateSnapshot implements [snapshot.Store.CreateSnapshot].
func (s *Store) CreateSnapshot(ctx context.Context, p snapshot.NewSnapshot) (*snapshot.Snapshot, error) {
	p, err := p.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.checkOpen("create snapshot " + p.ID); err != nil {
		return nil, err
	}
	r := p.Record()
	err = s.write(ctx, func(w *writer) error {
		var n int
		if err := w.conn.QueryRowContext(w.ctx, `SELECT COUNT(*) FROM snapshots WHERE id = ?`, p.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return snapshot.ErrSnapshotExists
		}
		if _, err := w.conn.ExecContext(w.ctx, sqlInsertSnapshot, r.ID, r.OSRelease, r.Parent, string(r.State), r.Pinned,
			r.CreatedBy, micros(r.CreatedAt), micros(r.StateAt), micros(r.UpdatedAt)); err != nil {
			return err
		}
		return addEvent(w.ctx, w.conn, r)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: create snapshot %s: %w", p.ID, interpretError(err))
	}
	return r, nil
}

// Snapshot implements [snapshot.Store.Snapshot]. The record and its
// history are read in one read transaction.
func (s *Store) Snapshot(ctx context.Context, id string) (*snapshot.Snapshot, error) {
	if err := s.checkOpen("snapshot " + id); err != nil {
		return nil, err
	}
	snap, err := func() (*snapshot.Snapshot, error) {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		defer func() { _ = tx.Rollback() }()
		return readSnapshot(ctx, tx, id)
	}()
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: snapshot %s: %w", id, interpretError(err))
	}
	return snap, nil
}

// ListSnapshots implements [snapshot.Store.ListSnapshots].
func (s *Store) ListSnapshots(ctx context.Context, f snapshot.SnapshotFilter) (snapshot.SnapshotPage, error) {
	if err := f.Validate(); err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("sqlitestore: %w", err)
	}
	if err := s.checkOpen("list snapshots"); err != nil {
		return snapshot.SnapshotPage{}, err
	}
	var q query
	q.add(f.Cursor != "", "id > ?", f.Cursor)
	q.add(f.OSRelease != "", "os_release = ?", f.OSRelease)
	q.add(len(f.States) > 0, "state IN ("+placeholders(len(f.States))+")", strArgs(f.States)...)
	limit := f.PageLimit()
	rows, err := s.db.QueryContext(ctx, `SELECT `+snapshotColumns+` FROM snapshots`+q.where()+` ORDER BY id LIMIT ?`,
		append(q.args, limit+1)...)
	if err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("sqlitestore: list snapshots: %w", interpretError(err))
	}
	snaps, err := collect(rows, func(sc scanner) (*snapshot.Snapshot, error) { return scanSnapshot(sc, false) })
	if err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("sqlitestore: list snapshots: %w", interpretError(err))
	}
	return f.TrimPage(snaps), nil
}

// modifySnapshot runs fn on the writer with snapshot id's current record
// and returns the record as it is afterwards.
func (s *Store) modifySnapshot(ctx context.Context, op, id string, fn func(w *writer, cur *snapshot.Snapshot) error) (*snapshot.Snapshot, error) {
	if err := s.checkOpen(op + " snapshot " + id); err != nil {
		return nil, err
	}
	var out *snapshot.Snapshot
	err := s.write(ctx, func(w *writer) error {
		cur, err := readSnapshot(w.ctx, w.conn, id)
		if err != nil {
			return err
		}
		if err := fn(w, cur); err != nil {
			return err
		}
		out, err = readSnapshot(w.ctx, w.conn, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s snapshot %s: %w", op, id, interpretError(err))
	}
	return out, nil
}

// SealSnapshot implements [snapshot.Store.SealSnapshot]: the manifest, its
// seal, the blobs it references and the event are written in one
// transaction. A trigger of the schema also refuses any change to a sealed
// manifest.
func (s *Store) SealSnapshot(ctx context.Context, p snapshot.SealParams) (*snapshot.Snapshot, error) {
	p, content, err := p.Validate()
	if err != nil {
		return nil, err
	}
	return s.modifySnapshot(ctx, "seal", p.ID, func(w *writer, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckSeal(cur, p, content); err != nil {
			return err
		}
		next := snapshot.ApplySeal(cur, p, content)
		if _, err := w.conn.ExecContext(w.ctx, sqlSealSnapshot, string(next.State), next.Manifest, next.Seal.KeyID,
			next.Seal.MAC, next.TotalBytes, micros(next.SealedAt), micros(next.StateAt), micros(next.UpdatedAt), next.ID); err != nil {
			return err
		}
		ins, err := w.conn.PrepareContext(w.ctx, sqlInsertSnapshotBlob)
		if err != nil {
			return err
		}
		defer ins.Close()
		for d, size := range content.Blobs {
			if _, err := ins.ExecContext(w.ctx, next.ID, d[:], size); err != nil {
				return err
			}
		}
		return addEvent(w.ctx, w.conn, next)
	})
}

// SetSnapshotState implements [snapshot.Store.SetSnapshotState].
func (s *Store) SetSnapshotState(ctx context.Context, c snapshot.StateChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modifySnapshot(ctx, "set state of", c.ID, func(w *writer, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckStateChange(cur, c); err != nil {
			return err
		}
		next := snapshot.ApplyStateChange(cur, c)
		if _, err := w.conn.ExecContext(w.ctx, sqlSetSnapshotState, string(next.State), micros(next.ReleasedAt),
			micros(next.StateAt), micros(next.UpdatedAt), next.ID); err != nil {
			return err
		}
		return addEvent(w.ctx, w.conn, next)
	})
}

// SetSnapshotPinned implements [snapshot.Store.SetSnapshotPinned].
func (s *Store) SetSnapshotPinned(ctx context.Context, c snapshot.PinChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modifySnapshot(ctx, "pin", c.ID, func(w *writer, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckPinChange(cur, c); err != nil {
			return err
		}
		next, changed := snapshot.ApplyPinChange(cur, c)
		if !changed {
			return nil
		}
		if _, err := w.conn.ExecContext(w.ctx, sqlSetSnapshotPinned, next.Pinned, micros(next.UpdatedAt), next.ID); err != nil {
			return err
		}
		return addEvent(w.ctx, w.conn, next)
	})
}

// ReferencedBlobs implements [snapshot.Store.ReferencedBlobs].
func (s *Store) ReferencedBlobs(ctx context.Context, except []string) (map[snapshot.Digest]int64, error) {
	if err := s.checkOpen("referenced blobs"); err != nil {
		return nil, err
	}
	if except == nil {
		except = []string{}
	}
	ex, err := json.Marshal(except)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: referenced blobs: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, sqlReferencedBlobs, string(snapshot.StatePurged), string(ex))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: referenced blobs: %w", interpretError(err))
	}
	defer rows.Close()
	out := map[snapshot.Digest]int64{}
	for rows.Next() {
		var b []byte
		var size int64
		if err := rows.Scan(&b, &size); err != nil {
			return nil, fmt.Errorf("sqlitestore: referenced blobs: %w", interpretError(err))
		}
		var d snapshot.Digest
		if len(b) != len(d) {
			return nil, fmt.Errorf("sqlitestore: referenced blobs: stored digest has %d bytes", len(b))
		}
		copy(d[:], b)
		out[d] = size
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: referenced blobs: %w", interpretError(err))
	}
	return out, nil
}

// CountSnapshots implements [snapshot.Store.CountSnapshots].
func (s *Store) CountSnapshots(ctx context.Context) (map[snapshot.State]int, error) {
	if err := s.checkOpen("count snapshots"); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, sqlCountSnapshots)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: count snapshots: %w", interpretError(err))
	}
	type count struct {
		state string
		n     int
	}
	counts, err := collect(rows, func(sc scanner) (count, error) {
		var c count
		return c, sc.Scan(&c.state, &c.n)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: count snapshots: %w", interpretError(err))
	}
	out := make(map[snapshot.State]int, len(counts))
	for _, c := range counts {
		out[snapshot.State(c.state)] = c.n
	}
	return out, nil
}
