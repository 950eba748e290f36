package lifecycle

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/fleetkit/fleetkit"
)

// Batch returns a batch with its per-host jobs, or an error wrapping
// store.ErrNotFound.
func (s *Service) Batch(ctx context.Context, id string) (*Batch, error) {
	b, err := s.st.Batch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: batch %s: %w", id, err)
	}
	return b, nil
}

// ListBatches returns one page of batches matching f, newest first. Set
// f.Owner for an owner's batches and f.Host for a host's history; pass the
// page's Next as f.Cursor for the next page.
func (s *Service) ListBatches(ctx context.Context, f BatchFilter) (BatchPage, error) {
	if _, err := ParseBatchCursor(f.Cursor); err != nil {
		return BatchPage{}, fmt.Errorf("lifecycle: list batches: %w", err)
	}
	if f.Host != "" {
		h, err := fleetkit.NormalizeHostname(f.Host)
		if err != nil {
			return BatchPage{}, fmt.Errorf("lifecycle: list batches: %w", err)
		}
		f.Host = h
	}
	p, err := s.st.ListBatches(ctx, f)
	if err != nil {
		return BatchPage{}, fmt.Errorf("lifecycle: list batches: %w", err)
	}
	return p, nil
}

// Cancel cancels a batch: pending jobs end at once and their hosts are
// released; running jobs are marked for cancellation and end when their
// workers notice. Cancelling twice, or cancelling a finished batch, is not
// an error and changes nothing. The first cancellation of an active batch
// sends batch.cancelled.
func (s *Service) Cancel(ctx context.Context, id string) (*Batch, error) {
	at := s.now()
	b, cancelled, err := s.st.CancelBatch(ctx, id, at)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: cancel %s: %w", id, err)
	}
	if cancelled {
		s.notify(ctx, fleetkit.Event{Kind: EventBatchCancelled, Subject: b.ID, Attrs: map[string]string{
			"owner": b.Owner, "action": string(b.Action), "state": string(b.State),
			"cancelled": strconv.Itoa(b.Counts.Cancelled), "still_running": strconv.Itoa(b.Counts.Running),
		}})
	}
	return b, nil
}

// Host returns what the store knows of a host.
func (s *Service) Host(ctx context.Context, name string) (Host, error) {
	h, err := fleetkit.NormalizeHostname(name)
	if err != nil {
		return Host{}, fmt.Errorf("lifecycle: host: %w", err)
	}
	return s.st.Host(ctx, h)
}

// SetHostState moves a host on an operator's behalf: into maintenance
// (with a reason), back to ready, or to decommissioned for good. Claimed
// and in-progress hosts belong to their batch; see CheckHostTransition.
func (s *Service) SetHostState(ctx context.Context, t HostTransition) (Host, error) {
	h, err := fleetkit.NormalizeHostname(t.Host)
	if err != nil {
		return Host{}, fmt.Errorf("lifecycle: set host state: %w", err)
	}
	t.Host = h
	t.At = s.now()
	out, err := s.st.SetHostState(ctx, t)
	if err != nil {
		return Host{}, fmt.Errorf("lifecycle: set host %s state %s: %w", h, t.To, err)
	}
	return out, nil
}

// DatacenterLoad is the active work in one datacenter.
type DatacenterLoad struct {
	Datacenter string
	// Pending and Running count unfinished jobs of active batches.
	Pending, Running int
	// ByAction breaks the total (pending+running) down by action.
	ByAction map[Action]int
}

// ActiveByDatacenter counts the active operations in each datacenter,
// sorted by datacenter name. Hosts the HostDirectory did not know at
// submission count under the empty datacenter name.
func (s *Service) ActiveByDatacenter(ctx context.Context) ([]DatacenterLoad, error) {
	rows, err := s.st.ActiveCounts(ctx)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: active counts: %w", err)
	}
	byDC := map[string]*DatacenterLoad{}
	for _, r := range rows {
		d := byDC[r.Datacenter]
		if d == nil {
			d = &DatacenterLoad{Datacenter: r.Datacenter, ByAction: map[Action]int{}}
			byDC[r.Datacenter] = d
		}
		d.Pending += r.Pending
		d.Running += r.Running
		d.ByAction[r.Action] += r.Pending + r.Running
	}
	out := make([]DatacenterLoad, 0, len(byDC))
	for _, d := range byDC {
		out = append(out, *d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Datacenter < out[j].Datacenter })
	return out, nil
}
