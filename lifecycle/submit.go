package lifecycle

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit"
)

// SubmitParams describes a batch to submit.
type SubmitParams struct {
	// Owner is who submits (required).
	Owner string
	// Action is what to do (required).
	Action Action
	// Hosts are the hosts to act on (required; each a valid hostname,
	// no duplicates after normalisation).
	Hosts []string
	// Snapshot names the OS snapshot to install; only for reimage.
	Snapshot string
	// Params are free-form parameters for the workers.
	Params map[string]string
	// Priority overrides the action's default priority when non-nil; it
	// lies in [-MaxPriority, MaxPriority].
	Priority *int
	// CheckConsoles runs the configured console precheck on every host
	// before admission.
	CheckConsoles bool
	// SkipFailedConsoles submits the batch without the hosts that fail
	// the console precheck instead of rejecting it. Excluded hosts are
	// reported in SubmitResult.Excluded.
	SkipFailedConsoles bool
}

// SubmitResult is an accepted submission.
type SubmitResult struct {
	// Batch is the accepted batch, its jobs included.
	Batch *Batch
	// Excluded lists hosts left out because their console precheck
	// failed (only with SkipFailedConsoles).
	Excluded []HostProblem
}

// Submit validates and admits a batch and returns at once; workers run it
// later. There is no rate limit and no global lock: admission is one atomic
// store operation, so concurrent submitters on any number of nodes never
// admit two active batches holding one host.
//
// It rejects, changing nothing:
//   - malformed input: an error wrapping ErrInvalidBatch that names every
//     bad host;
//   - hosts an InUseChecker reports: a *HostsError (ErrInUse) with every
//     checker's reasons;
//   - hosts failing the console precheck, unless SkipFailedConsoles: a
//     *HostsError (ErrConsoleCheck);
//   - hosts held by an active batch: an *OverlapError (ErrOverlap); and
//     hosts in maintenance or decommissioned: a *HostsError
//     (ErrHostUnavailable).
//
// An accepted batch sends batch.accepted; a rejected one batch.rejected
// with the reason.
func (s *Service) Submit(ctx context.Context, p SubmitParams) (*SubmitResult, error) {
	res, err := s.submit(ctx, p)
	if err != nil {
		s.notify(ctx, fleetkit.Event{Kind: EventBatchRejected, Subject: p.Owner, Attrs: map[string]string{
			"owner": p.Owner, "action": string(p.Action), "hosts": strconv.Itoa(len(p.Hosts)), "reason": err.Error(),
		}})
		return nil, err
	}
	b := res.Batch
	s.notify(ctx, fleetkit.Event{Kind: EventBatchAccepted, Subject: b.ID, Attrs: map[string]string{
		"owner": b.Owner, "action": string(b.Action), "hosts": strconv.Itoa(len(b.Hosts)),
		"priority": strconv.Itoa(b.Priority), "excluded": strconv.Itoa(len(res.Excluded)),
	}})
	return res, nil
}

func (s *Service) submit(ctx context.Context, p SubmitParams) (*SubmitResult, error) {
	hosts, err := s.validate(p)
	if err != nil {
		return nil, err
	}
	if err := s.checkInUse(ctx, hosts); err != nil {
		return nil, err
	}
	var excluded []HostProblem
	if p.CheckConsoles {
		if hosts, excluded, err = s.checkConsoles(ctx, hosts, p.SkipFailedConsoles); err != nil {
			return nil, err
		}
	}
	var dir map[string]HostInfo
	if s.cfg.Directory != nil {
		if dir, err = s.cfg.Directory.LookupHosts(ctx, hosts); err != nil {
			return nil, fmt.Errorf("lifecycle: submit: host directory: %w", err)
		}
	}
	now := s.now()
	prio := s.cfg.Priorities[p.Action]
	if p.Priority != nil {
		prio = *p.Priority
	}
	b := &Batch{
		ID:        s.ids.New(now),
		Owner:     p.Owner,
		Action:    p.Action,
		Hosts:     hosts,
		Snapshot:  p.Snapshot,
		Params:    maps.Clone(p.Params),
		Priority:  prio,
		QueueAt:   now.Add(-time.Duration(prio) * s.cfg.Ageing),
		State:     BatchPending,
		CreatedAt: now,
		UpdatedAt: now,
		Jobs:      make([]Job, len(hosts)),
	}
	for i, h := range hosts {
		info := dir[h]
		b.Jobs[i] = Job{BatchID: b.ID, Host: h, Action: p.Action, Priority: prio,
			Datacenter: info.Datacenter, SKU: info.SKU, State: JobPending, CreatedAt: now, UpdatedAt: now}
	}
	b.Counts.Pending = len(hosts)
	if err := s.st.CreateBatch(ctx, b); err != nil {
		return nil, fmt.Errorf("lifecycle: submit %s for %d host(s): %w", p.Action, len(hosts), err)
	}
	return &SubmitResult{Batch: b, Excluded: excluded}, nil
}

// validate checks p and returns its hosts normalised.
func (s *Service) validate(p SubmitParams) ([]string, error) {
	var problems []string
	if strings.TrimSpace(p.Owner) == "" {
		problems = append(problems, "owner is empty")
	}
	if !p.Action.Valid() {
		problems = append(problems, fmt.Sprintf("unknown action %q (known: %v)", p.Action, Actions()))
	}
	if p.Snapshot != "" && p.Action != ActionReimage {
		problems = append(problems, fmt.Sprintf("a snapshot is only for reimage, not %s", p.Action))
	}
	if p.Priority != nil && (*p.Priority < -MaxPriority || *p.Priority > MaxPriority) {
		problems = append(problems, fmt.Sprintf("priority %d is out of range [-%d, %d]", *p.Priority, MaxPriority, MaxPriority))
	}
	switch {
	case len(p.Hosts) == 0:
		problems = append(problems, "no hosts")
	case len(p.Hosts) > s.cfg.MaxBatchSize:
		problems = append(problems, fmt.Sprintf("%d hosts, more than the limit of %d", len(p.Hosts), s.cfg.MaxBatchSize))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("lifecycle: submit: %w: %s", ErrInvalidBatch, strings.Join(problems, "; "))
	}
	hosts := make([]string, len(p.Hosts))
	var seen map[string]int // for large batches; small ones scan
	if len(p.Hosts) > 32 {
		seen = make(map[string]int, len(p.Hosts))
	}
	var bad []string
	for i, raw := range p.Hosts {
		h, err := fleetkit.NormalizeHostname(raw)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		j, dup := -1, false
		if seen != nil {
			j, dup = seen[h]
			seen[h] = i
		} else {
			j = slices.Index(hosts[:i], h)
			dup = j >= 0
		}
		if dup {
			bad = append(bad, fmt.Sprintf("host %q is listed twice (entries %d and %d)", h, j+1, i+1))
			continue
		}
		hosts[i] = h
	}
	if len(bad) > 0 {
		more := ""
		if len(bad) > 20 {
			more = fmt.Sprintf("; … and %d more", len(bad)-20)
			bad = bad[:20]
		}
		return nil, fmt.Errorf("lifecycle: submit: %w: %d bad host(s): %s%s", ErrInvalidBatch, len(bad), strings.Join(bad, "; "), more)
	}
	return hosts, nil
}

// checkInUse asks every checker and rejects with all their reasons.
func (s *Service) checkInUse(ctx context.Context, hosts []string) error {
	var problems []HostProblem
	for i, c := range s.cfg.InUse {
		ps, err := c.CheckInUse(ctx, hosts)
		if err != nil {
			return fmt.Errorf("lifecycle: submit: in-use checker %d (%T) could not answer: %w", i, c, err)
		}
		problems = append(problems, ps...)
	}
	if len(problems) > 0 {
		return fmt.Errorf("lifecycle: submit: %w", NewHostsError(ErrInUse, problems))
	}
	return nil
}

// checkConsoles runs the console precheck on every host with bounded
// concurrency and returns the hosts that passed. Unless skip, any failure
// rejects the batch.
func (s *Service) checkConsoles(ctx context.Context, hosts []string, skip bool) ([]string, []HostProblem, error) {
	if s.cfg.Console == nil {
		return nil, nil, fmt.Errorf("lifecycle: submit: %w: console precheck asked for but no ConsoleChecker is configured", ErrInvalidBatch)
	}
	errs := make([]error, len(hosts))
	sem := make(chan struct{}, s.cfg.ConsoleConcurrency)
	var wg sync.WaitGroup
	for i, h := range hosts {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, s.cfg.ConsoleTimeout)
			defer cancel()
			errs[i] = s.cfg.Console.CheckConsole(cctx, h)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("lifecycle: submit: console precheck: %w", err)
	}
	var ok []string
	var failed []HostProblem
	for i, h := range hosts {
		if errs[i] != nil {
			failed = append(failed, HostProblem{Host: h, Reason: errs[i].Error(), Source: "console"})
			continue
		}
		ok = append(ok, h)
	}
	if len(failed) == 0 {
		return hosts, nil, nil
	}
	herr := NewHostsError(ErrConsoleCheck, failed)
	if !skip || len(ok) == 0 {
		return nil, nil, fmt.Errorf("lifecycle: submit: %w", herr)
	}
	return ok, herr.Problems, nil
}
