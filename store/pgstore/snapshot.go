package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/snapshot"
)

var _ snapshot.Store = (*Store)(nil)

// The snapshot catalogue (migration 0002). Each write is one transaction
// that locks the snapshot's row (SELECT … FOR UPDATE), decides in Go with
// the snapshot package's checks, and writes: two transactions changing one
// snapshot run one after the other, and the second decides on what the
// first wrote. The catalogue changes a few times a day, so clarity wins
// over round trips here.

const qSnapshotColumns = `id, os_release, parent, state, pinned, seal_key_id, seal_mac, total_bytes,
created_by, created_at, sealed_at, released_at, state_at, updated_at`

const (
	qSnapshot       = `SELECT ` + qSnapshotColumns + `, manifest FROM snapshots WHERE id = $1`
	qLockSnapshot   = qSnapshot + ` FOR UPDATE`
	qSnapshotEvents = `SELECT at, by_whom, from_state, to_state, pinned, reason FROM snapshot_events WHERE snapshot_id = $1 ORDER BY seq`
	qInsertSnapshot = `INSERT INTO snapshots (id, os_release, parent, state, pinned, created_by, created_at, state_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7) ON CONFLICT (id) DO NOTHING`
	qInsertSnapshotEvent = `INSERT INTO snapshot_events (snapshot_id, seq, at, by_whom, from_state, to_state, pinned, reason)
VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM snapshot_events WHERE snapshot_id = $1), $2, $3, $4, $5, $6, $7)`
	qSealSnapshot = `UPDATE snapshots SET state = $2, manifest = $3, seal_key_id = $4, seal_mac = $5, total_bytes = $6,
sealed_at = $7, state_at = $7, updated_at = $7 WHERE id = $1`
	qInsertSnapshotBlobs = `INSERT INTO snapshot_blobs (snapshot_id, digest, size)
SELECT $1, d, n FROM unnest($2::bytea[], $3::bigint[]) AS b (d, n)`
	qSetSnapshotState  = `UPDATE snapshots SET state = $2, released_at = $3, state_at = $4, updated_at = $4 WHERE id = $1`
	qSetSnapshotPinned = `UPDATE snapshots SET pinned = $2, updated_at = $3 WHERE id = $1`
	qReferencedBlobs   = `SELECT b.digest, b.size FROM snapshots s JOIN snapshot_blobs b ON b.snapshot_id = s.id
WHERE s.state <> $1 AND s.id <> ALL ($2::text[])`
	qCountSnapshots = `SELECT state, count(*) FROM snapshots GROUP BY state`
)

// scanSnapshot reads a row of qSnapshotColumns, followed by the manifest
// when withManifest.
func scanSnapshot(row pgx.Row, withManifest bool) (*snapshot.Snapshot, error) {
	s := &snapshot.Snapshot{}
	var state string
	dest := []any{&s.ID, &s.OSRelease, &s.Parent, &state, &s.Pinned, &s.Seal.KeyID, &s.Seal.MAC, &s.TotalBytes,
		&s.CreatedBy, (*utcTime)(&s.CreatedAt), (*utcTime)(&s.SealedAt), (*utcTime)(&s.ReleasedAt),
		(*utcTime)(&s.StateAt), (*utcTime)(&s.UpdatedAt)}
	if withManifest {
		dest = append(dest, &s.Manifest)
	}
	if err := row.Scan(dest...); err != nil {
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

// pgQuerier is a pool or a transaction.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// readSnapshot reads snapshot id with its manifest and history; lock
// takes the row lock first.
func readSnapshot(ctx context.Context, q pgQuerier, id string, lock bool) (*snapshot.Snapshot, error) {
	query := qSnapshot
	if lock {
		query = qLockSnapshot
	}
	s, err := scanSnapshot(q.QueryRow(ctx, query, id), true)
	if err != nil {
		return nil, err
	}
	rows, err := q.Query(ctx, qSnapshotEvents, id)
	if err != nil {
		return nil, err
	}
	s.History, err = collect(rows, func(r pgx.Row) (snapshot.Event, error) {
		var e snapshot.Event
		var from, to string
		err := r.Scan((*utcTime)(&e.At), &e.By, &from, &to, &e.Pinned, &e.Reason)
		e.From, e.To = snapshot.State(from), snapshot.State(to)
		return e, err
	})
	return s, err
}

// addEvent records the last event of s.
func addEvent(ctx context.Context, tx pgx.Tx, s *snapshot.Snapshot) error {
	e := s.History[len(s.History)-1]
	_, err := tx.Exec(ctx, qInsertSnapshotEvent, s.ID, e.At, e.By, string(e.From), string(e.To), e.Pinned, e.Reason)
	return err
}

// CreateSnapshot implements [snapshot.Store.CreateSnapshot].
func (s *Store) CreateSnapshot(ctx context.Context, p snapshot.NewSnapshot) (*snapshot.Snapshot, error) {
	p, err := p.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: create snapshot %s: %w", p.ID, err)
	}
	r := p.Record()
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, qInsertSnapshot, r.ID, r.OSRelease, r.Parent, string(r.State), r.Pinned, r.CreatedBy, r.CreatedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return snapshot.ErrSnapshotExists
		}
		return addEvent(ctx, tx, r)
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: create snapshot %s: %w", p.ID, s.interpretError(err))
	}
	return r, nil
}

// Snapshot implements [snapshot.Store.Snapshot]. The record and its
// history are read in one snapshot-isolated read-only transaction.
func (s *Store) Snapshot(ctx context.Context, id string) (*snapshot.Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: snapshot %s: %w", id, err)
	}
	var out *snapshot.Snapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		out, err = readSnapshot(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: snapshot %s: %w", id, s.interpretError(err))
	}
	return out, nil
}

// ListSnapshots implements [snapshot.Store.ListSnapshots].
func (s *Store) ListSnapshots(ctx context.Context, f snapshot.SnapshotFilter) (snapshot.SnapshotPage, error) {
	if err := f.Validate(); err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("pgstore: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("pgstore: list snapshots: %w", err)
	}
	limit := f.PageLimit()
	rows, err := s.pool.Query(ctx, `SELECT `+qSnapshotColumns+` FROM snapshots
WHERE id > $1 AND ($2 = '' OR os_release = $2) AND (cardinality($3::text[]) = 0 OR state = ANY ($3::text[]))
ORDER BY id LIMIT $4`, f.Cursor, f.OSRelease, strs(f.States), limit+1)
	var snaps []*snapshot.Snapshot
	if err == nil {
		snaps, err = collect(rows, func(r pgx.Row) (*snapshot.Snapshot, error) { return scanSnapshot(r, false) })
	}
	if err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("pgstore: list snapshots: %w", s.interpretError(err))
	}
	return f.TrimPage(snaps), nil
}

// modifySnapshot runs fn in a transaction holding snapshot id's row lock,
// with its current record, and returns the record as it is afterwards.
func (s *Store) modifySnapshot(ctx context.Context, op, id string, fn func(tx pgx.Tx, cur *snapshot.Snapshot) error) (*snapshot.Snapshot, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: %s snapshot %s: %w", op, id, err)
	}
	var out *snapshot.Snapshot
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := readSnapshot(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := fn(tx, cur); err != nil {
			return err
		}
		out, err = readSnapshot(ctx, tx, id, false)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: %s snapshot %s: %w", op, id, s.interpretError(err))
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
	return s.modifySnapshot(ctx, "seal", p.ID, func(tx pgx.Tx, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckSeal(cur, p, content); err != nil {
			return err
		}
		next := snapshot.ApplySeal(cur, p, content)
		if _, err := tx.Exec(ctx, qSealSnapshot, next.ID, string(next.State), next.Manifest, next.Seal.KeyID,
			next.Seal.MAC, next.TotalBytes, next.SealedAt); err != nil {
			return err
		}
		digests := make([][]byte, 0, len(content.Blobs))
		sizes := make([]int64, 0, len(content.Blobs))
		for d, n := range content.Blobs {
			digests = append(digests, d[:])
			sizes = append(sizes, n)
		}
		if _, err := tx.Exec(ctx, qInsertSnapshotBlobs, next.ID, digests, sizes); err != nil {
			return err
		}
		return addEvent(ctx, tx, next)
	})
}

// SetSnapshotState implements [snapshot.Store.SetSnapshotState].
func (s *Store) SetSnapshotState(ctx context.Context, c snapshot.StateChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modifySnapshot(ctx, "set state of", c.ID, func(tx pgx.Tx, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckStateChange(cur, c); err != nil {
			return err
		}
		next := snapshot.ApplyStateChange(cur, c)
		if _, err := tx.Exec(ctx, qSetSnapshotState, next.ID, string(next.State), nullTime(next.ReleasedAt), next.StateAt); err != nil {
			return err
		}
		return addEvent(ctx, tx, next)
	})
}

// SetSnapshotPinned implements [snapshot.Store.SetSnapshotPinned].
func (s *Store) SetSnapshotPinned(ctx context.Context, c snapshot.PinChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modifySnapshot(ctx, "pin", c.ID, func(tx pgx.Tx, cur *snapshot.Snapshot) error {
		if err := snapshot.CheckPinChange(cur, c); err != nil {
			return err
		}
		next, changed := snapshot.ApplyPinChange(cur, c)
		if !changed {
			return nil
		}
		if _, err := tx.Exec(ctx, qSetSnapshotPinned, next.ID, next.Pinned, next.UpdatedAt); err != nil {
			return err
		}
		return addEvent(ctx, tx, next)
	})
}

// ReferencedBlobs implements [snapshot.Store.ReferencedBlobs].
func (s *Store) ReferencedBlobs(ctx context.Context, except []string) (map[snapshot.Digest]int64, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: referenced blobs: %w", err)
	}
	if except == nil {
		except = []string{}
	}
	out := map[snapshot.Digest]int64{}
	rows, err := s.pool.Query(ctx, qReferencedBlobs, string(snapshot.StatePurged), except)
	if err == nil {
		_, err = collect(rows, func(r pgx.Row) (struct{}, error) {
			var b []byte
			var n int64
			if err := r.Scan(&b, &n); err != nil {
				return struct{}{}, err
			}
			var d snapshot.Digest
			if len(b) != len(d) {
				return struct{}{}, fmt.Errorf("stored digest has %d bytes", len(b))
			}
			copy(d[:], b)
			out[d] = n
			return struct{}{}, nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: referenced blobs: %w", s.interpretError(err))
	}
	return out, nil
}

// CountSnapshots implements [snapshot.Store.CountSnapshots].
func (s *Store) CountSnapshots(ctx context.Context) (map[snapshot.State]int, error) {
	if err := s.check(ctx); err != nil {
		return nil, fmt.Errorf("pgstore: count snapshots: %w", err)
	}
	out := map[snapshot.State]int{}
	rows, err := s.pool.Query(ctx, qCountSnapshots)
	if err == nil {
		_, err = collect(rows, func(r pgx.Row) (struct{}, error) {
			var st string
			var n int
			err := r.Scan(&st, &n)
			out[snapshot.State(st)] = n
			return struct{}{}, err
		})
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: count snapshots: %w", s.interpretError(err))
	}
	return out, nil
}
