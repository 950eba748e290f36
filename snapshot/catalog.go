package snapshot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// Catalogue errors. Test with errors.Is. A snapshot that does not exist is
// reported with store.ErrNotFound, and a closed store with store.ErrClosed,
// as for every other store of fleetkit.
var (
	// ErrInvalidSnapshot means a request to a [Store] is malformed: a bad
	// snapshot ID, a missing actor or time, a manifest that is not
	// canonical or does not belong to the snapshot. Nothing was changed.
	ErrInvalidSnapshot = errors.New("invalid snapshot request")
	// ErrSnapshotExists means [Store.CreateSnapshot] was given an ID that
	// is already recorded (in any state, purged included: IDs are never
	// reused).
	ErrSnapshotExists = errors.New("snapshot already exists")
	// ErrInvalidTransition means a state change the snapshot state machine
	// does not allow from the snapshot's current state, or a snapshot that
	// is not in the state the caller expected (it changed concurrently).
	ErrInvalidTransition = errors.New("invalid snapshot state transition")
	// ErrImmutable means an attempt to change the manifest or seal of a
	// snapshot that is already sealed. Nothing was changed.
	ErrImmutable = errors.New("sealed snapshot is immutable")
)

// State is where a snapshot is in its life. The main line is
//
//	building → sealed → validated → released → deprecated → purged
//
// The edges, and why an operator needs each:
//
//   - building → sealed: the build finished and its manifest was sealed;
//     only [Store.SealSnapshot] takes this edge, since it sets the
//     manifest.
//   - building → purged: a build that died or was abandoned; it has no
//     manifest, so it holds no blob.
//   - sealed → validated | validation-failed: the boot test's verdict.
//   - validation-failed → sealed: a re-test, when the failure was the
//     canaries' fault rather than the snapshot's.
//   - sealed | validation-failed | validated → deprecated: withdraw a
//     snapshot that will never be released, so that it expires.
//   - validated → released: hosts may now be provisioned from it.
//   - released → deprecated: superseded; it expires after the retention
//     policy's TTL.
//   - deprecated → released: a rollback to a snapshot that was released
//     before. A snapshot never released cannot take this edge, so
//     deprecation is no way around validation.
//   - deprecated → purged: its record (and sealed manifest) stays for
//     audit, but its blobs may be swept. Purged is final.
//
// There is deliberately no edge from sealed or validation-failed to
// released: nothing is released without passing validation.
type State string

// The snapshot states.
const (
	StateBuilding         State = "building"
	StateSealed           State = "sealed"
	StateValidated        State = "validated"
	StateValidationFailed State = "validation-failed"
	StateReleased         State = "released"
	StateDeprecated       State = "deprecated"
	StatePurged           State = "purged"
)

// States lists every state in the order of a snapshot's life. It is for
// iteration; [State.Valid] does not depend on it.
var States = []State{StateBuilding, StateSealed, StateValidated, StateValidationFailed,
	StateReleased, StateDeprecated, StatePurged}

// Valid reports whether s is one of the states above.
func (s State) Valid() bool {
	switch s {
	case StateBuilding, StateSealed, StateValidated, StateValidationFailed,
		StateReleased, StateDeprecated, StatePurged:
		return true
	}
	return false
}

// stateEdges is the snapshot state machine.
var stateEdges = map[State][]State{
	StateBuilding:         {StateSealed, StatePurged},
	StateSealed:           {StateValidated, StateValidationFailed, StateDeprecated},
	StateValidationFailed: {StateSealed, StateDeprecated},
	StateValidated:        {StateReleased, StateDeprecated},
	StateReleased:         {StateDeprecated},
	StateDeprecated:       {StateReleased, StatePurged},
}

// Snapshot is a snapshot's record in the catalogue.
type Snapshot struct {
	ID        string
	OSRelease string
	Parent    string // the ID of the snapshot this one derives from, or ""
	State     State
	Pinned    bool // a pinned snapshot is never deprecated or purged by retention

	// Manifest is the manifest's canonical encoding ([Manifest.Canonical]),
	// and Seal its seal; both are empty until the snapshot is sealed and
	// never change afterwards. [Store.ListSnapshots] leaves Manifest nil.
	Manifest []byte
	Seal     Seal
	// TotalBytes is the sum of the sizes of the distinct blobs the
	// manifest references (0 until sealed).
	TotalBytes int64

	CreatedBy string
	CreatedAt time.Time
	SealedAt  time.Time // zero until sealed
	// ReleasedAt is when the snapshot last entered released; zero if it
	// never was.
	ReleasedAt time.Time
	StateAt    time.Time // when it entered State
	UpdatedAt  time.Time // the last change of any kind (state, pin)

	// History lists every change, oldest first: creation, sealing, state
	// changes and pin changes. [Store.ListSnapshots] leaves it nil.
	History []Event
}

// DecodeManifest decodes the snapshot's sealed manifest. It fails with an
// error wrapping [ErrInvalidManifest] if the snapshot is not sealed or the
// stored bytes are not a canonical manifest.
func (s *Snapshot) DecodeManifest() (*Manifest, error) {
	if len(s.Manifest) == 0 {
		return nil, fmt.Errorf("snapshot %s: %w: no manifest (state %s)", quoteShort(s.ID), ErrInvalidManifest, s.State)
	}
	m, err := DecodeManifest(s.Manifest)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", quoteShort(s.ID), err)
	}
	return m, nil
}

// Sealed returns the snapshot's manifest with its seal, ready for
// [KeyRing.VerifySealed] and [Verify].
func (s *Snapshot) Sealed() (*Sealed, error) {
	m, err := s.DecodeManifest()
	if err != nil {
		return nil, err
	}
	return &Sealed{Manifest: *m, Seal: s.Seal}, nil
}

// Event is one change in a snapshot's life: who made it, when and why.
// For a pin change From and To are both the snapshot's state; for the
// creation From is "".
type Event struct {
	At     time.Time
	By     string
	From   State
	To     State
	Pinned bool // the pinned flag after the event
	Reason string
}

// NewSnapshot registers a snapshot about to be built ([Store.CreateSnapshot]).
type NewSnapshot struct {
	ID        string
	OSRelease string
	Parent    string
	Pinned    bool
	By        string    // who starts the build; required
	At        time.Time // when; required
	Reason    string
}

// SealParams hand a finished build's manifest to [Store.SealSnapshot].
type SealParams struct {
	ID       string
	Manifest []byte // the canonical encoding; its ID and OSRelease must match the record's
	Seal     Seal
	By       string
	At       time.Time
}

// StateChange moves a snapshot from one state to another
// ([Store.SetSnapshotState]).
type StateChange struct {
	ID string
	// From is the state the snapshot must be in now (compare and set); To
	// is the state it moves to.
	From, To State
	By       string
	At       time.Time
	Reason   string
}

// PinChange sets or clears a snapshot's pinned flag ([Store.SetSnapshotPinned]).
type PinChange struct {
	ID     string
	Pinned bool
	By     string
	At     time.Time
	Reason string
}

// SnapshotFilter selects snapshots. Zero fields do not filter.
type SnapshotFilter struct {
	// States keeps snapshots in any of these states.
	States    []State
	OSRelease string
	// Limit is the page size: 0 means lifecycle.DefaultPageSize; at most
	// lifecycle.MaxPageSize.
	Limit int
	// Cursor continues a listing: pass the Next of the previous page.
	Cursor string
}

// SnapshotPage is one page of snapshots, in increasing ID order, without
// their manifests and histories.
type SnapshotPage struct {
	Snapshots []*Snapshot
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// Store is the catalogue of snapshots: what each one is, its sealed
// manifest, and where it is in its life. store/memstore, store/sqlitestore
// and store/pgstore implement it; snapshot/snapshottest.RunStore is the
// conformance suite every implementation passes.
//
// Stores validate every request with the functions of this package
// ([NewSnapshot.Validate], [CheckSeal], [CheckStateChange], ...), so that
// every store accepts and refuses alike, and take every decision that
// depends on a snapshot's current state atomically: two concurrent
// changes of one snapshot, on any number of processes sharing the store,
// never both succeed from the same state. A refused request changes
// nothing. Times are kept in UTC to the microsecond.
//
// A sealed snapshot's manifest and seal never change: no method alters
// them, and SealSnapshot refuses to seal twice.
type Store interface {
	// CreateSnapshot records a new snapshot in state building and returns
	// it. An ID already recorded fails with ErrSnapshotExists; a malformed
	// request with ErrInvalidSnapshot.
	CreateSnapshot(ctx context.Context, p NewSnapshot) (*Snapshot, error)
	// Snapshot returns the snapshot with its manifest and history, or an
	// error wrapping store.ErrNotFound.
	Snapshot(ctx context.Context, id string) (*Snapshot, error)
	// ListSnapshots returns the snapshots matching f, in increasing ID
	// order, without manifests and histories. A malformed filter (an
	// unknown state) fails with ErrInvalidSnapshot.
	ListSnapshots(ctx context.Context, f SnapshotFilter) (SnapshotPage, error)
	// SealSnapshot moves a building snapshot to sealed, recording its
	// manifest, seal and TotalBytes and the blobs it references. A
	// snapshot already sealed fails with ErrImmutable; one in another
	// state (purged) with ErrInvalidTransition; a manifest that is not
	// canonical or names another snapshot with ErrInvalidSnapshot
	// (see [CheckSeal]).
	SealSnapshot(ctx context.Context, p SealParams) (*Snapshot, error)
	// SetSnapshotState applies c, checked with [CheckStateChange] against
	// the snapshot's state inside the store's transaction; on refusal it
	// returns that error (ErrInvalidTransition) and changes nothing.
	SetSnapshotState(ctx context.Context, c StateChange) (*Snapshot, error)
	// SetSnapshotPinned sets the pinned flag, checked with [CheckPinChange]
	// (a purged snapshot cannot be pinned). Setting it to the value it has
	// changes nothing and records no event.
	SetSnapshotPinned(ctx context.Context, c PinChange) (*Snapshot, error)
	// ReferencedBlobs returns the digests, with their sizes, of every blob
	// that the manifest of a snapshot not purged references, leaving out
	// the snapshots named in except (whose blobs are still returned when
	// another snapshot references them too).
	ReferencedBlobs(ctx context.Context, except []string) (map[Digest]int64, error)
	// CountSnapshots returns how many snapshots are recorded in each
	// state (states with none are absent). Records are never deleted, so
	// the total only grows.
	CountSnapshots(ctx context.Context) (map[State]int, error)
}

// maxIDLen bounds a snapshot ID.
const maxIDLen = 128

// ValidID reports whether id can name a snapshot: 1 to 128 bytes of ASCII
// letters, digits and "._:+@-", starting with a letter or digit.
func ValidID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == ':' || c == '+' || c == '@' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// maxTextLen bounds actors, reasons and OS releases.
const maxTextLen = 1024

// StoredTime returns t as stores keep it: UTC, to the microsecond.
func StoredTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func invalid(op, id, format string, args ...any) error {
	return fmt.Errorf("snapshot: %s %s: %w: %s", op, quoteShort(id), ErrInvalidSnapshot, fmt.Sprintf(format, args...))
}

// checkActor checks the who and when every change carries.
func checkActor(op, id, by string, at time.Time, reason string) error {
	switch {
	case !ValidID(id):
		return invalid(op, id, "malformed snapshot ID (want 1-128 of A-Z a-z 0-9 . _ : + @ -, starting with a letter or digit)")
	case by == "":
		return invalid(op, id, "no actor (By)")
	case len(by) > maxTextLen || len(reason) > maxTextLen:
		return invalid(op, id, "By or Reason longer than %d bytes", maxTextLen)
	case at.IsZero():
		return invalid(op, id, "no time (At)")
	}
	return nil
}

// Validate checks p and returns it as stores record it (times in UTC to
// the microsecond). Errors wrap ErrInvalidSnapshot.
func (p NewSnapshot) Validate() (NewSnapshot, error) {
	if err := checkActor("create", p.ID, p.By, p.At, p.Reason); err != nil {
		return p, err
	}
	switch {
	case p.OSRelease == "" || len(p.OSRelease) > maxTextLen:
		return p, invalid("create", p.ID, "OSRelease must be 1-%d bytes", maxTextLen)
	case p.Parent != "" && !ValidID(p.Parent):
		return p, invalid("create", p.ID, "malformed parent ID %s", quoteShort(p.Parent))
	case p.Parent == p.ID:
		return p, invalid("create", p.ID, "a snapshot cannot be its own parent")
	}
	p.At = StoredTime(p.At)
	return p, nil
}

// Record returns the snapshot record p creates.
func (p NewSnapshot) Record() *Snapshot {
	return &Snapshot{
		ID: p.ID, OSRelease: p.OSRelease, Parent: p.Parent, State: StateBuilding, Pinned: p.Pinned,
		CreatedBy: p.By, CreatedAt: p.At, StateAt: p.At, UpdatedAt: p.At,
		History: []Event{{At: p.At, By: p.By, To: StateBuilding, Pinned: p.Pinned, Reason: p.Reason}},
	}
}

// SealContent is what a store records beside a sealed manifest: the
// distinct blobs it references, with their sizes, and their total.
type SealContent struct {
	Blobs      map[Digest]int64
	TotalBytes int64
	// OSRelease and Parent are the manifest's, for CheckSeal.
	OSRelease, Parent string
}

// Validate checks p before any state is read: a well-formed ID, actor
// and time, a seal with a key ID and a MAC, and a manifest in canonical
// form whose ID is p.ID. It returns p as stores record it and the content
// to record. Errors wrap ErrInvalidSnapshot.
func (p SealParams) Validate() (SealParams, SealContent, error) {
	if err := checkActor("seal", p.ID, p.By, p.At, ""); err != nil {
		return p, SealContent{}, err
	}
	if p.Seal.KeyID == "" || len(p.Seal.MAC) == 0 {
		return p, SealContent{}, invalid("seal", p.ID, "empty seal (KeyID and MAC are required)")
	}
	m, err := DecodeManifest(p.Manifest)
	if err != nil {
		return p, SealContent{}, invalid("seal", p.ID, "%v", err)
	}
	if m.ID != p.ID {
		return p, SealContent{}, invalid("seal", p.ID, "the manifest is of snapshot %s", quoteShort(m.ID))
	}
	c := SealContent{Blobs: make(map[Digest]int64, len(m.Packages)+len(m.BootFiles)), OSRelease: m.OSRelease, Parent: m.Parent}
	add := func(d Digest, size int64) {
		if _, ok := c.Blobs[d]; !ok {
			c.Blobs[d] = size
			c.TotalBytes += size
		}
	}
	for _, pk := range m.Packages {
		add(pk.Digest, pk.Size)
	}
	for _, f := range m.BootFiles {
		add(f.Digest, f.Size)
	}
	p.At = StoredTime(p.At)
	p.Manifest = slices.Clone(p.Manifest)
	p.Seal.MAC = slices.Clone(p.Seal.MAC)
	return p, c, nil
}

// CheckSeal returns the error SealSnapshot must return when asked to
// seal cur with p and the content [SealParams.Validate] returned: ErrImmutable if cur is sealed,
// ErrInvalidTransition if cur is not building, ErrInvalidSnapshot if the
// manifest's OS release or parent differ from the record's. Stores call it
// inside the transaction that seals.
func CheckSeal(cur *Snapshot, p SealParams, c SealContent) error {
	if len(cur.Manifest) > 0 {
		return fmt.Errorf("snapshot: seal %s: %w: sealed at %s, state %s",
			quoteShort(cur.ID), ErrImmutable, cur.SealedAt.Format(time.RFC3339), cur.State)
	}
	if cur.State != StateBuilding {
		return fmt.Errorf("snapshot: seal %s: %w: it is %s, not building", quoteShort(cur.ID), ErrInvalidTransition, cur.State)
	}
	if c.OSRelease != cur.OSRelease {
		return invalid("seal", p.ID, "manifest OS release %s differs from the snapshot's %s", quoteShort(c.OSRelease), quoteShort(cur.OSRelease))
	}
	if c.Parent != cur.Parent {
		return invalid("seal", p.ID, "manifest parent %s differs from the snapshot's %s", quoteShort(c.Parent), quoteShort(cur.Parent))
	}
	return nil
}

// ApplySeal returns cur sealed with p and content (CheckSeal approved it).
func ApplySeal(cur *Snapshot, p SealParams, content SealContent) *Snapshot {
	next := *cur
	next.State, next.Manifest, next.Seal, next.TotalBytes = StateSealed, p.Manifest, p.Seal, content.TotalBytes
	next.SealedAt, next.StateAt, next.UpdatedAt = p.At, p.At, p.At
	next.History = append(slices.Clip(cur.History), Event{At: p.At, By: p.By, From: StateBuilding, To: StateSealed, Pinned: cur.Pinned})
	return &next
}

// Validate checks c before any state is read: a well-formed ID, actor and
// time, and known states. It returns c as stores record it. Errors wrap
// ErrInvalidSnapshot.
func (c StateChange) Validate() (StateChange, error) {
	if err := checkActor("set state of", c.ID, c.By, c.At, c.Reason); err != nil {
		return c, err
	}
	if !c.From.Valid() || !c.To.Valid() {
		return c, invalid("set state of", c.ID, "unknown state %s → %s", quoteShort(string(c.From)), quoteShort(string(c.To)))
	}
	c.At = StoredTime(c.At)
	return c, nil
}

// CheckStateChange returns an error wrapping ErrInvalidTransition when a
// snapshot cur may not take change c: cur is not in c.From, the state
// machine (see [State]) has no such edge, c is building → sealed (only
// SealSnapshot seals), or c is deprecated → released for a snapshot never
// released. Stores call it inside the transaction that applies c.
func CheckStateChange(cur *Snapshot, c StateChange) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("snapshot: %s %s → %s: %w: %s", quoteShort(cur.ID), c.From, c.To, ErrInvalidTransition, fmt.Sprintf(format, args...))
	}
	if cur.State != c.From {
		return fail("it is %s", cur.State)
	}
	if !slices.Contains(stateEdges[cur.State], c.To) {
		return fail("no such edge in the state machine")
	}
	if c.From == StateBuilding && c.To == StateSealed {
		return fail("a snapshot is sealed with SealSnapshot, which records its manifest")
	}
	if c.From == StateDeprecated && c.To == StateReleased && cur.ReleasedAt.IsZero() {
		return fail("only a snapshot that was released before can be rolled back to")
	}
	return nil
}

// ApplyStateChange returns cur after c (CheckStateChange approved it).
func ApplyStateChange(cur *Snapshot, c StateChange) *Snapshot {
	next := *cur
	next.State, next.StateAt, next.UpdatedAt = c.To, c.At, c.At
	if c.To == StateReleased {
		next.ReleasedAt = c.At
	}
	next.History = append(slices.Clip(cur.History), Event{At: c.At, By: c.By, From: c.From, To: c.To, Pinned: cur.Pinned, Reason: c.Reason})
	return &next
}

// Validate checks c before any state is read. Errors wrap
// ErrInvalidSnapshot.
func (c PinChange) Validate() (PinChange, error) {
	if err := checkActor("pin", c.ID, c.By, c.At, c.Reason); err != nil {
		return c, err
	}
	c.At = StoredTime(c.At)
	return c, nil
}

// CheckPinChange returns an error wrapping ErrInvalidTransition if cur may
// not be pinned (it is purged); unpinning is always allowed.
func CheckPinChange(cur *Snapshot, c PinChange) error {
	if c.Pinned && !cur.Pinned && cur.State == StatePurged {
		return fmt.Errorf("snapshot: pin %s: %w: it is purged", quoteShort(cur.ID), ErrInvalidTransition)
	}
	return nil
}

// ApplyPinChange returns cur after c and whether c changed anything.
func ApplyPinChange(cur *Snapshot, c PinChange) (*Snapshot, bool) {
	if cur.Pinned == c.Pinned {
		return cur, false
	}
	next := *cur
	next.Pinned, next.UpdatedAt = c.Pinned, c.At
	next.History = append(slices.Clip(cur.History), Event{At: c.At, By: c.By, From: cur.State, To: cur.State, Pinned: c.Pinned, Reason: c.Reason})
	return &next, true
}

// Validate checks f: known states and a well-formed cursor. Errors wrap
// ErrInvalidSnapshot.
func (f SnapshotFilter) Validate() error {
	for _, s := range f.States {
		if !s.Valid() {
			return fmt.Errorf("snapshot: list: %w: unknown state %s", ErrInvalidSnapshot, quoteShort(string(s)))
		}
	}
	if f.Cursor != "" && !ValidID(f.Cursor) {
		return fmt.Errorf("snapshot: list: %w: malformed cursor", ErrInvalidSnapshot)
	}
	return nil
}

// PageLimit returns the page size f asks for, applying the default and
// the maximum ([lifecycle.PageLimit]). Stores fetch one more, then call
// TrimPage.
func (f SnapshotFilter) PageLimit() int { return lifecycle.PageLimit(f.Limit) }

// TrimPage cuts snapshots, listed in increasing ID order after f.Cursor
// and fetched with one more than f.PageLimit(), to a page
// ([lifecycle.TrimPage]). Stores call it so every store pages alike.
func (f SnapshotFilter) TrimPage(snaps []*Snapshot) SnapshotPage {
	if snaps == nil {
		snaps = []*Snapshot{}
	}
	page, next := lifecycle.TrimPage(snaps, f.PageLimit(), func(s *Snapshot) string { return s.ID })
	return SnapshotPage{Snapshots: page, Next: next}
}

// Match reports whether s passes f's state and OS release filters (not
// the cursor). In-memory stores use it.
func (f SnapshotFilter) Match(s *Snapshot) bool {
	return (len(f.States) == 0 || slices.Contains(f.States, s.State)) &&
		(f.OSRelease == "" || f.OSRelease == s.OSRelease)
}
