package fakebmc

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
)

// Errors of the simulation itself. Both are wrapped with bmc.Transient
// where they are injected, so drivers retry them like a real BMC's 503 or
// timeout.
var (
	// ErrInjected is the failure FailNext (with a nil error) and
	// FailureRate inject.
	ErrInjected = errors.New("fakebmc: injected failure")
	// ErrUnreachable is what every operation fails with while the BMC is
	// set unreachable (SetReachable(false)).
	ErrUnreachable = errors.New("fakebmc: BMC unreachable")
)

// Default credentials of a BMC whose Options leave them empty.
const (
	DefaultUsername = "admin"
	DefaultPassword = "password"
)

// Limits on what a BMC remembers, so long benchmarks stay bounded.
const (
	// DefaultOpHistory is how many operations Ops keeps by default.
	DefaultOpHistory = 4096
	// MaxOverlaps is how many overlapping pairs Overlaps returns.
	MaxOverlaps = 1024
	// MaxEventLog is how many entries the system event log keeps; older
	// entries are dropped, as on a real BMC.
	MaxEventLog = 1024
)

// Options configure a simulated BMC. A nil *Options, and every zero field,
// means the default.
type Options struct {
	// Host names the system in Op records (default: empty; Server.AddSystem
	// sets it to the system ID when empty).
	Host string
	// Credentials the BMC accepts (default admin / password).
	Credentials bmc.Credentials
	// InitialPower is the power at start: bmc.PowerOff (default) or
	// bmc.PowerOn.
	InitialPower bmc.PowerState
	// Latency is added to every operation; a caller whose ctx ends during
	// it gets ctx's error.
	Latency time.Duration
	// TransitionTime, when positive, is how long the system reports
	// powering-on or powering-off after a power action before it settles
	// (on, cycle: powering-on; soft-off: powering-off). Zero settles at
	// once. Force off and reset never pass through a transition.
	TransitionTime time.Duration
	// BootMode is the system's own firmware mode, used by boots without an
	// override mode (default UEFI).
	BootMode bmc.BootMode
	// UEFIOnly makes legacy boot overrides fail with bmc.ErrUnsupported.
	UEFIOnly bool
	// RevertBootOverride makes the BMC accept boot overrides and silently
	// drop them, as some firmware does (see SetRevertBootOverride).
	RevertBootOverride bool
	// ConsoleDisabled starts the remote console service disabled;
	// ConsoleSilent starts it enabled but not answering (see SetConsole).
	ConsoleDisabled, ConsoleSilent bool
	// FailureRate in [0, 1] is the probability that an operation fails
	// with a transient ErrInjected (see SetFailureRate).
	FailureRate float64
	// Rand returns numbers in [0, 1) for FailureRate (default
	// math/rand/v2.Float64). It is called with the BMC's lock held.
	Rand func() float64
	// Now is the clock for Op records, transitions and the event log
	// (default time.Now).
	Now func() time.Time
	// OpHistory is how many operations Ops keeps, oldest dropped first
	// (default DefaultOpHistory; negative keeps none). Overlaps are
	// detected whatever the history keeps.
	OpHistory int
	// Retry is how the in-process drivers retry transient failures
	// (default: 3 attempts, 1ms to 10ms apart).
	Retry *bmc.RetryPolicy
}

// BMC is one simulated system's baseboard management controller: power,
// a one-time boot override, a remote console, an event log, sessions,
// injected failures and a record of every operation. Drive it in process
// with Driver or NewDriver, or over HTTP by adding it to a Server; inspect
// and steer it with its other methods.
//
// A BMC is safe for concurrent use.
type BMC struct {
	creds    bmc.Credentials
	now      func() time.Time
	rand     func() float64
	retry    bmc.RetryPolicy
	bootMode bmc.BootMode
	uefiOnly bool
	history  int

	mu          sync.Mutex
	host        string
	latency     time.Duration
	power       bmc.PowerState
	target      bmc.PowerState // what a transition settles to
	settleAt    time.Time      // zero: no transition
	transition  time.Duration
	override    *bmc.BootOverride
	lastBoot    Boot
	boots       int
	revert      bool
	consoleOff  bool
	consoleMute bool
	unreachable bool
	failNext    int
	failErr     error
	failureRate float64
	sessions    map[uint64]struct{}
	nextSession uint64
	sel         []bmc.LogEntry
	nextSEL     int
	media       string
	bmcResets   int

	seq          uint64
	ops          []Op
	inflight     map[uint64]flight
	overlaps     []overlap
	overlapCount int
	oversOps     map[uint64]Op // completed ops that took part in an overlap
}

// New returns a simulated BMC configured by opts (nil means defaults).
func New(opts *Options) *BMC {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Credentials == (bmc.Credentials{}) {
		o.Credentials = bmc.Credentials{Username: DefaultUsername, Password: DefaultPassword}
	}
	if o.InitialPower == "" {
		o.InitialPower = bmc.PowerOff
	}
	if o.BootMode == "" {
		o.BootMode = bmc.BootUEFI
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	switch {
	case o.OpHistory == 0:
		o.OpHistory = DefaultOpHistory
	case o.OpHistory < 0:
		o.OpHistory = 0
	}
	retry := bmc.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: 10 * time.Millisecond}
	if o.Retry != nil {
		retry = *o.Retry
	}
	return &BMC{
		creds:       o.Credentials,
		latency:     o.Latency,
		now:         o.Now,
		rand:        o.Rand,
		retry:       retry,
		bootMode:    o.BootMode,
		uefiOnly:    o.UEFIOnly,
		history:     o.OpHistory,
		host:        o.Host,
		power:       o.InitialPower,
		transition:  o.TransitionTime,
		revert:      o.RevertBootOverride,
		consoleOff:  o.ConsoleDisabled,
		consoleMute: o.ConsoleSilent,
		failureRate: o.FailureRate,
		lastBoot:    Boot{Device: bmc.BootDisk, Mode: o.BootMode},
		sessions:    make(map[uint64]struct{}),
		inflight:    make(map[uint64]flight),
	}
}

// Host returns the name the BMC records operations under.
func (b *BMC) Host() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.host
}

// String names the BMC; it never shows the credentials.
func (b *BMC) String() string { return "fakebmc " + strconv.Quote(b.Host()) }

// GoString is String, for %#v, so the credentials never show.
func (b *BMC) GoString() string { return b.String() }

// Boot is a boot the simulated system performed.
type Boot struct {
	// Device and Mode the system booted with.
	Device bmc.BootDevice
	Mode   bmc.BootMode
	// Override is true when a one-time boot override chose the device
	// (and it was consumed by this boot).
	Override bool
	// Time of the power action that started the boot; zero for the
	// initial state before any boot.
	Time time.Time
}

// PowerState returns the system's power now, without latency, failures or
// an Op record (it is for tests, not a BMC operation).
func (b *BMC) PowerState() bmc.PowerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.settleLocked()
	return b.power
}

// SetPowerState forces the system's power, cancelling any transition. It
// does not boot and is not recorded.
func (b *BMC) SetPowerState(s bmc.PowerState) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.power, b.settleAt = s, time.Time{}
}

// SetLatency changes Options.Latency for operations that start later.
func (b *BMC) SetLatency(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latency = d
}

// SetTransitionTime changes Options.TransitionTime for later actions.
func (b *BMC) SetTransitionTime(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.transition = d
}

// LastBoot returns the last boot the system performed; before any, a
// zero-time Boot from disk.
func (b *BMC) LastBoot() Boot {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastBoot
}

// Boots counts the boots performed (power on, cycle, reset).
func (b *BMC) Boots() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.boots
}

// PendingBootOverride returns the one-time boot override the next boot
// will consume, if any.
func (b *BMC) PendingBootOverride() (bmc.BootOverride, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.override == nil {
		return bmc.BootOverride{}, false
	}
	return *b.override, true
}

// SetRevertBootOverride makes the BMC accept boot overrides and silently
// drop them (true), or honour them (false).
func (b *BMC) SetRevertBootOverride(revert bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.revert = revert
}

// SetConsole sets the remote console service: enabled or disabled, and,
// when enabled, answering probes or not.
func (b *BMC) SetConsole(enabled, answering bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.consoleOff, b.consoleMute = !enabled, !answering
}

// SetReachable makes every operation fail at once with a transient
// ErrUnreachable (false), or work again (true). Logging out still works,
// so sessions are not leaked.
func (b *BMC) SetReachable(reachable bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unreachable = !reachable
}

// FailNext makes the next n operations fail with err; a nil err means a
// transient ErrInjected. Logging out never fails. n <= 0 cancels.
func (b *BMC) FailNext(n int, err error) {
	if err == nil {
		err = bmc.Transient(ErrInjected)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failNext, b.failErr = max(n, 0), err
}

// SetFailureRate makes each operation fail with a transient ErrInjected
// with probability rate (0 disables), drawn from Options.Rand.
func (b *BMC) SetFailureRate(rate float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failureRate = rate
}

// Sessions counts the sessions open on this BMC through in-process
// drivers. (A Server counts its HTTP sessions itself: Server.Sessions.)
func (b *BMC) Sessions() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

// Media returns the URL of the virtual media image inserted, or "".
func (b *BMC) Media() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.media
}

// BMCResets counts the resets of the BMC itself.
func (b *BMC) BMCResets() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bmcResets
}

// EventLog returns a copy of the system event log, oldest first: one
// entry per power action performed, and one per BMC reset.
func (b *BMC) EventLog() []bmc.LogEntry {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]bmc.LogEntry(nil), b.sel...)
}

// --- the operation record -------------------------------------------------

// OpKind names a BMC operation.
type OpKind string

// Operation kinds. In-process drivers and the Server record the same
// kinds; the Server records one Op per request that touches a system.
const (
	OpOpen        OpKind = "open"         // log in (in-process)
	OpClose       OpKind = "close"        // log out (in-process)
	OpPowerState  OpKind = "power-state"  // read power (in-process)
	OpGetSystem   OpKind = "get-system"   // read the system resource (HTTP)
	OpGetManager  OpKind = "get-manager"  // read the manager or its media (HTTP)
	OpSetPower    OpKind = "set-power"    // a power action; Detail names it
	OpSetBoot     OpKind = "set-boot"     // set a boot override; Detail names it
	OpGetBoot     OpKind = "get-boot"     // read the boot override (in-process)
	OpConsole     OpKind = "console"      // read the console service
	OpInsertMedia OpKind = "insert-media" // attach virtual media
	OpEjectMedia  OpKind = "eject-media"  // detach virtual media
	OpResetBMC    OpKind = "reset-bmc"    // restart the BMC
	OpEventLog    OpKind = "event-log"    // read the event log
)

// Op is one operation the BMC served.
type Op struct {
	// Seq numbers operations in the order they started, from 1.
	Seq uint64
	// Host is the BMC's host name (Options.Host or the Server's system
	// ID).
	Host string
	Kind OpKind
	// Detail: the power action, the boot override, the media URL.
	Detail string
	// Start and End, from Options.Now; End is zero while the operation
	// runs.
	Start, End time.Time
	// Err is the operation's failure, nil on success.
	Err error
}

// OverlapPair is two operations that ran at the same time on one BMC:
// Second started while First was still running. Overlap is detected from
// the operations actually in flight, not from timestamps, so it is exact
// whatever the clock.
type OverlapPair struct {
	First, Second Op
}

type flight struct {
	op         Op
	overlapped bool
}

type overlap struct{ first, second uint64 }

// Ops returns the operations recorded, oldest first (at most
// Options.OpHistory of them), then those still running.
func (b *BMC) Ops() []Op {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Op, 0, len(b.ops)+len(b.inflight))
	out = append(out, b.ops...)
	for _, f := range b.inflight {
		out = append(out, f.op)
	}
	slices.SortFunc(out[len(b.ops):], func(x, y Op) int { return cmp.Compare(x.Seq, y.Seq) })
	return out
}

// Overlaps returns the pairs of operations that overlapped in time on
// this BMC (the first MaxOverlaps of them), in the order the second one
// started. A fleet that never runs two operations on one host at once
// leaves it empty.
func (b *BMC) Overlaps() []OverlapPair {
	b.mu.Lock()
	defer b.mu.Unlock()
	get := func(seq uint64) Op {
		if f, ok := b.inflight[seq]; ok {
			return f.op
		}
		return b.oversOps[seq]
	}
	out := make([]OverlapPair, 0, len(b.overlaps))
	for _, o := range b.overlaps {
		out = append(out, OverlapPair{First: get(o.first), Second: get(o.second)})
	}
	return out
}

// OverlapCount counts the pairs of operations that overlapped, including
// those past MaxOverlaps that Overlaps does not return.
func (b *BMC) OverlapCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.overlapCount
}

// OpCount counts the operations started so far, whatever Options.OpHistory
// keeps.
func (b *BMC) OpCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int(b.seq)
}

// ResetOps forgets the operations and overlaps recorded so far.
func (b *BMC) ResetOps() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops, b.overlaps, b.oversOps, b.overlapCount = nil, nil, nil, 0
}

// begin records the start of an operation and returns its Seq and the
// latency to wait.
func (b *BMC) begin(kind OpKind, detail string) (uint64, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	f := flight{op: Op{Seq: b.seq, Host: b.host, Kind: kind, Detail: detail, Start: b.now()}}
	b.overlapCount += len(b.inflight)
	if room := MaxOverlaps - len(b.overlaps); room > 0 && len(b.inflight) > 0 {
		firsts := make([]uint64, 0, len(b.inflight))
		for seq := range b.inflight {
			firsts = append(firsts, seq)
		}
		slices.Sort(firsts)
		for _, seq := range firsts[:min(room, len(firsts))] {
			if other := b.inflight[seq]; !other.overlapped {
				other.overlapped = true
				b.inflight[seq] = other
			}
			f.overlapped = true
			b.overlaps = append(b.overlaps, overlap{first: seq, second: b.seq})
		}
	}
	b.inflight[b.seq] = f
	return b.seq, b.latency
}

// endLocked completes the operation seq with err.
func (b *BMC) endLocked(seq uint64, err error) {
	f := b.inflight[seq]
	delete(b.inflight, seq)
	f.op.End, f.op.Err = b.now(), err
	if f.overlapped {
		if b.oversOps == nil {
			b.oversOps = make(map[uint64]Op)
		}
		b.oversOps[seq] = f.op
	}
	if b.history == 0 {
		return
	}
	b.ops = append(b.ops, f.op)
	if len(b.ops) >= 2*b.history { // trim in amortised O(1)
		b.ops = append(b.ops[:0:0], b.ops[len(b.ops)-b.history:]...)
	}
}

// do runs one BMC operation: it records it, waits the latency (honouring
// ctx), injects failures, then runs fn with the lock held.
func (b *BMC) do(ctx context.Context, kind OpKind, detail string, fn func() error) error {
	seq, latency := b.begin(kind, detail)
	err := wait(ctx, latency)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		err = b.injectLocked()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && fn != nil {
		err = fn()
	}
	b.endLocked(seq, err)
	return err
}

func wait(ctx context.Context, latency time.Duration) error {
	if latency <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *BMC) injectLocked() error {
	switch {
	case b.unreachable:
		return bmc.Transient(ErrUnreachable)
	case b.failNext > 0:
		b.failNext--
		return b.failErr
	case b.failureRate > 0 && b.rand() < b.failureRate:
		return bmc.Transient(ErrInjected)
	}
	return nil
}

// --- what the operations do (called with b.mu held) ------------------------

func (b *BMC) loginLocked(c bmc.Credentials) (uint64, error) {
	userOK := subtle.ConstantTimeCompare([]byte(c.Username), []byte(b.creds.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(c.Password), []byte(b.creds.Password)) == 1
	if !userOK || !passOK {
		return 0, fmt.Errorf("%w: user %q", bmc.ErrAuth, c.Username)
	}
	b.nextSession++
	b.sessions[b.nextSession] = struct{}{}
	return b.nextSession, nil
}

// logout ends session id; it never fails and ignores ctx so a session is
// never leaked, but it is recorded and waits the latency.
func (b *BMC) logout(ctx context.Context, id uint64) {
	seq, latency := b.begin(OpClose, "")
	_ = wait(ctx, latency)
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.sessions, id)
	b.endLocked(seq, nil)
}

func (b *BMC) hasSessionLocked(id uint64) bool {
	_, ok := b.sessions[id]
	return ok
}

func (b *BMC) settleLocked() {
	if !b.settleAt.IsZero() && !b.now().Before(b.settleAt) {
		b.power, b.settleAt = b.target, time.Time{}
	}
}

func (b *BMC) powerLocked() bmc.PowerState {
	b.settleLocked()
	return b.power
}

// powerActionLocked performs a, decided by bmc.CheckPowerAction like a
// driver would: a no-op changes nothing, an invalid action fails.
func (b *BMC) powerActionLocked(a bmc.PowerAction) error {
	cur := b.powerLocked()
	noop, err := bmc.CheckPowerAction(cur, a)
	if err != nil || noop {
		return err
	}
	now := b.now()
	transit := func(via, to bmc.PowerState) {
		if b.transition <= 0 {
			b.power, b.settleAt = to, time.Time{}
			return
		}
		b.power, b.target, b.settleAt = via, to, now.Add(b.transition)
	}
	switch a {
	case bmc.PowerActionOn:
		b.bootLocked(now)
		transit(bmc.PowerPoweringOn, bmc.PowerOn)
	case bmc.PowerActionOff:
		b.power, b.settleAt = bmc.PowerOff, time.Time{}
	case bmc.PowerActionSoftOff:
		transit(bmc.PowerPoweringOff, bmc.PowerOff)
	case bmc.PowerActionCycle:
		b.bootLocked(now)
		transit(bmc.PowerPoweringOn, bmc.PowerOn)
	case bmc.PowerActionReset:
		b.bootLocked(now)
		b.power, b.settleAt = bmc.PowerOn, time.Time{}
	}
	b.logLocked(now, "OK", "power action "+string(a)+" (was "+string(cur)+")")
	return nil
}

func (b *BMC) bootLocked(now time.Time) {
	boot := Boot{Device: bmc.BootDisk, Mode: b.bootMode, Time: now}
	if o := b.override; o != nil {
		boot.Device, boot.Override = o.Device, true
		if o.Mode != "" {
			boot.Mode = o.Mode
		}
		b.override = nil
	}
	b.lastBoot = boot
	b.boots++
}

func (b *BMC) logLocked(now time.Time, severity, msg string) {
	b.nextSEL++
	if len(b.sel) >= MaxEventLog {
		b.sel = append(b.sel[:0], b.sel[len(b.sel)-MaxEventLog+1:]...)
	}
	b.sel = append(b.sel, bmc.LogEntry{ID: strconv.Itoa(b.nextSEL), Time: now, Severity: severity, Message: msg})
}

func (b *BMC) setBootLocked(o bmc.BootOverride) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if o.Mode == bmc.BootLegacy && b.uefiOnly {
		return fmt.Errorf("legacy boot: %w", bmc.ErrUnsupported)
	}
	if b.revert {
		return nil // accepted, and silently forgotten
	}
	b.override = &o
	return nil
}

// bootOverrideLocked reads the override back as a BMC reports it: the
// mode is the system's when the override left it unset.
func (b *BMC) bootOverrideLocked() (bmc.BootOverride, bool) {
	if b.override == nil {
		return bmc.BootOverride{}, false
	}
	o := *b.override
	if o.Mode == "" {
		o.Mode = b.bootMode
	}
	return o, true
}

func (b *BMC) clearBootLocked() { b.override = nil }

func (b *BMC) insertMediaLocked(imageURL string) error {
	u, err := url.Parse(imageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: virtual media image must be an http or https URL", bmc.ErrInvalidArgument)
	}
	b.media = imageURL
	return nil
}

func (b *BMC) resetBMCLocked() {
	b.bmcResets++
	b.logLocked(b.now(), "OK", "BMC reset")
}
