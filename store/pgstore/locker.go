package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/store"
)

// Leases are rows of the leases table, one per name, kept after release so
// that the fencing token of a name increases across every acquisition.
// Each call is one statement, atomic on its own. Expiry is judged by
// Options.Now, passed to the statement, so the nodes sharing a database
// need synchronised clocks.

// leaseTime is t as the database keeps it: UTC, to the microsecond.
func leaseTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Acquire takes the lease on name for ttl: it inserts the lease, or takes
// over a lease that lapsed or was released, incrementing its token, in one
// statement. When another holder has it, the error wraps store.ErrLocked.
// It implements store.Locker.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: acquire: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: acquire %q: %w", name, err)
	}
	now := leaseTime(s.now())
	l := store.Lease{Name: name, Holder: store.NewHolder(), Expires: leaseTime(now.Add(ttl))}
	err := s.pool.QueryRow(ctx, qAcquire, l.Name, l.Holder, l.Expires, now).Scan(&l.Token)
	if errors.Is(err, pgx.ErrNoRows) {
		var until utcTime
		if err := s.pool.QueryRow(ctx, qLeaseExpiry, name).Scan(&until); err == nil && !time.Time(until).IsZero() {
			return store.Lease{}, fmt.Errorf("pgstore: acquire %q: %w until %s", name, store.ErrLocked,
				time.Time(until).Format(time.RFC3339Nano))
		}
		return store.Lease{}, fmt.Errorf("pgstore: acquire %q: %w", name, store.ErrLocked)
	}
	if err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: acquire %q: %w", name, s.interpretError(err))
	}
	return l, nil
}

// Renew extends a held lease to ttl from now, keeping its token; when the
// lease lapsed or was taken over the error wraps store.ErrNotHeld. It
// implements store.Locker.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(l.Name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: renew: %w", err)
	}
	if err := s.check(ctx); err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: renew %s: %w", l, err)
	}
	now := leaseTime(s.now())
	expires := leaseTime(now.Add(ttl))
	tag, err := s.pool.Exec(ctx, qRenew, l.Name, l.Holder, l.Token, expires, now)
	if err != nil {
		return store.Lease{}, fmt.Errorf("pgstore: renew %s: %w", l, s.interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return store.Lease{}, fmt.Errorf("pgstore: renew %s: %w", l, store.ErrNotHeld)
	}
	l.Expires = expires
	return l, nil
}

// Release lets a held lease lapse at once so that another holder may take
// it; when the lease was no longer held the error wraps store.ErrNotHeld
// and nothing changes. It implements store.Locker.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := s.check(ctx); err != nil {
		return fmt.Errorf("pgstore: release %s: %w", l, err)
	}
	tag, err := s.pool.Exec(ctx, qRelease, l.Name, l.Holder, l.Token, leaseTime(s.now()))
	if err != nil {
		return fmt.Errorf("pgstore: release %s: %w", l, s.interpretError(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: release %s: %w", l, store.ErrNotHeld)
	}
	return nil
}
