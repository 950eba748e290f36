package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// Host returns what the store knows of host name: a host never seen is
// ready, with a zero UpdatedAt. It implements lifecycle.HostStore.
func (s *Store) Host(ctx context.Context, name string) (lifecycle.Host, error) {
	if err := s.check(ctx); err != nil {
		return lifecycle.Host{}, fmt.Errorf("pgstore: host %s: %w", name, err)
	}
	h, err := scanHost(s.pool.QueryRow(ctx, qHost, name))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return lifecycle.Host{Name: name, State: lifecycle.HostReady}, nil
	case err != nil:
		return lifecycle.Host{}, fmt.Errorf("pgstore: host %s: %w", name, s.interpretError(err))
	}
	return h, nil
}

// SetHostState applies an operator's transition in one transaction: lock
// the host's row (creating it for a host never seen), check the transition
// with lifecycle.CheckHostTransition, write. A refused transition changes
// nothing. It implements lifecycle.HostStore.
func (s *Store) SetHostState(ctx context.Context, t lifecycle.HostTransition) (lifecycle.Host, error) {
	if err := s.check(ctx); err != nil {
		return lifecycle.Host{}, fmt.Errorf("pgstore: set host %s state: %w", t.Host, err)
	}
	var h lifecycle.Host
	err := s.conn(ctx, func(c *pgx.Conn) error {
		var p pgx.Batch
		p.Queue(qBegin)
		p.Queue(qEnsureHost, t.Host, string(lifecycle.HostReady))
		p.Queue(qLockHost, t.Host)
		res := c.SendBatch(ctx, &p)
		err := func() error {
			if _, err := res.Exec(); err != nil {
				return err
			}
			if _, err := res.Exec(); err != nil {
				return err
			}
			var err error
			h, err = scanHost(res.QueryRow())
			return err
		}()
		if err := closeBatch(res, err); err != nil {
			return err
		}
		next, changed, err := lifecycle.ApplyHostTransition(h, t)
		if err != nil {
			return err // rolled back by conn, with the row it may have created
		}
		h = next
		var w pgx.Batch
		if changed {
			w.Queue(qSetHost, h.Name, string(h.State), h.Reason, h.UpdatedAt)
		}
		w.Queue(qCommit)
		return c.SendBatch(ctx, &w).Close()
	})
	if err != nil {
		return lifecycle.Host{}, fmt.Errorf("pgstore: set host %s state %s: %w", t.Host, t.To, s.interpretError(err))
	}
	return h, nil
}
