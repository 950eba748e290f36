package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/store"
)

// Leases live in the leases table, one row per name that is never deleted:
// Release only expires the row, so the fencing token keeps increasing
// across releases. Expiry is judged with Options.Now at the moment the
// writer runs the request; a lease is held while now is before its
// expiry. Expiry times are kept to the microsecond.

// Acquire takes the lease on name for ttl, or fails at once with an error
// wrapping store.ErrLocked while another holder's lease is unexpired. An
// expired or released lease is taken over with the next token.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("sqlitestore: acquire: %w", err)
	}
	if err := s.checkOpen("acquire lease " + name); err != nil {
		return store.Lease{}, err
	}
	l := store.Lease{Name: name, Holder: store.NewHolder()}
	err := s.write(ctx, func(w *writer) error {
		now := s.now()
		l.Expires = now.Add(ttl).Truncate(time.Microsecond)
		err := w.st.acquire.QueryRowContext(w.ctx, name, l.Holder, l.Expires.UnixMicro(), now.UnixMicro()).Scan(&l.Token)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrLocked
		}
		return err
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("sqlitestore: acquire lease %q: %w", name, interpretError(err))
	}
	return l, nil
}

// Renew extends a held lease to ttl from now, keeping its token, or fails
// with an error wrapping store.ErrNotHeld when it expired or was taken
// over.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(l.Name, ttl); err != nil {
		return store.Lease{}, fmt.Errorf("sqlitestore: renew: %w", err)
	}
	if err := s.checkOpen("renew lease " + l.Name); err != nil {
		return store.Lease{}, err
	}
	out := l
	err := s.write(ctx, func(w *writer) error {
		now := s.now()
		out.Expires = now.Add(ttl).Truncate(time.Microsecond)
		res, err := w.st.renew.ExecContext(w.ctx, l.Name, l.Holder, l.Token, out.Expires.UnixMicro(), now.UnixMicro())
		return heldOrNot(res, err)
	})
	if err != nil {
		return store.Lease{}, fmt.Errorf("sqlitestore: renew %s: %w", l, interpretError(err))
	}
	return out, nil
}

// Release gives the lease up so that another holder may take it at once,
// or fails with an error wrapping store.ErrNotHeld, changing nothing, when
// it was no longer held.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := s.checkOpen("release lease " + l.Name); err != nil {
		return err
	}
	err := s.write(ctx, func(w *writer) error {
		res, err := w.st.releaseLease.ExecContext(w.ctx, l.Name, l.Holder, l.Token, s.now().UnixMicro())
		return heldOrNot(res, err)
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: release %s: %w", l, interpretError(err))
	}
	return nil
}

// heldOrNot turns the result of a conditional lease update into
// store.ErrNotHeld when no row matched.
func heldOrNot(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotHeld
	}
	return nil
}
