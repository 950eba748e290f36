package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// ErrBootTestAborted means a boot test ended without a verdict: its batch
// was cancelled, or the caller gave up waiting. The snapshot stays sealed.
var ErrBootTestAborted = errors.New("boot test aborted")

// BootTestParams are the inputs of [BootTest].
type BootTestParams struct {
	// Catalogue holds the snapshot; required.
	Catalogue Store
	// Lifecycle submits the canaries' reimage; its workers run it.
	// Required.
	Lifecycle *lifecycle.Service
	// ID is the snapshot to test; it must be sealed.
	ID string
	// Canaries are the hosts reimaged with the snapshot; at least one.
	Canaries []string
	// Keys, when set, verifies the snapshot's seal before any host is
	// touched: a snapshot whose manifest does not match its seal is never
	// installed.
	Keys *KeyRing
	// By names who asked for the test (the batch's owner and the state
	// change's actor); required.
	By string
	// PollInterval is how often the batch is read while it runs (default
	// 5s).
	PollInterval time.Duration
	// Now is the clock of the state change (default time.Now).
	Now func() time.Time
}

// BootTestResult is the outcome of a boot test with a verdict.
type BootTestResult struct {
	// Snapshot is the snapshot after the verdict: validated, or
	// validation-failed.
	Snapshot *Snapshot
	// Batch is the canaries' reimage batch, with its jobs.
	Batch *lifecycle.Batch
	// Passed is set when every canary was reimaged with the snapshot.
	Passed bool
	// Failed lists the canary jobs that did not succeed.
	Failed []lifecycle.Job
}

// BootTest validates a sealed snapshot on real hardware: it reimages the
// canary hosts with it through lifecycle (a reimage batch naming the
// snapshot, run by the lifecycle workers like any other), waits for the
// batch to end, and records the verdict in the catalogue: validated when
// every canary succeeded, validation-failed otherwise, with the batch and
// the failed hosts in the reason.
//
// A snapshot that is not sealed fails with an error wrapping
// [ErrInvalidTransition]; a seal that Keys cannot verify fails with an
// error wrapping [ErrTampered] (or [ErrUnknownKey]), before any host is
// touched. A batch that lifecycle refuses (a canary held by another
// batch, in maintenance, ...) fails with lifecycle's error. When the batch
// is cancelled, or ctx ends first (the batch is then cancelled, freeing the
// canaries), BootTest returns an error wrapping [ErrBootTestAborted] and
// the snapshot stays sealed. When another caller gave a verdict first, the
// state change fails with [ErrInvalidTransition].
func BootTest(ctx context.Context, p BootTestParams) (*BootTestResult, error) {
	switch {
	case p.Catalogue == nil || p.Lifecycle == nil:
		return nil, errors.New("snapshot: boot test: nil Catalogue or Lifecycle")
	case len(p.Canaries) == 0:
		return nil, fmt.Errorf("snapshot: boot test %s: %w: no canary hosts", quoteShort(p.ID), ErrInvalidSnapshot)
	case p.By == "":
		return nil, fmt.Errorf("snapshot: boot test %s: %w: no actor (By)", quoteShort(p.ID), ErrInvalidSnapshot)
	case p.PollInterval < 0:
		return nil, fmt.Errorf("snapshot: boot test %s: %w: negative PollInterval", quoteShort(p.ID), ErrInvalidSnapshot)
	}
	if p.PollInterval == 0 {
		p.PollInterval = 5 * time.Second
	}
	if p.Now == nil {
		p.Now = time.Now
	}
	s, err := p.Catalogue.Snapshot(ctx, p.ID)
	if err != nil {
		return nil, fmt.Errorf("snapshot: boot test: %w", err)
	}
	if s.State != StateSealed {
		return nil, fmt.Errorf("snapshot: boot test %s: %w: it is %s; only a sealed snapshot is boot-tested", quoteShort(p.ID), ErrInvalidTransition, s.State)
	}
	if p.Keys != nil {
		sealed, err := s.Sealed()
		if err != nil {
			return nil, fmt.Errorf("snapshot: boot test: %w", err)
		}
		if err := p.Keys.VerifySealed(sealed); err != nil {
			return nil, fmt.Errorf("snapshot: boot test %s: %w", quoteShort(p.ID), err)
		}
	}
	res, err := p.Lifecycle.Submit(ctx, lifecycle.SubmitParams{Owner: p.By, Action: lifecycle.ActionReimage,
		Hosts: p.Canaries, Snapshot: p.ID, Params: map[string]string{"purpose": "snapshot boot test"}})
	if err != nil {
		return nil, fmt.Errorf("snapshot: boot test %s: %w", quoteShort(p.ID), err)
	}
	b, err := waitBatch(ctx, p.Lifecycle, res.Batch.ID, p.PollInterval)
	if err != nil {
		// Free the canaries: nobody is waiting for the verdict any more.
		_, _ = p.Lifecycle.Cancel(context.WithoutCancel(ctx), res.Batch.ID)
		return nil, fmt.Errorf("snapshot: boot test %s: batch %s: %w: %w", quoteShort(p.ID), res.Batch.ID, ErrBootTestAborted, err)
	}
	if b.State == lifecycle.BatchCancelled {
		return nil, fmt.Errorf("snapshot: boot test %s: %w: batch %s was cancelled", quoteShort(p.ID), ErrBootTestAborted, b.ID)
	}
	out := &BootTestResult{Batch: b}
	for _, j := range b.Jobs {
		if j.State != lifecycle.JobSucceeded {
			out.Failed = append(out.Failed, j)
		}
	}
	out.Passed = len(out.Failed) == 0
	change := StateChange{ID: p.ID, From: StateSealed, To: StateValidated, By: p.By, At: p.Now(),
		Reason: fmt.Sprintf("boot test batch %s: %d canaries reimaged", b.ID, len(b.Jobs))}
	if !out.Passed {
		change.To = StateValidationFailed
		change.Reason = fmt.Sprintf("boot test batch %s: %d of %d canaries failed: %s", b.ID, len(out.Failed), len(b.Jobs), failures(out.Failed))
	}
	if out.Snapshot, err = p.Catalogue.SetSnapshotState(ctx, change); err != nil {
		return nil, fmt.Errorf("snapshot: boot test %s: recording the verdict: %w", quoteShort(p.ID), err)
	}
	return out, nil
}

// waitBatch polls batch id until it ends.
func waitBatch(ctx context.Context, svc *lifecycle.Service, id string, every time.Duration) (*lifecycle.Batch, error) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		b, err := svc.Batch(ctx, id)
		if err != nil {
			return nil, err
		}
		if !b.State.Active() {
			return b, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// failures describes failed canary jobs in a state change's reason, which
// stores bound in length.
func failures(jobs []lifecycle.Job) string {
	parts := make([]string, 0, len(jobs))
	for _, j := range jobs {
		msg := j.Error
		if msg == "" {
			msg = string(j.State)
		}
		parts = append(parts, j.Host+": "+msg)
	}
	slices.Sort(parts)
	s := strings.Join(parts, "; ")
	const most = 900
	if len(s) > most {
		s = s[:most] + "…"
	}
	return s
}
