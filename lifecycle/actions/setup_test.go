package actions_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
)

const (
	snapshot     = "snap-2026-11"
	testPassword = "pw-Ocelot-5521-actions"
)

var testCreds = bmc.Credentials{Username: "admin", Password: testPassword}

// fleet is simulated BMCs by host, safe for concurrent use.
type fleet struct {
	mu   sync.Mutex
	bmcs map[string]*fakebmc.BMC
	opts fakebmc.Options
}

func (f *fleet) add(host string, power bmc.PowerState) *fakebmc.BMC {
	o := f.opts
	o.Host, o.Credentials, o.InitialPower = host, testCreds, power
	b := fakebmc.New(&o)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bmcs[host] = b
	return b
}

func (f *fleet) lookup(host string) (*fakebmc.BMC, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.bmcs[host]
	return b, ok
}

// dial is a bmc.Dialer over the fleet's in-process drivers.
func (f *fleet) dial(_ context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
	b, ok := f.lookup(host)
	if !ok {
		return nil, fmt.Errorf("no BMC for %s: %w", host, bmc.ErrNotFound)
	}
	return fakebmc.NewDriver(b, creds), nil
}

// bundle is what a test works with.
type bundle struct {
	fleet  *fleet
	prov   *fakeprov.Provisioner
	runner *actions.Runner
	cfg    *actions.Config
}

// setup returns a Runner over a fleet of fake BMCs and a fake provisioner
// wired to their PXE boots, with fast polls. edit, when not nil, changes
// the config before New.
func setup(t testing.TB, provOpts *fakeprov.Options, edit func(*actions.Config)) *bundle {
	t.Helper()
	f := &fleet{bmcs: make(map[string]*fakebmc.BMC)}
	var po fakeprov.Options
	if provOpts != nil {
		po = *provOpts
	}
	po.Booted = fakeprov.PXEBoots(f.lookup)
	p := fakeprov.New(&po)
	cfg := &actions.Config{
		Dial:                    f.dial,
		Credentials:             &bmc.StaticCredentials{Default: testCreds},
		Provisioner:             p,
		PowerPollInterval:       time.Millisecond,
		ProvisionerPollInterval: time.Millisecond,
		PowerTimeout:            5 * time.Second,
		DeployTimeout:           10 * time.Second,
		WipeTimeout:             10 * time.Second,
	}
	if edit != nil {
		edit(cfg)
	}
	r, err := actions.New(cfg)
	require.NoError(t, err)
	return &bundle{fleet: f, prov: p, runner: r, cfg: cfg}
}

// recorder collects the steps a task records, safe for concurrent use.
type recorder struct {
	mu    sync.Mutex
	steps []lifecycle.Step
}

func (r *recorder) record(_ context.Context, s lifecycle.Step) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
	return nil
}

func (r *recorder) get() []lifecycle.Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]lifecycle.Step(nil), r.steps...)
}

func names(steps []lifecycle.Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

func outcomes(steps []lifecycle.Step) []lifecycle.StepOutcome {
	var out []lifecycle.StepOutcome
	for _, s := range steps {
		out = append(out, s.Outcome)
	}
	return out
}

func repeat(o lifecycle.StepOutcome, n int) []lifecycle.StepOutcome {
	out := make([]lifecycle.StepOutcome, n)
	for i := range out {
		out[i] = o
	}
	return out
}

// task returns a task of action on host, attempt 1, and its recorder.
func task(action lifecycle.Action, host, snap string, params map[string]string) (*lifecycle.Task, *recorder) {
	rec := &recorder{}
	job := lifecycle.Job{BatchID: "b-1", Host: host, Action: action, State: lifecycle.JobRunning, Attempts: 1}
	return lifecycle.NewTask(job, snap, params, nil, rec.record), rec
}

// run runs action on host and returns the recorded steps and Run's error.
func (b *bundle) run(t testing.TB, ctx context.Context, action lifecycle.Action, host string, params map[string]string) ([]lifecycle.Step, error) {
	t.Helper()
	snap := ""
	if action == lifecycle.ActionReimage {
		snap = snapshot
	}
	tk, rec := task(action, host, snap, params)
	err := b.runner.Run(ctx, tk)
	require.Equal(t, tk.Steps(), rec.get(), "every step reached the record callback")
	return rec.get(), err
}

// opsOf returns the BMC's operations of the given kinds, in order.
func opsOf(b *fakebmc.BMC, kinds ...fakebmc.OpKind) []string {
	var out []string
	for _, op := range b.Ops() {
		for _, k := range kinds {
			if op.Kind == k && op.Err == nil {
				out = append(out, string(op.Kind)+":"+op.Detail)
			}
		}
	}
	return out
}
