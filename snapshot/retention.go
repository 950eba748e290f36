package snapshot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// ErrInvalidPolicy means a [RetentionPolicy] or [PurgeParams] are
// unusable. Plan and Purge report it before any I/O.
var ErrInvalidPolicy = errors.New("invalid retention policy")

// DefaultBlobGrace is the [RetentionPolicy.BlobGrace] used when it is zero.
const DefaultBlobGrace = time.Hour

// RetentionPolicy says which snapshots to let go. Whatever it says, a
// pinned snapshot and a snapshot that an active lifecycle batch names
// ([PurgeParams.InUse]) are never deprecated or purged by retention.
// Snapshots in states sealed, validated and validation-failed are left to
// operators: retention only ages released, deprecated and abandoned ones.
type RetentionPolicy struct {
	// KeepReleased is how many released snapshots to keep per OS release,
	// the newest by CreatedAt (ties broken by ID); older released ones
	// are deprecated. 0 means no limit.
	KeepReleased int
	// DeprecatedTTL is how long a snapshot stays deprecated (from the time
	// it entered that state) before it is purged. 0 means deprecated
	// snapshots never expire.
	DeprecatedTTL time.Duration
	// AbandonBuildsAfter is how long after its creation a snapshot still
	// building counts as abandoned (its builder died) and is purged. 0
	// means never. While a snapshot is building, the sweep deletes no
	// blob, so a build that was abandoned holds up every sweep until it
	// is purged, by this rule or by hand.
	AbandonBuildsAfter time.Duration
	// BlobGrace protects new blobs: the sweep deletes no blob stored less
	// than BlobGrace ago (by [BlobInfo.ModTime]), referenced or not. It
	// covers writers that put blobs without registering a snapshot first.
	// 0 means DefaultBlobGrace.
	BlobGrace time.Duration
}

// Validate reports a negative count or duration, with an error wrapping
// ErrInvalidPolicy.
func (p RetentionPolicy) Validate() error {
	switch {
	case p.KeepReleased < 0:
		return fmt.Errorf("snapshot: %w: KeepReleased %d is negative", ErrInvalidPolicy, p.KeepReleased)
	case p.DeprecatedTTL < 0:
		return fmt.Errorf("snapshot: %w: DeprecatedTTL %s is negative", ErrInvalidPolicy, p.DeprecatedTTL)
	case p.AbandonBuildsAfter < 0:
		return fmt.Errorf("snapshot: %w: AbandonBuildsAfter %s is negative", ErrInvalidPolicy, p.AbandonBuildsAfter)
	case p.BlobGrace < 0:
		return fmt.Errorf("snapshot: %w: BlobGrace %s is negative", ErrInvalidPolicy, p.BlobGrace)
	}
	return nil
}

func (p RetentionPolicy) blobGrace() time.Duration {
	if p.BlobGrace == 0 {
		return DefaultBlobGrace
	}
	return p.BlobGrace
}

// InUseFunc returns the IDs of the snapshots that must not be retired now,
// typically those named by active lifecycle batches ([BatchesInUse]).
type InUseFunc func(ctx context.Context) (map[string]bool, error)

// BatchLister lists lifecycle batches; *lifecycle.Service and every
// lifecycle.Store implement it.
type BatchLister interface {
	ListBatches(ctx context.Context, f lifecycle.BatchFilter) (lifecycle.BatchPage, error)
}

// BatchesInUse returns an InUseFunc that reports the snapshots named by
// the active (pending or running) batches that l lists: a snapshot that
// hosts are being reimaged with is never retired under them.
func BatchesInUse(l BatchLister) InUseFunc {
	return func(ctx context.Context) (map[string]bool, error) {
		out := map[string]bool{}
		f := lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchPending, lifecycle.BatchRunning},
			Limit: lifecycle.MaxPageSize}
		for {
			page, err := l.ListBatches(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("list active batches: %w", err)
			}
			for _, b := range page.Batches {
				if b.Snapshot != "" {
					out[b.Snapshot] = true
				}
			}
			if page.Next == "" {
				return out, nil
			}
			f.Cursor = page.Next
		}
	}
}

// PurgeParams are the inputs of [Plan] and [Purge].
type PurgeParams struct {
	Store  Store     // the catalogue; required
	Blobs  BlobStore // the blobs snapshots are made of; required
	Policy RetentionPolicy
	// InUse names the snapshots active batches use; nil means none.
	InUse InUseFunc
	// By is the actor recorded on the state changes Purge makes; default
	// "retention".
	By string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line per change Purge makes; nil discards them.
	Logger *slog.Logger
}

func (p *PurgeParams) withDefaults() (PurgeParams, error) {
	out := *p
	if out.Store == nil || out.Blobs == nil {
		return out, fmt.Errorf("snapshot: %w: Store and Blobs are required", ErrInvalidPolicy)
	}
	if err := out.Policy.Validate(); err != nil {
		return out, err
	}
	if out.InUse == nil {
		out.InUse = func(context.Context) (map[string]bool, error) { return nil, nil }
	}
	if out.By == "" {
		out.By = "retention"
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return out, nil
}

// PlanItem is a snapshot a plan changes or holds back, and why.
type PlanItem struct {
	ID        string
	OSRelease string
	State     State // its state when planned
	Reason    string
}

// PurgePlan is what [Purge] would do now: a dry run.
type PurgePlan struct {
	At time.Time
	// Deprecate lists released snapshots beyond the newest KeepReleased of
	// their OS release.
	Deprecate []PlanItem
	// Purge lists deprecated snapshots past DeprecatedTTL and abandoned
	// builds.
	Purge []PlanItem
	// Held lists snapshots the policy would retire but that are pinned or
	// in use.
	Held []PlanItem
	// Building lists the snapshots being built (not abandoned). While any
	// snapshot is building, Purge deletes no blob.
	Building []string
	// Blobs lists the blobs the sweep would delete once the planned
	// purges are applied: referenced by no snapshot that is not purged
	// and stored at least BlobGrace before At. Bytes is their total size.
	Blobs []BlobInfo
	Bytes int64
}

// Plan works out what [Purge] would do now, changing nothing: the
// snapshots to deprecate and purge, those held back, and the blobs and
// bytes the sweep would reclaim (including blobs no snapshot ever
// referenced, such as those of failed builds, once older than
// BlobGrace). Lists are in ID order, blobs in digest order.
func Plan(ctx context.Context, p PurgeParams) (*PurgePlan, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	plan, err := plan(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("snapshot: plan purge: %w", err)
	}
	return plan, nil
}

func plan(ctx context.Context, p PurgeParams) (*PurgePlan, error) {
	now := p.Now()
	live, err := listAll(ctx, p.Store, []State{StateBuilding, StateReleased, StateDeprecated})
	if err != nil {
		return nil, err
	}
	inUse, err := p.InUse(ctx)
	if err != nil {
		return nil, fmt.Errorf("snapshots in use: %w", err)
	}
	pl := &PurgePlan{At: now}
	item := func(s *Snapshot, reason string) PlanItem {
		return PlanItem{ID: s.ID, OSRelease: s.OSRelease, State: s.State, Reason: reason}
	}
	// retire files s under list, unless it is pinned or in use.
	retire := func(list *[]PlanItem, s *Snapshot, reason string) {
		switch {
		case s.Pinned:
			pl.Held = append(pl.Held, item(s, "pinned; would be: "+reason))
		case inUse[s.ID]:
			pl.Held = append(pl.Held, item(s, "in use by an active batch; would be: "+reason))
		default:
			*list = append(*list, item(s, reason))
		}
	}

	released := map[string][]*Snapshot{}
	for _, s := range live {
		switch s.State {
		case StateReleased:
			released[s.OSRelease] = append(released[s.OSRelease], s)
		case StateDeprecated:
			if ttl := p.Policy.DeprecatedTTL; ttl > 0 && !now.Before(s.StateAt.Add(ttl)) {
				retire(&pl.Purge, s, fmt.Sprintf("deprecated since %s, longer than %s", s.StateAt.Format(time.RFC3339), ttl))
			}
		case StateBuilding:
			if ab := p.Policy.AbandonBuildsAfter; ab > 0 && !now.Before(s.CreatedAt.Add(ab)) {
				n := len(pl.Purge)
				retire(&pl.Purge, s, fmt.Sprintf("abandoned: building since %s, longer than %s", s.CreatedAt.Format(time.RFC3339), ab))
				if len(pl.Purge) > n {
					continue
				}
			}
			pl.Building = append(pl.Building, s.ID)
		}
	}
	if keep := p.Policy.KeepReleased; keep > 0 {
		for osr, snaps := range released {
			slices.SortFunc(snaps, func(a, b *Snapshot) int {
				return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
			})
			for _, s := range snaps[min(keep, len(snaps)):] {
				retire(&pl.Deprecate, s, fmt.Sprintf("released, older than the %d newest of %s", keep, osr))
			}
		}
	}
	byID := func(a, b PlanItem) int { return cmp.Compare(a.ID, b.ID) }
	slices.SortFunc(pl.Deprecate, byID)
	slices.SortFunc(pl.Purge, byID)
	slices.SortFunc(pl.Held, byID)

	except := make([]string, len(pl.Purge))
	for i, it := range pl.Purge {
		except[i] = it.ID
	}
	refs, err := p.Store.ReferencedBlobs(ctx, except)
	if err != nil {
		return nil, err
	}
	cutoff := now.Add(-p.Policy.blobGrace())
	err = p.Blobs.Walk(ctx, func(b BlobInfo) error {
		if _, ok := refs[b.Digest]; !ok && !b.ModTime.After(cutoff) {
			pl.Blobs = append(pl.Blobs, b)
			pl.Bytes += b.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walk blobs: %w", err)
	}
	return pl, nil
}

// listAll lists every snapshot in states.
func listAll(ctx context.Context, st Store, states []State) ([]*Snapshot, error) {
	var out []*Snapshot
	f := SnapshotFilter{States: states, Limit: lifecycle.MaxPageSize}
	for {
		page, err := st.ListSnapshots(ctx, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Snapshots...)
		if page.Next == "" {
			return out, nil
		}
		f.Cursor = page.Next
	}
}

// Skipped is a planned change Purge did not make, because the snapshot
// changed since the plan (someone else moved it first).
type Skipped struct {
	ID  string
	Err string
}

// PurgeReport is what [Purge] did.
type PurgeReport struct {
	// Plan is the plan Purge applied.
	Plan *PurgePlan
	// Deprecated and Purged list the snapshots Purge moved.
	Deprecated, Purged []string
	// Skipped lists planned changes refused because the snapshot changed
	// meanwhile.
	Skipped []Skipped
	// BlobsDeleted and BytesReclaimed count what the sweep deleted.
	BlobsDeleted   int
	BytesReclaimed int64
	// SweepStopped says why the sweep deleted nothing, or stopped before
	// it was done: a snapshot was being built, or a new one was
	// registered. It is empty when the sweep ran to the end. Running
	// Purge again later finishes the job.
	SweepStopped string
}

// Purge applies the retention policy: it makes a [Plan], deprecates and
// purges the snapshots it lists (each a compare-and-set state change, so
// a snapshot that someone changed since, say by rolling back to it, is
// skipped and reported in Skipped), then sweeps the blob store: it deletes
// every blob that no snapshot left unpurged references and that is older
// than BlobGrace, and reports the bytes reclaimed.
//
// # A build at the same time
//
// A build writes blobs before any manifest references them, and
// [BlobStore.Put] of a blob that exists is a no-op that leaves its
// ModTime as it was: a build may reuse an old, unreferenced blob that the
// sweep is about to delete. The rule that keeps builds safe:
//
//  1. A build registers its snapshot (CreateSnapshot, state building)
//     before it writes its first blob, and seals it (SealSnapshot) only
//     after it has written and checked the last one ([Verify], quick).
//  2. The sweep starts only when no snapshot is building, reads the
//     referenced blobs after that check, and before each deletion checks
//     again ([Store.CountSnapshots]) that no snapshot is building and none
//     was registered since it started. If one was, it stops and reports
//     why in SweepStopped; the next Purge resumes.
//
// The one window left is a build registered between that last check and
// the deletion it guards, which reuses exactly the blob being deleted; the
// build's quick verification before sealing reports the blob missing. To
// close even that window, run builds and Purge under one store.Locker
// lease. BlobGrace covers writers that put blobs without registering
// (such as a bare [Build] call).
//
// # On one node
//
// Purge is safe to run on several nodes at once (every change is a
// compare-and-set and deleting a blob twice is harmless), but the work is
// wasted. Run it on one node at a time with a store.Locker lease: Acquire
// a lease named "snapshot-purge", run Purge under a ctx that is cancelled
// if Renew fails, and Release it afterwards.
//
// On error Purge returns the report of what it did so far with the error.
func Purge(ctx context.Context, p PurgeParams) (*PurgeReport, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	pl, err := plan(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("snapshot: purge: plan: %w", err)
	}
	rep := &PurgeReport{Plan: pl}
	apply := func(it PlanItem, to State, done *[]string) error {
		_, err := p.Store.SetSnapshotState(ctx, StateChange{ID: it.ID, From: it.State, To: to, By: p.By, At: p.Now(), Reason: it.Reason})
		switch {
		case errors.Is(err, ErrInvalidTransition):
			rep.Skipped = append(rep.Skipped, Skipped{ID: it.ID, Err: err.Error()})
			p.Logger.InfoContext(ctx, "snapshot changed since the purge plan; skipped", "snapshot", it.ID, "to", to, "err", err)
		case err != nil:
			return fmt.Errorf("snapshot: purge: %s %s: %w", to, it.ID, err)
		default:
			*done = append(*done, it.ID)
			p.Logger.InfoContext(ctx, "snapshot retired", "snapshot", it.ID, "state", to, "reason", it.Reason)
		}
		return nil
	}
	for _, it := range pl.Deprecate {
		if err := apply(it, StateDeprecated, &rep.Deprecated); err != nil {
			return rep, err
		}
	}
	for _, it := range pl.Purge {
		if err := apply(it, StatePurged, &rep.Purged); err != nil {
			return rep, err
		}
	}
	if err := sweep(ctx, p, rep); err != nil {
		return rep, fmt.Errorf("snapshot: purge: sweep: %w", err)
	}
	p.Logger.InfoContext(ctx, "snapshot purge done", "deprecated", len(rep.Deprecated), "purged", len(rep.Purged),
		"skipped", len(rep.Skipped), "blobs_deleted", rep.BlobsDeleted, "bytes_reclaimed", rep.BytesReclaimed,
		"sweep_stopped", rep.SweepStopped)
	return rep, nil
}

// errSweepStopped ends the sweep's walk early.
var errSweepStopped = errors.New("sweep stopped")

// sweep deletes the blobs no live snapshot references, as Purge's
// documentation describes.
func sweep(ctx context.Context, p PurgeParams, rep *PurgeReport) error {
	start := p.Now()
	counts, err := p.Store.CountSnapshots(ctx)
	if err != nil {
		return err
	}
	total := func(c map[State]int) (n int) {
		for _, v := range c {
			n += v
		}
		return n
	}
	known := total(counts)
	// stopped returns why the sweep must stop now, or "".
	stopped := func(c map[State]int) string {
		switch {
		case c[StateBuilding] > 0:
			return fmt.Sprintf("%d snapshot(s) building", c[StateBuilding])
		case total(c) != known:
			return fmt.Sprintf("%d snapshot(s) registered since the sweep began", total(c)-known)
		}
		return ""
	}
	if rep.SweepStopped = stopped(counts); rep.SweepStopped != "" {
		p.Logger.InfoContext(ctx, "blob sweep deferred", "why", rep.SweepStopped)
		return nil
	}
	refs, err := p.Store.ReferencedBlobs(ctx, nil)
	if err != nil {
		return err
	}
	cutoff := start.Add(-p.Policy.blobGrace())
	err = p.Blobs.Walk(ctx, func(b BlobInfo) error {
		if _, ok := refs[b.Digest]; ok || b.ModTime.After(cutoff) {
			return nil
		}
		c, err := p.Store.CountSnapshots(ctx)
		if err != nil {
			return err
		}
		if rep.SweepStopped = stopped(c); rep.SweepStopped != "" {
			return errSweepStopped
		}
		switch err := p.Blobs.Delete(ctx, b.Digest); {
		case errors.Is(err, ErrBlobNotFound): // deleted by someone else meanwhile
			return nil
		case err != nil:
			return err
		}
		rep.BlobsDeleted++
		rep.BytesReclaimed += b.Size
		return nil
	})
	if errors.Is(err, errSweepStopped) {
		p.Logger.InfoContext(ctx, "blob sweep stopped", "why", rep.SweepStopped, "blobs_deleted", rep.BlobsDeleted)
		return nil
	}
	return err
}
