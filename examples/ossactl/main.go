// Command ossactl runs the life of OS snapshots: build one from yum
// repositories into a content-addressed blob store and seal it, list and
// show the catalogue, diff two snapshots, verify them (quick or full),
// boot-test one on canary hosts, release, deprecate, pin, and purge by a
// retention policy (a dry-run plan first). Progress bars are drawn on
// stderr when it is a terminal.
//
// Usage:
//
//	ossactl [global flags] command [flags] [args]
//
//	keygen   -out FILE [-id ID]             write a new random sealing key ring (mode 0600)
//	build    -id ID -os-release R -arch A -repo PATH|URL[,priority=N][,include=GLOB][,exclude=GLOB] ...
//	         [-parent ID] [-pin NAME=EVR ...] [-boot NAME=URL@sha256:HEX ...]
//	list     [-state S ...] [-os-release R] [-json]
//	show     ID [-json]
//	diff     OLD NEW
//	verify   [-full] [ID ...]               every kept snapshot when no ID is given
//	validate ID -canaries HOST,HOST [-timeout D] [-simulate]
//	release | deprecate | pin | unpin ID [-reason TEXT]
//	purge    [-apply] [-keep N] [-deprecated-ttl D] [-abandon-after D] [-blob-grace D]
//
// Global flags: -store URL (the catalogue, a fleetkit store: sqlite:///…,
// postgres://…; default sqlite://./ossa.db), -blobs DIR (the blob store,
// default ./blobs), -keys FILE (the key ring, default ./keys.json), -as NAME
// (who acts; default $USER).
//
// The key file is JSON, {"current": "k1", "keys": {"k1": "<base64>"}}; its
// keys are never printed. validate submits a reimage of the canaries
// through lifecycle on the same store and waits for the fleet's workers to
// run it; -simulate runs the workers here instead, against simulated BMCs
// and a simulated installer, to try the whole life on one machine.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/internal/progress"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/fsblob"
	"github.com/fleetkit/fleetkit/store"

	_ "github.com/fleetkit/fleetkit/store/memstore"
	_ "github.com/fleetkit/fleetkit/store/pgstore"
	_ "github.com/fleetkit/fleetkit/store/sqlitestore"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what every command works with.
type env struct {
	storeURL, blobDir, keyFile, actor string
	stdout, stderr                    io.Writer

	backend store.Backend
	life    lifecycle.Store
	cat     snapshot.Store
	blobs   snapshot.BlobStore
}

func (e *env) open(ctx context.Context) error {
	st, backend, err := lifecycle.OpenStore(ctx, e.storeURL)
	if err != nil {
		return err
	}
	cat, ok := backend.(snapshot.Store)
	if !ok {
		backend.Close(ctx)
		return fmt.Errorf("the store keeps no snapshot catalogue (%T)", backend)
	}
	blobs, err := fsblob.New(e.blobDir, nil)
	if err != nil {
		backend.Close(ctx)
		return err
	}
	e.backend, e.life, e.cat, e.blobs = backend, st, cat, blobs
	return nil
}

func (e *env) close(ctx context.Context) {
	if e.backend != nil {
		e.backend.Close(context.WithoutCancel(ctx))
	}
}

func (e *env) keys() (*snapshot.KeyRing, error) { return readKeyRing(e.keyFile) }

// bar starts a progress bar on stderr when it is a terminal; the returned
// update and stop are no-ops otherwise.
func (e *env) bar(total int, unit string) (update func(done, total, failed int), stop func()) {
	if !progress.IsTerminal(e.stderr) || total == 0 {
		return func(int, int, int) {}, func() {}
	}
	b := progress.Start(e.stderr, total, unit)
	return func(done, total, failed int) { b.Update(progress.State{Done: done, Total: total, Failed: failed}) }, b.Stop
}

// commands maps each command to its function and whether it opens the
// store.
var commands = map[string]struct {
	fn    func(ctx context.Context, e *env, args []string) error
	store bool
}{
	"keygen":    {cmdKeygen, false},
	"build":     {cmdBuild, true},
	"list":      {cmdList, true},
	"show":      {cmdShow, true},
	"diff":      {cmdDiff, true},
	"verify":    {cmdVerify, true},
	"validate":  {cmdValidate, true},
	"release":   {stateCmd(snapshot.StateReleased), true},
	"deprecate": {stateCmd(snapshot.StateDeprecated), true},
	"pin":       {pinCmd(true), true},
	"unpin":     {pinCmd(false), true},
	"purge":     {cmdPurge, true},
}

// run is ossactl: it returns the exit status (1 for a failure or problems
// found, 2 for a usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("ossactl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&e.storeURL, "store", "sqlite://./ossa.db", "the catalogue: a fleetkit store URL")
	fs.StringVar(&e.blobDir, "blobs", "./blobs", "the blob store's directory")
	fs.StringVar(&e.keyFile, "keys", "./keys.json", "the key ring file")
	fs.StringVar(&e.actor, "as", os.Getenv("USER"), "who acts (recorded in the catalogue)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ossactl [global flags] keygen|build|list|show|diff|verify|validate|release|deprecate|pin|unpin|purge [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if e.actor == "" {
		e.actor = "ossactl"
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	c, ok := commands[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "ossactl: unknown command %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if c.store {
		if err := e.open(ctx); err != nil {
			fmt.Fprintln(stderr, "ossactl:", err)
			return 1
		}
		defer e.close(ctx)
	}
	err := c.fn(ctx, e, fs.Args()[1:])
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "ossactl %s: %s\n", fs.Arg(0), ue.msg)
		return 2
	case errors.Is(err, errProblems):
		return 1
	default:
		fmt.Fprintf(stderr, "ossactl %s: %v\n", fs.Arg(0), err)
		return 1
	}
}

// errProblems: the command ran and found problems, already reported.
var errProblems = errors.New("problems found")

// parse parses a command's flags, which may come before or after its
// positional arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	fs.SetOutput(stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// oneID parses a command's flags and its one argument, a snapshot ID.
func oneID(fs *flag.FlagSet, args []string, stderr io.Writer) (string, error) {
	pos, err := parse(fs, args, stderr)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("want one snapshot ID")
	}
	return pos[0], nil
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// keyFile is the key ring's file format.
type keyFile struct {
	Current string            `json:"current"`
	Keys    map[string]string `json:"keys"` // ID → base64
}

func readKeyRing(path string) (*snapshot.KeyRing, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("key ring: %w", err)
	}
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		// Never quote the file: it holds secrets.
		return nil, fmt.Errorf("key ring %s: not the JSON of {\"current\": ID, \"keys\": {ID: base64}}", path)
	}
	keys := make(map[string][]byte, len(kf.Keys))
	for id, b64 := range kf.Keys {
		k, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("key ring %s: key %q is not base64", path, id)
		}
		keys[id] = k
	}
	ring, err := snapshot.NewKeyRing(kf.Current, keys)
	if err != nil {
		return nil, fmt.Errorf("key ring %s: %w", path, err)
	}
	return ring, nil
}

func cmdKeygen(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	out := fs.String("out", "", "file to write (required; never overwritten)")
	id := fs.String("id", "k"+time.Now().UTC().Format("20060102"), "key ID")
	pos, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) > 0 {
		return usagef("want -out FILE and no arguments")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	if _, err := snapshot.NewKeyRing(*id, map[string][]byte{*id: key}); err != nil {
		return usagef("%v", err)
	}
	data, _ := json.MarshalIndent(keyFile{Current: *id, Keys: map[string]string{*id: base64.StdEncoding.EncodeToString(key)}}, "", "  ")
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote key ring %s with key %s\n", *out, *id)
	return nil
}

// parseRepo reads PATH|URL[,priority=N][,include=GLOB][,exclude=GLOB].
func parseRepo(spec string) (snapshot.RepoSource, error) {
	parts := strings.Split(spec, ",")
	r := snapshot.RepoSource{Base: parts[0]}
	if r.Base == "" {
		return r, usagef("-repo %q: no path or URL", spec)
	}
	for _, p := range parts[1:] {
		k, v, ok := strings.Cut(p, "=")
		switch {
		case !ok || v == "":
			return r, usagef("-repo %q: %q is not key=value", spec, p)
		case k == "priority":
			n, err := strconv.Atoi(v)
			if err != nil {
				return r, usagef("-repo %q: priority %q is not a number", spec, v)
			}
			r.Priority = n
		case k == "include":
			r.Include = append(r.Include, v)
		case k == "exclude":
			r.Exclude = append(r.Exclude, v)
		default:
			return r, usagef("-repo %q: unknown option %q (priority, include, exclude)", spec, k)
		}
	}
	return r, nil
}

// parseBoot reads NAME=URL@sha256:HEX.
func parseBoot(spec string) (snapshot.BootFileSource, error) {
	name, rest, ok := strings.Cut(spec, "=")
	at := strings.LastIndex(rest, "@")
	if !ok || name == "" || at <= 0 {
		return snapshot.BootFileSource{}, usagef("-boot %q: want NAME=URL@sha256:HEX", spec)
	}
	d, err := snapshot.ParseDigest(rest[at+1:])
	if err != nil {
		return snapshot.BootFileSource{}, usagef("-boot %q: %v", spec, err)
	}
	return snapshot.BootFileSource{Name: name, URL: rest[:at], Digest: d}, nil
}

func cmdBuild(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	id := fs.String("id", "", "snapshot ID (required)")
	osRelease := fs.String("os-release", "", "OS release, e.g. rhel-9 (required)")
	arch := fs.String("arch", "x86_64", "architecture")
	parent := fs.String("parent", "", "ID of the snapshot this one derives from")
	var repos, pins, boots listFlag
	fs.Var(&repos, "repo", "a yum repository: PATH|URL[,priority=N][,include=GLOB][,exclude=GLOB] (repeatable)")
	fs.Var(&pins, "pin", "NAME=EVR: take this version of a package (repeatable)")
	fs.Var(&boots, "boot", "NAME=URL@sha256:HEX: a boot file (repeatable)")
	pos, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	if *id == "" || *osRelease == "" || len(repos) == 0 || len(pos) > 0 {
		return usagef("want -id, -os-release and at least one -repo, and no arguments")
	}
	p := snapshot.BuildParams{ID: *id, OSRelease: *osRelease, Arch: *arch, Parent: *parent, Blobs: e.blobs,
		Pins: map[string]string{}, Metadata: map[string]string{"built-by": e.actor}}
	for _, spec := range repos {
		r, err := parseRepo(spec)
		if err != nil {
			return err
		}
		p.Repos = append(p.Repos, r)
	}
	for _, spec := range pins {
		name, evr, ok := strings.Cut(spec, "=")
		if !ok || name == "" || evr == "" {
			return usagef("-pin %q: want NAME=EVR", spec)
		}
		p.Pins[name] = evr
	}
	for _, spec := range boots {
		b, err := parseBoot(spec)
		if err != nil {
			return err
		}
		p.BootFiles = append(p.BootFiles, b)
	}
	if p.Keys, err = e.keys(); err != nil {
		return err
	}
	// Register the build before it writes a blob, so that a purge running
	// meanwhile sweeps none of its blobs (see snapshot.Purge).
	if _, err := e.cat.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: *id, OSRelease: *osRelease, Parent: *parent,
		By: e.actor, At: time.Now(), Reason: "ossactl build"}); err != nil {
		return err
	}
	abandon := func(cause error) error {
		_, err := e.cat.SetSnapshotState(context.WithoutCancel(ctx), snapshot.StateChange{ID: *id, From: snapshot.StateBuilding,
			To: snapshot.StatePurged, By: e.actor, At: time.Now(), Reason: clip("build failed: " + cause.Error())})
		return errors.Join(cause, err)
	}
	var update func(done, total, failed int)
	var stop func()
	p.Progress = func(done, total int) {
		if update == nil {
			update, stop = e.bar(total, "files")
		}
		update(done, total, 0)
	}
	sealed, err := snapshot.Build(ctx, p)
	if stop != nil {
		stop()
	}
	if err != nil {
		return abandon(err)
	}
	// Check every blob is there before sealing the record.
	rep, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: e.blobs, Keys: p.Keys, Snapshots: []snapshot.Sealed{*sealed}})
	if err != nil {
		return abandon(err)
	}
	if !rep.OK() {
		return abandon(fmt.Errorf("%d blob problem(s) after the build, first: %s", len(rep.Problems), rep.Problems[0].Detail))
	}
	canonical, err := sealed.Canonical()
	if err != nil {
		return abandon(err)
	}
	s, err := e.cat.SealSnapshot(ctx, snapshot.SealParams{ID: *id, Manifest: canonical, Seal: sealed.Seal, By: e.actor, At: time.Now()})
	if err != nil {
		return abandon(err)
	}
	fmt.Fprintf(e.stdout, "snapshot %s: %d packages, %d boot files, %s, sealed with key %s\n", s.ID,
		len(sealed.Manifest.Packages), len(sealed.Manifest.BootFiles), bytesString(s.TotalBytes), s.Seal.KeyID)
	return nil
}

func clip(s string) string {
	if len(s) > 900 {
		return s[:900] + "…"
	}
	return s
}

func bytesString(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func cmdList(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	var states listFlag
	fs.Var(&states, "state", "keep snapshots in this state (repeatable)")
	osRelease := fs.String("os-release", "", "keep snapshots of this OS release")
	asJSON := fs.Bool("json", false, "JSON lines")
	pos, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("no arguments expected")
	}
	f := snapshot.SnapshotFilter{OSRelease: *osRelease, Limit: lifecycle.MaxPageSize}
	for _, s := range states {
		f.States = append(f.States, snapshot.State(s))
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "ID\tOS RELEASE\tSTATE\tPINNED\tSIZE\tCREATED\tBY")
	}
	enc := json.NewEncoder(e.stdout)
	for {
		page, err := e.cat.ListSnapshots(ctx, f)
		if err != nil {
			return err
		}
		for _, s := range page.Snapshots {
			if *asJSON {
				if err := enc.Encode(s); err != nil {
					return err
				}
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", s.ID, s.OSRelease, s.State, s.Pinned, bytesString(s.TotalBytes),
				s.CreatedAt.Format(time.RFC3339), s.CreatedBy)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	return tw.Flush()
}

func cmdShow(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "JSON (the manifest decoded)")
	id, err := oneID(fs, args, e.stderr)
	if err != nil {
		return err
	}
	s, err := e.cat.Snapshot(ctx, id)
	if err != nil {
		return err
	}
	var m *snapshot.Manifest
	if len(s.Manifest) > 0 {
		if m, err = s.DecodeManifest(); err != nil {
			return err
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		s.Manifest = nil
		return enc.Encode(struct {
			*snapshot.Snapshot
			Contents *snapshot.Manifest `json:",omitempty"`
		}{s, m})
	}
	fmt.Fprintf(e.stdout, "snapshot %s (%s), %s, pinned %v\n", s.ID, s.OSRelease, s.State, s.Pinned)
	if s.Parent != "" {
		fmt.Fprintf(e.stdout, "parent %s\n", s.Parent)
	}
	if m != nil {
		fmt.Fprintf(e.stdout, "%s, %d packages, %d boot files, %s, sealed with key %s at %s\n", m.Arch, len(m.Packages), len(m.BootFiles),
			bytesString(s.TotalBytes), s.Seal.KeyID, s.SealedAt.Format(time.RFC3339))
		for _, p := range m.Packages {
			fmt.Fprintf(e.stdout, "  %s-%s.%s  %s  %s\n", p.Name, p.EVR, p.Arch, bytesString(p.Size), p.Digest)
		}
		for _, b := range m.BootFiles {
			fmt.Fprintf(e.stdout, "  boot %s  %s  %s\n", b.Name, bytesString(b.Size), b.Digest)
		}
	}
	fmt.Fprintln(e.stdout, "history:")
	for _, h := range s.History {
		from := string(h.From)
		if from == "" {
			from = "-"
		}
		line := fmt.Sprintf("  %s  %s → %s  by %s", h.At.Format(time.RFC3339), from, h.To, h.By)
		if h.Reason != "" {
			line += ": " + h.Reason
		}
		fmt.Fprintln(e.stdout, line)
	}
	return nil
}

func manifestOf(ctx context.Context, e *env, id string) (*snapshot.Manifest, error) {
	s, err := e.cat.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.DecodeManifest()
}

func cmdDiff(ctx context.Context, e *env, args []string) error {
	pos, err := parse(flag.NewFlagSet("diff", flag.ContinueOnError), args, e.stderr)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usagef("want two snapshot IDs: OLD NEW")
	}
	old, err := manifestOf(ctx, e, pos[0])
	if err != nil {
		return err
	}
	next, err := manifestOf(ctx, e, pos[1])
	if err != nil {
		return err
	}
	d := snapshot.Diff(old, next)
	fmt.Fprintf(e.stdout, "%s → %s: %s\n", pos[0], pos[1], d)
	for _, p := range d.Added {
		fmt.Fprintf(e.stdout, "  + %s-%s.%s\n", p.Name, p.EVR, p.Arch)
	}
	for _, p := range d.Removed {
		fmt.Fprintf(e.stdout, "  - %s-%s.%s\n", p.Name, p.EVR, p.Arch)
	}
	for _, group := range []struct {
		mark    string
		changes []snapshot.Change
	}{{"↑", d.Upgraded}, {"↓", d.Downgraded}, {"≠", d.Rebuilt}} {
		for _, c := range group.changes {
			fmt.Fprintf(e.stdout, "  %s %s.%s %s → %s\n", group.mark, c.Name, c.Arch, c.From.EVR, c.To.EVR)
		}
	}
	return nil
}

// kept are the states whose snapshots keep their blobs.
var kept = []snapshot.State{snapshot.StateSealed, snapshot.StateValidated, snapshot.StateValidationFailed,
	snapshot.StateReleased, snapshot.StateDeprecated}

func cmdVerify(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	full := fs.Bool("full", false, "re-hash every blob (default: presence and size)")
	ids, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	keys, err := e.keys()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		f := snapshot.SnapshotFilter{States: kept, Limit: lifecycle.MaxPageSize}
		for {
			page, err := e.cat.ListSnapshots(ctx, f)
			if err != nil {
				return err
			}
			for _, s := range page.Snapshots {
				ids = append(ids, s.ID)
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
	}
	var snaps []snapshot.Sealed
	for _, id := range ids {
		s, err := e.cat.Snapshot(ctx, id)
		if err != nil {
			return err
		}
		sealed, err := s.Sealed()
		if err != nil {
			return err
		}
		snaps = append(snaps, *sealed)
	}
	var update func(done, total, failed int)
	var stop func()
	start := time.Now()
	rep, err := snapshot.Verify(ctx, snapshot.VerifyParams{Blobs: e.blobs, Keys: keys, Snapshots: snaps, Full: *full,
		Progress: func(done, total, failed int) {
			if update == nil {
				update, stop = e.bar(total, "blobs")
			}
			update(done, total, failed)
		}})
	if stop != nil {
		stop()
	}
	if err != nil {
		return err
	}
	mode := "quick"
	if *full {
		mode = fmt.Sprintf("full, %s hashed at %.0f MB/s", bytesString(rep.Bytes), float64(rep.Bytes)/1e6/time.Since(start).Seconds())
	}
	fmt.Fprintf(e.stdout, "verified %d snapshot(s), %d blobs (%s): %d problem(s)\n", len(snaps), rep.Checked, mode, len(rep.Problems))
	for _, p := range rep.Problems {
		what := p.Package
		if what == "" {
			what = p.Digest.String()
		}
		fmt.Fprintf(e.stdout, "  %s %s in %s: %s\n", p.Kind, what, p.Snapshot, p.Detail)
	}
	if !rep.OK() {
		return errProblems
	}
	return nil
}

func cmdValidate(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	canaries := fs.String("canaries", "", "comma-separated canary hosts (required)")
	timeout := fs.Duration("timeout", 2*time.Hour, "how long to wait for the boot test")
	simulate := fs.Bool("simulate", false, "run the workers here, on simulated BMCs and installer")
	pos, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *canaries == "" {
		return usagef("want one snapshot ID and -canaries")
	}
	keys, err := e.keys()
	if err != nil {
		return err
	}
	svc, err := lifecycle.New(e.life, nil)
	if err != nil {
		return err
	}
	hosts := strings.Split(*canaries, ",")
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *simulate {
		stop, err := simulateFleet(ctx, e, pos[0], hosts)
		if err != nil {
			return err
		}
		defer stop()
	}
	fmt.Fprintf(e.stdout, "boot-testing %s on %d canaries…\n", pos[0], len(hosts))
	res, err := snapshot.BootTest(ctx, snapshot.BootTestParams{Catalogue: e.cat, Lifecycle: svc, ID: pos[0], Canaries: hosts,
		Keys: keys, By: e.actor, PollInterval: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s: %s; snapshot %s is %s\n", res.Batch.ID, res.Batch.State, res.Snapshot.ID, res.Snapshot.State)
	for _, j := range res.Failed {
		fmt.Fprintf(e.stdout, "  %s: %s\n", j.Host, j.Error)
	}
	if !res.Passed {
		return errProblems
	}
	return nil
}

// stateCmd moves a snapshot to state to, from whatever state it is in
// (the store checks the edge).
func stateCmd(to snapshot.State) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := flag.NewFlagSet(string(to), flag.ContinueOnError)
		reason := fs.String("reason", "", "why (recorded)")
		id, err := oneID(fs, args, e.stderr)
		if err != nil {
			return err
		}
		cur, err := e.cat.Snapshot(ctx, id)
		if err != nil {
			return err
		}
		s, err := e.cat.SetSnapshotState(ctx, snapshot.StateChange{ID: cur.ID, From: cur.State, To: to, By: e.actor,
			At: time.Now(), Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "snapshot %s: %s → %s\n", s.ID, cur.State, s.State)
		return nil
	}
}

func pinCmd(pinned bool) func(ctx context.Context, e *env, args []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := flag.NewFlagSet("pin", flag.ContinueOnError)
		reason := fs.String("reason", "", "why (recorded)")
		id, err := oneID(fs, args, e.stderr)
		if err != nil {
			return err
		}
		s, err := e.cat.SetSnapshotPinned(ctx, snapshot.PinChange{ID: id, Pinned: pinned, By: e.actor, At: time.Now(), Reason: *reason})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "snapshot %s: pinned %v\n", s.ID, s.Pinned)
		return nil
	}
}

func cmdPurge(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("purge", flag.ContinueOnError)
	apply := fs.Bool("apply", false, "apply the plan (default: print it only)")
	keep := fs.Int("keep", 3, "released snapshots to keep per OS release (0: all)")
	ttl := fs.Duration("deprecated-ttl", 30*24*time.Hour, "how long a snapshot stays deprecated before it is purged (0: for ever)")
	abandon := fs.Duration("abandon-after", 24*time.Hour, "purge builds still building after this long (0: never)")
	grace := fs.Duration("blob-grace", snapshot.DefaultBlobGrace, "never delete a blob stored less than this long ago")
	pos, err := parse(fs, args, e.stderr)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("no arguments expected")
	}
	svc, err := lifecycle.New(e.life, nil)
	if err != nil {
		return err
	}
	p := snapshot.PurgeParams{Store: e.cat, Blobs: e.blobs, By: e.actor, InUse: snapshot.BatchesInUse(svc),
		Policy: snapshot.RetentionPolicy{KeepReleased: *keep, DeprecatedTTL: *ttl, AbandonBuildsAfter: *abandon, BlobGrace: *grace}}
	if err := p.Policy.Validate(); err != nil {
		return usagef("%v", err)
	}
	if !*apply {
		plan, err := snapshot.Plan(ctx, p)
		if err != nil {
			return err
		}
		printPlan(e.stdout, plan)
		fmt.Fprintln(e.stdout, "dry run: nothing changed (use -apply)")
		return nil
	}
	rep, err := snapshot.Purge(ctx, p)
	if rep != nil {
		printPlan(e.stdout, rep.Plan)
		fmt.Fprintf(e.stdout, "deprecated %d, purged %d, skipped %d; deleted %d blobs, reclaimed %s\n",
			len(rep.Deprecated), len(rep.Purged), len(rep.Skipped), rep.BlobsDeleted, bytesString(rep.BytesReclaimed))
		if rep.SweepStopped != "" {
			fmt.Fprintln(e.stdout, "sweep stopped:", rep.SweepStopped)
		}
	}
	return err
}

func printPlan(w io.Writer, p *snapshot.PurgePlan) {
	if p == nil {
		return
	}
	for _, it := range p.Deprecate {
		fmt.Fprintf(w, "deprecate %s (%s): %s\n", it.ID, it.OSRelease, it.Reason)
	}
	for _, it := range p.Purge {
		fmt.Fprintf(w, "purge %s (%s): %s\n", it.ID, it.OSRelease, it.Reason)
	}
	for _, it := range p.Held {
		fmt.Fprintf(w, "keep %s (%s): %s\n", it.ID, it.OSRelease, it.Reason)
	}
	if len(p.Building) > 0 {
		fmt.Fprintf(w, "building: %s (no blob is deleted while a build runs)\n", strings.Join(p.Building, ", "))
	}
	fmt.Fprintf(w, "blobs to delete: %d, %s\n", len(p.Blobs), bytesString(p.Bytes))
}
