package memstore

import (
	"context"
	"fmt"
	"slices"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/store"
)

var _ snapshot.Store = (*Store)(nil)

// snapshotTable is the snapshot catalogue, guarded by Store.mu like the
// rest of the store. Records are never handed out: callers get copies.
type snapshotTable struct {
	byID  map[string]*snapshot.Snapshot
	ids   []string // sorted, for listings
	blobs map[string]map[snapshot.Digest]int64
}

// snapshots returns the catalogue, creating it on first use. Call it with
// s.mu held.
func (s *Store) snapshots() *snapshotTable {
	if s.snaps == nil {
		s.snaps = &snapshotTable{byID: map[string]*snapshot.Snapshot{}, blobs: map[string]map[snapshot.Digest]int64{}}
	}
	return s.snaps
}

// copySnapshot returns a copy of r that shares nothing with it; full
// copies carry the manifest and history, others leave them nil.
func copySnapshot(r *snapshot.Snapshot, full bool) *snapshot.Snapshot {
	c := *r
	c.Seal.MAC = slices.Clone(r.Seal.MAC)
	c.Manifest, c.History = nil, nil
	if full {
		c.Manifest = slices.Clone(r.Manifest)
		c.History = slices.Clone(r.History)
	}
	return &c
}

// snapshotErr wraps err for operation op on snapshot id.
func snapshotErr(op, id string, err error) error {
	return fmt.Errorf("memstore: %s snapshot %s: %w", op, id, err)
}

// CreateSnapshot implements [snapshot.Store.CreateSnapshot].
func (s *Store) CreateSnapshot(ctx context.Context, p snapshot.NewSnapshot) (*snapshot.Snapshot, error) {
	p, err := p.Validate()
	if err != nil {
		return nil, err
	}
	if err := s.lock(ctx); err != nil {
		return nil, snapshotErr("create", p.ID, err)
	}
	defer s.mu.Unlock()
	t := s.snapshots()
	if _, ok := t.byID[p.ID]; ok {
		return nil, snapshotErr("create", p.ID, snapshot.ErrSnapshotExists)
	}
	r := p.Record()
	t.byID[p.ID] = r
	i, _ := slices.BinarySearch(t.ids, p.ID)
	t.ids = slices.Insert(t.ids, i, p.ID)
	return copySnapshot(r, true), nil
}

// Snapshot implements [snapshot.Store.Snapshot].
func (s *Store) Snapshot(ctx context.Context, id string) (*snapshot.Snapshot, error) {
	if err := s.lock(ctx); err != nil {
		return nil, snapshotErr("read", id, err)
	}
	defer s.mu.Unlock()
	r, ok := s.snapshots().byID[id]
	if !ok {
		return nil, snapshotErr("read", id, store.ErrNotFound)
	}
	return copySnapshot(r, true), nil
}

// ListSnapshots implements [snapshot.Store.ListSnapshots].
func (s *Store) ListSnapshots(ctx context.Context, f snapshot.SnapshotFilter) (snapshot.SnapshotPage, error) {
	if err := f.Validate(); err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("memstore: %w", err)
	}
	if err := s.lock(ctx); err != nil {
		return snapshot.SnapshotPage{}, fmt.Errorf("memstore: list snapshots: %w", err)
	}
	defer s.mu.Unlock()
	t := s.snapshots()
	i, found := slices.BinarySearch(t.ids, f.Cursor)
	if found {
		i++
	}
	limit := f.PageLimit()
	var out []*snapshot.Snapshot
	for _, id := range t.ids[i:] {
		if r := t.byID[id]; f.Match(r) {
			out = append(out, copySnapshot(r, false))
			if len(out) > limit {
				break
			}
		}
	}
	return f.TrimPage(out), nil
}

// modify runs the check-and-apply step fn on snapshot id's record under
// the lock and stores what it returns.
func (s *Store) modify(ctx context.Context, op, id string, fn func(t *snapshotTable, cur *snapshot.Snapshot) (*snapshot.Snapshot, error)) (*snapshot.Snapshot, error) {
	if err := s.lock(ctx); err != nil {
		return nil, snapshotErr(op, id, err)
	}
	defer s.mu.Unlock()
	t := s.snapshots()
	cur, ok := t.byID[id]
	if !ok {
		return nil, snapshotErr(op, id, store.ErrNotFound)
	}
	next, err := fn(t, cur)
	if err != nil {
		return nil, err
	}
	t.byID[id] = next
	return copySnapshot(next, true), nil
}

// SealSnapshot implements [snapshot.Store.SealSnapshot].
func (s *Store) SealSnapshot(ctx context.Context, p snapshot.SealParams) (*snapshot.Snapshot, error) {
	p, content, err := p.Validate()
	if err != nil {
		return nil, err
	}
	return s.modify(ctx, "seal", p.ID, func(t *snapshotTable, cur *snapshot.Snapshot) (*snapshot.Snapshot, error) {
		if err := snapshot.CheckSeal(cur, p, content); err != nil {
			return nil, err
		}
		t.blobs[p.ID] = content.Blobs
		return snapshot.ApplySeal(cur, p, content), nil
	})
}

// SetSnapshotState implements [snapshot.Store.SetSnapshotState].
func (s *Store) SetSnapshotState(ctx context.Context, c snapshot.StateChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modify(ctx, "set state of", c.ID, func(_ *snapshotTable, cur *snapshot.Snapshot) (*snapshot.Snapshot, error) {
		if err := snapshot.CheckStateChange(cur, c); err != nil {
			return nil, err
		}
		return snapshot.ApplyStateChange(cur, c), nil
	})
}

// SetSnapshotPinned implements [snapshot.Store.SetSnapshotPinned].
func (s *Store) SetSnapshotPinned(ctx context.Context, c snapshot.PinChange) (*snapshot.Snapshot, error) {
	c, err := c.Validate()
	if err != nil {
		return nil, err
	}
	return s.modify(ctx, "pin", c.ID, func(_ *snapshotTable, cur *snapshot.Snapshot) (*snapshot.Snapshot, error) {
		if err := snapshot.CheckPinChange(cur, c); err != nil {
			return nil, err
		}
		next, _ := snapshot.ApplyPinChange(cur, c)
		return next, nil
	})
}

// ReferencedBlobs implements [snapshot.Store.ReferencedBlobs].
func (s *Store) ReferencedBlobs(ctx context.Context, except []string) (map[snapshot.Digest]int64, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("memstore: referenced blobs: %w", err)
	}
	defer s.mu.Unlock()
	t := s.snapshots()
	out := map[snapshot.Digest]int64{}
	for id, blobs := range t.blobs {
		if t.byID[id].State == snapshot.StatePurged || slices.Contains(except, id) {
			continue
		}
		for d, n := range blobs {
			out[d] = n
		}
	}
	return out, nil
}

// CountSnapshots implements [snapshot.Store.CountSnapshots].
func (s *Store) CountSnapshots(ctx context.Context) (map[snapshot.State]int, error) {
	if err := s.lock(ctx); err != nil {
		return nil, fmt.Errorf("memstore: count snapshots: %w", err)
	}
	defer s.mu.Unlock()
	out := map[snapshot.State]int{}
	for _, r := range s.snapshots().byID {
		out[r.State]++
	}
	return out, nil
}
