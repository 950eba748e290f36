package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/store"
)

// Events a Monitor sends.
const (
	// EventProblem: verification found something wrong with a snapshot
	// (a missing, corrupt or wrong-sized blob, a tampered manifest, an
	// unknown key). Subject is the snapshot; Attrs: kind, package,
	// digest, detail.
	EventProblem = "snapshot.problem"
	// EventDrift: a source repository now offers a package of the same
	// name, arch and EVR as a snapshot's with another checksum: the
	// upstream rebuilt or altered it. Subject is the snapshot; Attrs:
	// package, repo, stored, upstream.
	EventDrift = "snapshot.drift"
	// EventRepoUnreachable: a source repository could not be read for the
	// drift check. Subject is the repository.
	EventRepoUnreachable = "snapshot.repo-unreachable"
)

// MonitorConfig configures a Monitor.
type MonitorConfig struct {
	// Catalogue lists the snapshots to check; Blobs holds their content;
	// Keys verifies their seals. Required.
	Catalogue Store
	Blobs     BlobStore
	Keys      *KeyRing
	// States are the states of the snapshots checked (default sealed,
	// validated, validation-failed, released, deprecated: every snapshot
	// whose blobs are kept).
	States []State
	// Repos are re-read each round to look for metadata drift; none
	// disables the drift check.
	Repos []RepoSource
	// HTTPClient reads http(s) repositories (nil: yumrepo's default).
	HTTPClient *http.Client
	// Interval is the time between rounds (default 1h); FullEvery makes
	// every FullEvery-th round, the first included, a full verification
	// that re-hashes every blob (default 24; 1: every round); the others
	// are quick (presence and size).
	Interval  time.Duration
	FullEvery int
	// Concurrency bounds the blobs checked at once (0: GOMAXPROCS).
	Concurrency int
	// Locker, when set, runs the rounds on one node at a time among
	// those sharing it, under the lease LockName (default
	// "fleetkit.snapshot.monitor").
	Locker   store.Locker
	LockName string
	// Notifier receives the events; Logger logs rounds and failures.
	Notifier fleetkit.Notifier
	Logger   *slog.Logger
	// Now is the clock of reports and events (default time.Now).
	Now func() time.Time
}

// MonitorReport is what one round found.
type MonitorReport struct {
	At   time.Time
	Full bool
	// Snapshots counts the snapshots checked.
	Snapshots int
	// Verify is the verification's report.
	Verify *VerifyReport
	// Drift lists packages whose upstream checksum changed.
	Drift []Drift
	// RepoErrors maps each repository that could not be read to why.
	RepoErrors map[string]string
}

// OK reports whether the round found nothing wrong.
func (r *MonitorReport) OK() bool {
	return r.Verify.OK() && len(r.Drift) == 0 && len(r.RepoErrors) == 0
}

// Drift is a package that a source repository now offers, at the same
// name, arch and EVR as a snapshot's, with another checksum.
type Drift struct {
	Snapshot string
	// Package is name-EVR.arch.
	Package string
	// Repo is the repository's base.
	Repo string
	// Stored is the digest the snapshot records; Upstream the checksum
	// the repository lists now ("type:value" when not sha256).
	Stored   Digest
	Upstream string
}

// Monitor verifies snapshots on a schedule and reports what went wrong:
// blobs missing or damaged in the store, manifests that no longer match
// their seals, and packages changed upstream under the same version.
type Monitor struct {
	cfg MonitorConfig
}

// NewMonitor checks cfg and returns a Monitor.
func NewMonitor(cfg *MonitorConfig) (*Monitor, error) {
	if cfg == nil || cfg.Catalogue == nil || cfg.Blobs == nil || cfg.Keys == nil {
		return nil, errors.New("snapshot: monitor: Catalogue, Blobs and Keys are required")
	}
	c := *cfg
	if c.States == nil {
		c.States = []State{StateSealed, StateValidated, StateValidationFailed, StateReleased, StateDeprecated}
	}
	for _, s := range c.States {
		if !s.Valid() {
			return nil, fmt.Errorf("snapshot: monitor: %w: unknown state %q", ErrInvalidSnapshot, s)
		}
	}
	if c.Interval == 0 {
		c.Interval = time.Hour
	}
	if c.FullEvery == 0 {
		c.FullEvery = 24
	}
	if c.Interval < 0 || c.FullEvery < 0 || c.Concurrency < 0 {
		return nil, errors.New("snapshot: monitor: negative Interval, FullEvery or Concurrency")
	}
	if c.LockName == "" {
		c.LockName = "fleetkit.snapshot.monitor"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Monitor{cfg: c}, nil
}

// Run checks the snapshots every Interval until ctx ends (one node at a
// time with a Locker), a full verification every FullEvery rounds. It
// returns nil when ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	round := 0
	return store.Every(ctx, m.cfg.Locker, m.cfg.LockName, m.cfg.Interval, func(ctx context.Context, _ store.Lease) error {
		full := round%m.cfg.FullEvery == 0
		round++
		_, err := m.Check(ctx, full)
		return err
	}, &store.EveryOptions{OnError: func(err error) {
		m.cfg.Logger.WarnContext(ctx, "snapshot: monitor round failed", "err", err)
	}})
}

// Check runs one round now, full or quick, sends an event for every
// problem, drift and unreachable repository, and returns the report. The
// error is for rounds that could not run (the catalogue or the blob store
// failing, ctx ending).
func (m *Monitor) Check(ctx context.Context, full bool) (*MonitorReport, error) {
	rep := &MonitorReport{At: m.cfg.Now(), Full: full}
	list, err := listAll(ctx, m.cfg.Catalogue, m.cfg.States)
	if err != nil {
		return nil, fmt.Errorf("snapshot: monitor: listing snapshots: %w", err)
	}
	var (
		snaps []Sealed
		bad   []Problem
	)
	for _, s := range list {
		full, err := m.cfg.Catalogue.Snapshot(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("snapshot: monitor: %w", err)
		}
		sealed, err := full.Sealed()
		if err != nil {
			// A manifest the catalogue holds but that does not decode:
			// Verify's tampered-manifest problem, made here.
			bad = append(bad, Problem{Kind: ProblemTamperedManifest, Snapshot: s.ID, Detail: err.Error()})
			continue
		}
		snaps = append(snaps, *sealed)
	}
	rep.Snapshots = len(list)
	vr, err := Verify(ctx, VerifyParams{Blobs: m.cfg.Blobs, Keys: m.cfg.Keys, Snapshots: snaps, Full: full, Concurrency: m.cfg.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("snapshot: monitor: %w", err)
	}
	vr.Problems = append(bad, vr.Problems...)
	rep.Verify = vr
	for _, p := range vr.Problems {
		m.problem(ctx, p)
	}
	if len(m.cfg.Repos) > 0 {
		rep.Drift, rep.RepoErrors = m.drift(ctx, snaps)
		for _, d := range rep.Drift {
			m.notify(ctx, fleetkit.Event{Kind: EventDrift, Subject: d.Snapshot, Attrs: map[string]string{
				"package": d.Package, "repo": d.Repo, "stored": d.Stored.String(), "upstream": d.Upstream}})
		}
		for repo, why := range rep.RepoErrors {
			m.notify(ctx, fleetkit.Event{Kind: EventRepoUnreachable, Subject: repo, Attrs: map[string]string{"error": why}})
		}
	}
	m.cfg.Logger.InfoContext(ctx, "snapshot: monitor round", "full", full, "snapshots", rep.Snapshots,
		"blobs", vr.Checked, "problems", len(vr.Problems), "drift", len(rep.Drift), "repo_errors", len(rep.RepoErrors))
	return rep, nil
}

func (m *Monitor) problem(ctx context.Context, p Problem) {
	attrs := map[string]string{"kind": string(p.Kind), "detail": p.Detail}
	if p.Package != "" {
		attrs["package"] = p.Package
	}
	if p.Digest != (Digest{}) {
		attrs["digest"] = p.Digest.String()
	}
	m.notify(ctx, fleetkit.Event{Kind: EventProblem, Subject: p.Snapshot, Attrs: attrs})
}

func (m *Monitor) notify(ctx context.Context, e fleetkit.Event) {
	fleetkit.NotifyBestEffort(ctx, m.cfg.Notifier, m.cfg.Logger, m.cfg.Now, e)
}

// upstream is a package as a repository lists it now.
type upstream struct {
	repo     string
	checksum yumrepo.Checksum
}

// drift re-reads the source repositories and compares their checksums
// with the snapshots' digests.
func (m *Monitor) drift(ctx context.Context, snaps []Sealed) ([]Drift, map[string]string) {
	index := map[string][]upstream{} // name-EVR.arch → listings
	var errs map[string]string
	for _, r := range m.cfg.Repos {
		repo, err := yumrepo.Open(ctx, r.Base, &yumrepo.Options{HTTPClient: m.cfg.HTTPClient})
		if err != nil {
			if errs == nil {
				errs = map[string]string{}
			}
			errs[redact(r.Base)] = err.Error()
			continue
		}
		for _, p := range repo.Packages() {
			k := packageKey(p.Name, p.EVR.String(), p.Arch)
			index[k] = append(index[k], upstream{repo: redact(r.Base), checksum: p.Checksum})
		}
	}
	var out []Drift
	for _, s := range snaps {
		for _, p := range s.Manifest.Packages {
			for _, u := range index[packageKey(p.Name, p.EVR.String(), p.Arch)] {
				if strings.EqualFold(u.checksum.Type, "sha256") {
					if d, err := ParseDigest(strings.ToLower(u.checksum.Value)); err == nil && d == p.Digest {
						continue
					}
				}
				up := u.checksum.Value
				if !strings.EqualFold(u.checksum.Type, "sha256") {
					up = u.checksum.Type + ":" + up
				}
				out = append(out, Drift{Snapshot: s.Manifest.ID, Package: packageKey(p.Name, p.EVR.String(), p.Arch),
					Repo: u.repo, Stored: p.Digest, Upstream: up})
			}
		}
	}
	slices.SortFunc(out, func(a, b Drift) int {
		return strings.Compare(a.Snapshot+"\x00"+a.Package+"\x00"+a.Repo, b.Snapshot+"\x00"+b.Package+"\x00"+b.Repo)
	})
	return out, errs
}

func packageKey(name, evr, arch string) string { return name + "-" + evr + "." + arch }

// String summarises the report in one line.
func (r *MonitorReport) String() string {
	mode := "quick"
	if r.Full {
		mode = "full"
	}
	return mode + " check of " + strconv.Itoa(r.Snapshots) + " snapshot(s): " + strconv.Itoa(len(r.Verify.Problems)) +
		" problem(s), " + strconv.Itoa(len(r.Drift)) + " drifted package(s), " + strconv.Itoa(len(r.RepoErrors)) + " unreadable repo(s)"
}
