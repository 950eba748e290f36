// Command fleetdemo shows fleetkit end to end on the embedded defaults: a
// SQLite store in a temporary directory and simulated BMCs served as a
// Redfish endpoint over TLS. Batches are submitted and admitted; an overlap
// is rejected with the offending hosts; in-use, maintenance and BMC console
// prechecks refuse hosts; many concurrent submitters never double-book a
// host; then listing, per-datacenter counts and cancellation. A worker
// pool then drains the queue: power actions over Redfish, reimages through
// a simulated OS installer, a host whose firmware drops its PXE boot
// retried and raised for triage; then statistics per action, SKU and step,
// and a power-cycle fan-out over the BMCs through the Redfish driver. Last,
// OS snapshots: a tiny yum repository is written into the temporary
// directory, snapshots are built from it into a file-system blob store,
// sealed with a key ring, verified (quick and full), diffed against their
// parent, and shown to catch a blob corrupted on disk and a tampered
// manifest; then registered in the store's catalogue, boot-tested on
// canaries by the workers, released, monitored and retired. Last, the fleet
// state cache: twenty hosts publish their sysctl output to a replica group
// and the fleet is asked which netdev_budget each host has, with one cache
// server down.
//
// Run it from the repository root:
//
//	go run ./examples/fleetdemo
//
// Flags: -store URL uses another backend (memory://, postgres://…);
// -keep keeps the temporary directory (the SQLite file, the yum repository
// and the blob store).
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	_ "github.com/fleetkit/fleetkit/store/memstore"
	_ "github.com/fleetkit/fleetkit/store/pgstore"
	_ "github.com/fleetkit/fleetkit/store/sqlitestore"
)

// out receives the demo's report; tests replace it.
var out io.Writer = os.Stdout

func main() {
	storeURL := flag.String("store", "", "store URL (default: sqlite in a temporary directory)")
	keep := flag.Bool("keep", false, "keep the temporary SQLite database")
	flag.Parse()
	if err := run(context.Background(), *storeURL, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "fleetdemo:", err)
		os.Exit(1)
	}
}

// fleet is the demo's host directory: two datacenters, two hardware SKUs.
func fleet() lifecycle.StaticDirectory {
	d := lifecycle.StaticDirectory{}
	for i := 1; i <= 40; i++ {
		dc, sku := "dc1", "r640"
		if i > 20 {
			dc = "dc2"
		}
		if i%2 == 0 {
			sku = "r750"
		}
		d[host(i)] = lifecycle.HostInfo{Datacenter: dc, SKU: sku}
	}
	return d
}

func host(i int) string {
	dc := "dc1"
	if i > 20 {
		dc = "dc2"
	}
	return fmt.Sprintf("web%03d.%s.example.com", i, dc)
}

func hosts(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, host(i))
	}
	return out
}

func section(title string) { fmt.Fprintf(out, "\n== %s\n", title) }

func run(ctx context.Context, storeURL string, keep bool) error {
	dir, err := os.MkdirTemp("", "fleetdemo-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	if storeURL == "" {
		storeURL = "sqlite://" + filepath.Join(dir, "fleet.db")
	}
	st, backend, err := lifecycle.OpenStore(ctx, storeURL)
	if err != nil {
		return err
	}
	defer backend.Close(ctx)
	fmt.Fprintf(out, "fleetkit demo: store %s\n", storeURL)

	// Events go to a log on stdout, without timestamps for readability.
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == slog.LevelKey {
				return slog.Attr{}
			}
			return a
		}}))
	// The fleet's BMCs: simulated, served over HTTPS as one Redfish
	// endpoint with a system per host. web016's console service is off.
	bmcs := fakebmc.NewServer(nil)
	for h := range fleet() {
		b := fakebmc.New(&fakebmc.Options{Host: h, InitialPower: bmc.PowerOn})
		if h == host(16) {
			b.SetConsole(false, false)
		}
		bmcs.AddSystem(h, b)
	}
	bmcs.StartTLS()
	defer bmcs.Close()
	roots := x509.NewCertPool()
	roots.AddCert(bmcs.Certificate())
	// One HTTP client for every driver: connections are reused across hosts.
	httpClient := bmcs.Client()
	dial := func(_ context.Context, h string, c bmc.Credentials) (bmc.Driver, error) {
		return redfishbmc.New(bmcs.URL(), c, &redfishbmc.Options{SystemID: h, HTTPClient: httpClient, PollInterval: 10 * time.Millisecond})
	}
	creds := &bmc.StaticCredentials{Default: bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}}
	fmt.Fprintf(out, "BMCs: %d simulated Redfish systems at %s (TLS)\n", bmcs.Len(), bmcs.URL())

	allocated := map[string]string{host(12): "allocated to team search until 2026-12-01"}
	svc, err := lifecycle.New(st, &lifecycle.Config{
		MaxBatchSize: 500,
		Directory:    fleet(),
		InUse: []lifecycle.InUseChecker{lifecycle.InUseFunc(func(_ context.Context, hs []string) ([]lifecycle.HostProblem, error) {
			var out []lifecycle.HostProblem
			for _, h := range hs {
				if why, ok := allocated[h]; ok {
					out = append(out, lifecycle.HostProblem{Host: h, Reason: why, Source: "allocator"})
				}
			}
			return out, nil
		})},
		// The console precheck asks each host's BMC over Redfish.
		Console:  bmc.ConsoleCheck{Dial: dial, Credentials: creds},
		Notifier: fleetkit.NewLogNotifier(logger, &fleetkit.LogNotifierOptions{Message: "  event"}),
	})
	if err != nil {
		return err
	}

	section("1. Submit a reimage of four hosts: accepted at once")
	a, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReimage,
		Hosts: hosts(1, 4), Snapshot: "rhel9-2026.11"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "batch %s: %s of %d hosts, state %s, priority %d\n",
		a.Batch.ID, a.Batch.Action, len(a.Batch.Hosts), a.Batch.State, a.Batch.Priority)

	section("2. A reboot overlapping it is rejected, naming each host and its batch")
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReboot, Hosts: hosts(3, 6)})
	var overlap *lifecycle.OverlapError
	if !errors.As(err, &overlap) {
		return fmt.Errorf("expected an overlap rejection, got %v", err)
	}
	for _, c := range overlap.Conflicts {
		fmt.Fprintf(out, "rejected: %s is held by batch %s\n", c.Host, c.BatchID)
	}
	h5, _ := svc.Host(ctx, host(5))
	fmt.Fprintf(out, "nothing changed: %s is still %s\n", h5.Name, h5.State)

	section("3. Hosts in use, in maintenance, or with a broken console")
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionWipeDisks, Hosts: hosts(11, 13)})
	fmt.Fprintln(out, "rejected:", err)
	if _, err := svc.SetHostState(ctx, lifecycle.HostTransition{Host: host(14), To: lifecycle.HostMaintenance, Reason: "fan replacement"}); err != nil {
		return err
	}
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionPowerCycle, Hosts: hosts(14, 14)})
	fmt.Fprintln(out, "rejected:", err)
	res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionPowerOff,
		Hosts: hosts(15, 17), CheckConsoles: true, SkipFailedConsoles: true})
	if err != nil {
		return err
	}
	for _, p := range res.Excluded {
		fmt.Fprintf(out, "accepted batch %s without %s (%s)\n", res.Batch.ID, p.Host, p.Reason)
	}

	section("4. Sixteen concurrent submitters, overlapping at random: no host is ever held twice")
	// A second Service on the same store, as a second node would be; it
	// sends no events, to keep the output short.
	quiet, err := lifecycle.New(st, &lifecycle.Config{Directory: fleet()})
	if err != nil {
		return err
	}
	var accepted, rejected, cancelled atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var last string
			for range 25 {
				first := 21 + rng.IntN(18)
				res, err := quiet.Submit(ctx, lifecycle.SubmitParams{Owner: fmt.Sprintf("team%d", w%4),
					Action: lifecycle.ActionReboot, Hosts: hosts(first, first+rng.IntN(3))})
				switch {
				case err == nil:
					accepted.Add(1)
				case errors.Is(err, lifecycle.ErrOverlap):
					rejected.Add(1)
				default:
					fmt.Fprintln(out, "unexpected:", err)
				}
				if last != "" && rng.IntN(2) == 0 { // the team changes its mind
					if _, err := quiet.Cancel(ctx, last); err != nil {
						fmt.Fprintln(out, "unexpected:", err)
					}
					cancelled.Add(1)
					last = ""
				}
				if err == nil {
					last = res.Batch.ID
				}
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(out, "%d submissions and %d cancellations in %s: %d accepted, %d rejected as overlapping\n",
		accepted.Load()+rejected.Load(), cancelled.Load(), time.Since(start).Round(time.Millisecond), accepted.Load(), rejected.Load())
	holders := map[string]string{}
	page, err := svc.ListBatches(ctx, lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchPending}, Limit: lifecycle.MaxPageSize})
	if err != nil {
		return err
	}
	for _, b := range page.Batches {
		for _, h := range b.Hosts {
			if other, dup := holders[h]; dup {
				return fmt.Errorf("host %s held by %s and %s", h, other, b.ID)
			}
			holders[h] = b.ID
		}
	}
	fmt.Fprintf(out, "checked: %d active batches hold %d distinct hosts, none twice\n", len(page.Batches), len(holders))

	section("5. Listing: alice's batches, a host's history, active operations per datacenter")
	mine, err := svc.ListBatches(ctx, lifecycle.BatchFilter{Owner: "alice"})
	if err != nil {
		return err
	}
	for _, b := range mine.Batches {
		fmt.Fprintf(out, "alice: %s %s %s %v\n", b.ID, b.Action, b.State, b.Hosts)
	}
	hist, err := svc.ListBatches(ctx, lifecycle.BatchFilter{Host: host(3)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "history of %s: %d batch(es)\n", host(3), len(hist.Batches))
	loads, err := svc.ActiveByDatacenter(ctx)
	if err != nil {
		return err
	}
	for _, l := range loads {
		fmt.Fprintf(out, "datacenter %s: %d pending, %d running %v\n", l.Datacenter, l.Pending, l.Running, l.ByAction)
	}

	section("6. Cancel alice's reimage (twice: the second changes nothing); its hosts are free again")
	for range 2 {
		b, err := svc.Cancel(ctx, a.Batch.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "batch %s: %s, %d job(s) cancelled\n", b.ID, b.State, b.Counts.Cancelled)
	}
	again, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReboot, Hosts: hosts(3, 6)})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bob's reboot of %s is now accepted as %s\n", strings.Join(again.Batch.Hosts, ","), again.Batch.ID)

	runner, prov, err := newRunner(bmcs, dial, creds)
	if err != nil {
		return err
	}
	if err := workers(ctx, st, svc, bmcs, runner, prov, logger, again.Batch.ID); err != nil {
		return err
	}

	section("9. One interface over BMCs: a power-cycle fan-out, typed actions, a driver that answers")
	dc1 := hosts(1, 20)
	var lastProgress bmc.Progress
	results := bmc.FanOut(ctx, dc1, dial, func(ctx context.Context, d bmc.Driver) (bmc.PowerState, error) {
		// The power-off batch of section 3 left two hosts off: power
		// those on, cycle the rest.
		cur, err := d.PowerState(ctx)
		if err != nil {
			return "", err
		}
		a := bmc.PowerActionCycle
		if cur == bmc.PowerOff {
			a = bmc.PowerActionOn
		}
		if err := d.SetPower(ctx, a); err != nil {
			return "", err
		}
		return d.PowerState(ctx)
	}, &bmc.FanOutOptions{Concurrency: 8, Credentials: creds, Progress: func(p bmc.Progress) { lastProgress = p }})
	on := 0
	for _, r := range results {
		if r.Err == nil && r.Value == bmc.PowerOn {
			on++
		}
	}
	fmt.Fprintf(out, "power-cycled (or powered on) %d/%d hosts of dc1 over Redfish, 8 at a time: %d on again, %d failed\n",
		lastProgress.Done, lastProgress.Total, on, lastProgress.Failed)
	web01, _ := bmcs.System(host(1))
	web01.SetPowerState(bmc.PowerOff)
	r := bmc.FanOut(ctx, []string{host(1)}, dial, func(ctx context.Context, d bmc.Driver) (struct{}, error) {
		return struct{}{}, d.SetPower(ctx, bmc.PowerActionCycle)
	}, &bmc.FanOutOptions{Credentials: creds})
	fmt.Fprintln(out, "cycle while off is refused, not silently done:", errors.Is(r[0].Err, bmc.ErrInvalidPowerAction))
	// A Client tries Redfish first and falls back to the next driver.
	broken, _ := redfishbmc.New("https://127.0.0.1:1", creds.Default, &redfishbmc.Options{Retry: &bmc.RetryPolicy{MaxAttempts: 1}})
	inband := fakebmc.New(&fakebmc.Options{Host: host(2), InitialPower: bmc.PowerOn}).Driver()
	client := bmc.NewClient(host(2), []bmc.Driver{broken, inband}, nil)
	opened, err := client.OpenReport(ctx)
	if err != nil {
		return err
	}
	defer client.Close(ctx)
	fmt.Fprintf(out, "%s: %s did not open (%v); operations go to %s\n", opened.Host,
		opened.Attempts[0].Driver, opened.Attempts[0].Err, opened.Answered)
	var report bmc.Report
	if report, err = client.Do(ctx, "power-state", func(ctx context.Context, d bmc.Driver) error {
		_, err := d.PowerState(ctx)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintln(out, report)
	fmt.Fprintf(out, "sessions left open on the BMCs: %d\n", bmcs.Sessions())

	if err := snapshots(ctx, dir); err != nil {
		return err
	}
	if err := catalogue(ctx, dir, st, backend, svc, runner, logger); err != nil {
		return err
	}
	if err := fleetCache(ctx); err != nil {
		return err
	}

	fmt.Fprintln(out, "\ndemo complete")
	return nil
}
