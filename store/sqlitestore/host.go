package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// Host returns what the store knows of host name; a host never seen is
// returned ready, with a zero UpdatedAt.
func (s *Store) Host(ctx context.Context, name string) (lifecycle.Host, error) {
	if err := s.checkOpen("host " + name); err != nil {
		return lifecycle.Host{}, err
	}
	h, err := scanHost(name, s.rd.hostByName.QueryRowContext(ctx, name))
	if err != nil {
		return lifecycle.Host{}, fmt.Errorf("sqlitestore: host %s: %w", name, interpretError(err))
	}
	return h, nil
}

// scanHost reads a row of sqlHostByName; no row is a ready host.
func scanHost(name string, row *sql.Row) (lifecycle.Host, error) {
	h := lifecycle.Host{Name: name}
	err := row.Scan(&h.State, &h.Reason, &h.BatchID, timeCol{&h.UpdatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return lifecycle.Host{Name: name, State: lifecycle.HostReady}, nil
	}
	return h, err
}

// SetHostState applies an operator's transition in one write transaction,
// after lifecycle.CheckHostTransition approves it against the host's state
// in that transaction; on refusal it returns that error
// (lifecycle.ErrInvalidTransition) and changes nothing. The host's reason
// becomes t.Reason for maintenance and decommissioned and is cleared
// otherwise. Asking for the state the host is already in (other than
// maintenance, whose reason may change) changes nothing, UpdatedAt
// included.
func (s *Store) SetHostState(ctx context.Context, t lifecycle.HostTransition) (lifecycle.Host, error) {
	if err := s.checkOpen("set host state"); err != nil {
		return lifecycle.Host{}, err
	}
	t.At = storedTime(t.At)
	var out lifecycle.Host
	err := s.write(ctx, func(w *writer) error {
		h, err := w.setHostState(t)
		out = h
		return err
	})
	if err != nil {
		return lifecycle.Host{}, fmt.Errorf("sqlitestore: set host %s state %s: %w", t.Host, t.To, interpretError(err))
	}
	return out, nil
}

func (w *writer) setHostState(t lifecycle.HostTransition) (lifecycle.Host, error) {
	h, err := scanHost(t.Host, w.st.hostByName.QueryRowContext(w.ctx, t.Host))
	if err != nil {
		return lifecycle.Host{}, fmt.Errorf("read host: %w", err)
	}
	next, changed, err := lifecycle.ApplyHostTransition(h, t)
	if err != nil || !changed {
		return next, err
	}
	if _, err := w.st.setHost.ExecContext(w.ctx, next.Name, string(next.State), next.Reason, micros(next.UpdatedAt)); err != nil {
		return lifecycle.Host{}, fmt.Errorf("write host: %w", err)
	}
	return next, nil
}
