package actions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// ParamBootMode is the job parameter that chooses the firmware mode of the
// one-time PXE boot ("uefi" or "legacy"), overriding Config.BootMode.
const ParamBootMode = "boot-mode"

// Step names, as recorded on jobs. The same step has the same name in
// every action, so statistics can compare it across actions.
const (
	// StepPowerOn powers the host on (a no-op when it is on).
	StepPowerOn = "power-on"
	// StepPowerOff forces the host off (a no-op when it is off).
	StepPowerOff = "power-off"
	// StepPowerCycle cuts the power and restores it; a host that is off
	// is powered on instead.
	StepPowerCycle = "power-cycle"
	// StepReboot restarts the host without cutting power; a host that is
	// off is powered on instead.
	StepReboot = "reboot"
	// StepConfirmOn and StepConfirmOff poll the power state until the BMC
	// reports it, for at most Config.PowerTimeout.
	StepConfirmOn  = "confirm-on"
	StepConfirmOff = "confirm-off"
	// StepPrepareDeploy and StepPrepareWipe arm the Provisioner for the
	// host's next network boot.
	StepPrepareDeploy = "prepare-deploy"
	StepPrepareWipe   = "prepare-wipe"
	// StepSetPXEBoot sets a one-time PXE boot, read back by the driver.
	StepSetPXEBoot = "set-pxe-boot"
	// StepWaitDeploy and StepWaitWipe poll the Provisioner until the
	// operation is done, for at most Config.DeployTimeout or WipeTimeout.
	StepWaitDeploy = "wait-deploy"
	StepWaitWipe   = "wait-wipe"
	// StepConfirmDeployed checks that the host is on and the Provisioner
	// reports the batch's snapshot deployed.
	StepConfirmDeployed = "confirm-deployed"
	// StepRelease makes the Provisioner forget a decommissioned host.
	StepRelease = "release"
)

// Runner performs every lifecycle.Action as a sequence of named steps
// (see Steps) through a BMC and a Provisioner. It implements
// lifecycle.Runner and is safe for concurrent use: workers call Run for
// different jobs at once.
type Runner struct {
	cfg Config
}

var _ lifecycle.Runner = (*Runner)(nil)

// New returns a Runner configured by cfg (nil is invalid: Dial is
// required), after WithDefaults and Validate.
func New(cfg *Config) (*Runner, error) {
	c := cfg.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Runner{cfg: *c}, nil
}

// step is one step of an action's plan.
type step struct {
	name    string
	timeout func(c *Config) time.Duration
	run     func(j *job, ctx context.Context) error
}

// job is one Run: the task and what was derived from it.
type job struct {
	r        *Runner
	host     string
	bootMode bmc.BootMode
	req      Request // the Provisioner request (reimage, wipe, decommission)
}

func bmcTimeout(c *Config) time.Duration    { return c.BMCTimeout }
func powerTimeout(c *Config) time.Duration  { return c.BMCTimeout + c.PowerTimeout }
func provTimeout(c *Config) time.Duration   { return c.ProvisionerTimeout }
func deployTimeout(c *Config) time.Duration { return c.DeployTimeout }
func wipeTimeout(c *Config) time.Duration   { return c.WipeTimeout }
func confirmTimeout(c *Config) time.Duration {
	return c.BMCTimeout + c.PowerTimeout + c.ProvisionerTimeout
}

// The steps, shared by the actions.
var (
	stPowerOn     = step{StepPowerOn, powerTimeout, func(j *job, ctx context.Context) error { return j.power(ctx, lifecycle.ActionPowerOn) }}
	stPowerOff    = step{StepPowerOff, powerTimeout, func(j *job, ctx context.Context) error { return j.power(ctx, lifecycle.ActionPowerOff) }}
	stPowerCycle  = step{StepPowerCycle, powerTimeout, func(j *job, ctx context.Context) error { return j.power(ctx, lifecycle.ActionPowerCycle) }}
	stReboot      = step{StepReboot, powerTimeout, func(j *job, ctx context.Context) error { return j.power(ctx, lifecycle.ActionReboot) }}
	stConfirmOn   = step{StepConfirmOn, powerTimeout, func(j *job, ctx context.Context) error { return j.confirmPower(ctx, bmc.PowerOn) }}
	stConfirmOff  = step{StepConfirmOff, powerTimeout, func(j *job, ctx context.Context) error { return j.confirmPower(ctx, bmc.PowerOff) }}
	stPrepare     = func(name string) step { return step{name, provTimeout, (*job).prepare} }
	stSetPXE      = step{StepSetPXEBoot, bmcTimeout, (*job).setPXE}
	stWaitDeploy  = step{StepWaitDeploy, deployTimeout, (*job).wait}
	stWaitWipe    = step{StepWaitWipe, wipeTimeout, (*job).wait}
	stConfirmDepl = step{StepConfirmDeployed, confirmTimeout, (*job).confirmDeployed}
	stRelease     = step{StepRelease, provTimeout, (*job).release}
)

// plans holds each action's steps, in order.
var plans = map[lifecycle.Action][]step{
	lifecycle.ActionPowerOn:    {stPowerOn, stConfirmOn},
	lifecycle.ActionPowerOff:   {stPowerOff, stConfirmOff},
	lifecycle.ActionPowerCycle: {stPowerCycle, stConfirmOn},
	lifecycle.ActionReboot:     {stReboot, stConfirmOn},
	lifecycle.ActionReimage: {stPrepare(StepPrepareDeploy), stSetPXE, stPowerCycle, stWaitDeploy,
		stConfirmDepl},
	lifecycle.ActionWipeDisks: {stPrepare(StepPrepareWipe), stSetPXE, stPowerCycle, stWaitWipe,
		stPowerOff, stConfirmOff},
	lifecycle.ActionDecommission: {stPrepare(StepPrepareWipe), stSetPXE, stPowerCycle, stWaitWipe,
		stPowerOff, stConfirmOff, stRelease},
}

// provisioned reports whether action a needs a Provisioner.
func provisioned(a lifecycle.Action) bool {
	return a == lifecycle.ActionReimage || a == lifecycle.ActionWipeDisks || a == lifecycle.ActionDecommission
}

// Steps returns the names of action a's steps, in the order Run runs them,
// or nil for an unknown action.
func Steps(a lifecycle.Action) []string {
	var out []string
	for _, s := range plans[a] {
		out = append(out, s.name)
	}
	return out
}

// stepNames returns every step name, once each, in the order of
// lifecycle.Actions.
func stepNames() []string {
	var out []string
	seen := make(map[string]bool)
	for _, a := range lifecycle.Actions() {
		for _, n := range Steps(a) {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Run performs t's action on t's host, step by step through t.Step, and
// returns the first step's error. Errors that retrying cannot fix are
// marked with lifecycle.Permanent: an unknown action, a reimage without a
// snapshot, a bad parameter, a missing Provisioner (all before any step
// runs), and steps failing with bmc.ErrAuth, bmc.ErrNotFound,
// bmc.ErrUnsupported, bmc.ErrInvalidPowerAction, bmc.ErrInvalidArgument,
// ErrUnknownHost, ErrUnknownSnapshot, ErrInvalidRequest, or an error the
// Provisioner marked permanent. When ctx ends, Run stops within the step
// that runs and returns an error wrapping ctx.Err().
func (r *Runner) Run(ctx context.Context, t *lifecycle.Task) error {
	j, err := r.newJob(t)
	if err != nil {
		return lifecycle.Permanent(err)
	}
	a := t.Job.Action
	armed := false // the Provisioner holds an operation this run prepared
	for _, s := range plans[a] {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("actions: %s of %s: stopped before step %s: %w", a, j.host, s.name, cerr)
		}
		err := t.Step(ctx, s.name, func(ctx context.Context) error { return r.runStep(ctx, s, j) })
		if err == nil {
			armed = armed || s.name == StepPrepareDeploy || s.name == StepPrepareWipe
			continue
		}
		err = fmt.Errorf("actions: %s of %s: %w", a, j.host, err)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", err, cerr)
		}
		attrs := []slog.Attr{slog.String("action", string(a)), slog.String("host", j.host),
			slog.String("batch", t.Job.BatchID), slog.String("step", s.name), slog.Int("attempt", t.Job.Attempts)}
		r.cfg.Logger.LogAttrs(context.WithoutCancel(ctx), slog.LevelWarn, "action step failed",
			append(attrs, slog.Bool("permanent", lifecycle.IsPermanent(err)), slog.String("error", err.Error()))...)
		if armed && lifecycle.IsPermanent(err) {
			r.disarm(ctx, j, attrs)
		}
		return err
	}
	return nil
}

// disarm releases the host from the Provisioner after a permanent failure,
// so that the operation this run prepared does not run at some later
// network boot of the host (an unexpected reimage). It is not a recorded
// step: a job's last step stays the one that failed. Failures are logged.
// Only permanent failures disarm: after any other failure the job is
// retried, and the retry prepares again.
func (r *Runner) disarm(ctx context.Context, j *job, attrs []slog.Attr) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.ProvisionerTimeout)
	defer cancel()
	if err := r.cfg.Provisioner.Release(ctx, j.host); err != nil {
		r.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "releasing the host from the provisioner after a permanent failure",
			append(attrs, slog.String("error", err.Error()))...)
		return
	}
	r.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "released the host from the provisioner after a permanent failure", attrs...)
}

// newJob checks what t asks for before any step runs.
func (r *Runner) newJob(t *lifecycle.Task) (*job, error) {
	a, host := t.Job.Action, t.Job.Host
	if _, ok := plans[a]; !ok {
		return nil, fmt.Errorf("actions: job %s/%s: %w: unknown action %q (known: %v)", t.Job.BatchID, host, ErrInvalidParams, a, lifecycle.Actions())
	}
	if host == "" {
		return nil, fmt.Errorf("actions: %s of batch %s: %w: no host", a, t.Job.BatchID, ErrInvalidParams)
	}
	j := &job{r: r, host: host, bootMode: r.cfg.BootMode}
	if m, ok := t.Params[ParamBootMode]; ok {
		j.bootMode = bmc.BootMode(m)
		if err := checkBootMode(j.bootMode); err != nil {
			return nil, fmt.Errorf("actions: %s of %s: parameter %s: %w", a, host, ParamBootMode, err)
		}
	}
	if !provisioned(a) {
		return j, nil
	}
	if r.cfg.Provisioner == nil {
		return nil, fmt.Errorf("actions: %s of %s: %w", a, host, ErrNoProvisioner)
	}
	j.req = Request{Host: host, Operation: OpWipe, Params: t.Params}
	if a == lifecycle.ActionReimage {
		if t.Snapshot == "" {
			return nil, fmt.Errorf("actions: reimage of %s: %w: no snapshot", host, ErrInvalidParams)
		}
		j.req.Operation, j.req.Snapshot = OpDeploy, t.Snapshot
	}
	return j, nil
}

// timeout returns step s's timeout: Config.StepTimeouts, else its class.
func (r *Runner) timeout(s step) time.Duration {
	if d, ok := r.cfg.StepTimeouts[s.name]; ok {
		return d
	}
	return s.timeout(&r.cfg)
}

// runStep runs s under its timeout and classifies its error. A step that
// ran out of its own time fails with ErrStepTimeout, not with ctx's
// error, so that it is not taken for the end of the job's context.
func (r *Runner) runStep(ctx context.Context, s step, j *job) error {
	d := r.timeout(s)
	sctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := s.run(j, sctx)
	if err != nil && ctx.Err() == nil && sctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %s: %v", ErrStepTimeout, d, err)
	}
	return classify(ctx, err)
}
