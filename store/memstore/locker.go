package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/store"
)

// Acquire implements store.Locker.
func (s *Store) Acquire(ctx context.Context, name string, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(name, ttl); err != nil {
		return store.Lease{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	now := s.now()
	cur, ok := s.leases[name]
	if ok && now.Before(cur.Expires) {
		return store.Lease{}, fmt.Errorf("acquire %q: %w until %s", name, store.ErrLocked, cur.Expires.UTC().Format(time.RFC3339))
	}
	l := store.Lease{Name: name, Holder: store.NewHolder(), Token: cur.Token + 1, Expires: now.Add(ttl)}
	s.leases[name] = l
	return l, nil
}

// held returns the lease when l is still its current, unexpired holder.
func (s *Store) held(l store.Lease) error {
	cur, ok := s.leases[l.Name]
	if !ok || cur.Holder != l.Holder || cur.Token != l.Token || !s.now().Before(cur.Expires) {
		return fmt.Errorf("%s: %w", l, store.ErrNotHeld)
	}
	return nil
}

// Renew implements store.Locker.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.ValidateLeaseRequest(l.Name, ttl); err != nil {
		return store.Lease{}, err
	}
	if err := s.lock(ctx); err != nil {
		return store.Lease{}, err
	}
	defer s.mu.Unlock()
	if err := s.held(l); err != nil {
		return store.Lease{}, err
	}
	l.Expires = s.now().Add(ttl)
	s.leases[l.Name] = l
	return l, nil
}

// Release implements store.Locker.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if err := s.held(l); err != nil {
		return err
	}
	cur := s.leases[l.Name]
	cur.Expires = time.Time{} // free; the token survives
	s.leases[l.Name] = cur
	return nil
}
