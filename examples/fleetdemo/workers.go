package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
)

// workers runs the queue with a worker pool: bob's reboot (batch rebootID)
// and a new reimage, with every batch the earlier sections left active,
// then shows the outcomes and the statistics.
// newRunner returns the demo's runner of every action: the BMCs over
// Redfish and a simulated OS installer, which starts an install when the
// host really network-boots (its BMC's boot record says so).
func newRunner(bmcs *fakebmc.Server, dial bmc.Dialer, creds bmc.CredentialSource) (lifecycle.Runner, *fakeprov.Provisioner, error) {
	prov := fakeprov.New(&fakeprov.Options{MinDuration: 20 * time.Millisecond, MaxDuration: 80 * time.Millisecond, Seed: 5,
		Booted: fakeprov.PXEBoots(bmcs.System)})
	runner, err := actions.New(&actions.Config{Dial: dial, Credentials: creds, Provisioner: prov,
		PowerPollInterval: 10 * time.Millisecond, ProvisionerPollInterval: 10 * time.Millisecond})
	return runner, prov, err
}

// runPool runs a pool on st until stop is called (once or more).
func runPool(ctx context.Context, st lifecycle.Store, cfg *lifecycle.PoolConfig) (pool *lifecycle.Pool, stop func() error, err error) {
	if pool, err = lifecycle.NewPool(st, cfg); err != nil {
		return nil, nil, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pool.Run(pctx) }()
	stop = sync.OnceValue(func() error { cancel(); return <-done })
	return pool, stop, nil
}

func workers(ctx context.Context, st lifecycle.Store, svc *lifecycle.Service, bmcs *fakebmc.Server,
	runner lifecycle.Runner, prov *fakeprov.Provisioner, logger *slog.Logger, rebootID string) error {
	section("7. Workers run the queue: BMC steps over Redfish, installs through a provisioner, retries, triage")
	// web009's firmware accepts a one-time PXE boot and silently drops it,
	// as some firmware does: the PXE step reads the override back.
	web009, _ := bmcs.System(host(9))
	web009.SetRevertBootOverride(true)
	reimage, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReimage,
		Hosts: hosts(7, 10), Snapshot: "rhel9-2026.11"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "alice's reimage of %s is %s\n", strings.Join(reimage.Batch.Hosts, ","), reimage.Batch.ID)
	// The pool logs the end of these two batches and every triage; the
	// batches the concurrent submitters left are only counted.
	mine := map[string]bool{rebootID: true, reimage.Batch.ID: true}
	events := fleetkit.NewLogNotifier(logger, &fleetkit.LogNotifierOptions{Message: "  event"})
	others := 0
	notifier := fleetkit.NotifierFunc(func(ctx context.Context, e fleetkit.Event) error {
		if e.Kind == lifecycle.EventBatchFinished && !mine[e.Subject] {
			others++ // one pool, one goroutine per job: see below
			return nil
		}
		return events.Notify(ctx, e)
	})
	start := time.Now()
	pool, stop, err := runPool(ctx, st, &lifecycle.PoolConfig{
		Runner: runner, Concurrency: 8, PollInterval: 10 * time.Millisecond,
		// No more than two reimages at once per datacenter.
		Limits:   lifecycle.Limits{PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 2}},
		Retry:    demoRetry,
		Notifier: serialised(notifier),
	})
	if err != nil {
		return err
	}
	err = waitIdle(ctx, svc)
	if serr := stop(); err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	s := pool.Stats()
	fmt.Fprintf(out, "the pool drained the queue in %s: %d jobs claimed, %d succeeded, %d failed, %d retried; %d other batches ended too\n",
		time.Since(start).Round(10*time.Millisecond), s.Claimed, s.Succeeded, s.Failed, s.Retried, others)
	for _, id := range []string{rebootID, reimage.Batch.ID} {
		b, err := svc.Batch(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "batch %s (%s): %s, %d succeeded, %d failed\n", b.ID, b.Action, b.State, b.Counts.Succeeded, b.Counts.Failed)
		for _, j := range b.Jobs {
			if j.State == lifecycle.JobFailed {
				fmt.Fprintf(out, "  %s failed after %d attempts: %s\n", j.Host, j.Attempts, j.Error)
			}
		}
	}
	installed, _ := prov.Installed(host(7))
	fmt.Fprintf(out, "%s now runs %s\n", host(7), installed)
	steps, err := st.JobSteps(ctx, reimage.Batch.ID, host(9))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "steps recorded on %s's job:\n", host(9))
	for _, step := range steps {
		fmt.Fprintf(out, "  attempt %d  %-15s %s\n", step.Attempt, step.Name, step.Outcome)
	}

	section("8. Statistics: success rates and runtimes per action and SKU; which step fails")
	stats, err := svc.Stats(ctx, lifecycle.StatsParams{})
	if err != nil {
		return err
	}
	for _, s := range stats {
		sku := s.SKU
		if s.AllSKUs {
			sku = "all SKUs"
		}
		if s.Succeeded+s.Failed == 0 {
			fmt.Fprintf(out, "%-13s %-9s jobs %2d  (%d cancelled, no verdict)\n", s.Action, sku, s.Jobs, s.Cancelled)
			continue
		}
		fmt.Fprintf(out, "%-13s %-9s jobs %2d  success %5.1f%%  p50 %-6s p95 %s\n", s.Action, sku, s.Jobs,
			100*s.SuccessRate, s.P50.Round(time.Millisecond), s.P95.Round(time.Millisecond))
	}
	steps2, err := svc.StepStats(ctx, lifecycle.StatsParams{Action: lifecycle.ActionReimage})
	if err != nil {
		return err
	}
	for _, s := range steps2 {
		fmt.Fprintf(out, "reimage step %-17s runs %d  failed %d  p50 %s\n", s.Step, s.Runs, s.Failed, s.P50.Round(time.Millisecond))
	}
	return nil
}

// demoRetry retries a failed job once, quickly.
var demoRetry = lifecycle.RetryPolicy{MaxAttempts: 2, InitialInterval: 20 * time.Millisecond, MaxInterval: 50 * time.Millisecond}

// serialised makes n safe to call from many goroutines at once.
func serialised(n fleetkit.Notifier) fleetkit.Notifier {
	ch := make(chan struct{}, 1)
	return fleetkit.NotifierFunc(func(ctx context.Context, e fleetkit.Event) error {
		ch <- struct{}{}
		defer func() { <-ch }()
		return n.Notify(ctx, e)
	})
}

// waitIdle waits until no batch is pending or running.
func waitIdle(ctx context.Context, svc *lifecycle.Service) error {
	for {
		page, err := svc.ListBatches(ctx, lifecycle.BatchFilter{States: []lifecycle.BatchState{lifecycle.BatchPending, lifecycle.BatchRunning}, Limit: 1})
		if err != nil || len(page.Batches) == 0 {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
