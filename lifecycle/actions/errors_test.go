package actions_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
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

func TestPermanentFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		prov     *fakeprov.Options
		edit     func(*actions.Config)
		prep     func(b *bundle)
		action   lifecycle.Action
		snapshot string
		params   map[string]string
		want     error
		// steps run before the failure (the last one failed); nil: none.
		steps []string
		// disarmed: the Provisioner was armed, and released after the
		// failure.
		disarmed bool
	}{
		{name: "BadCredentials", action: lifecycle.ActionPowerOn, want: bmc.ErrAuth, steps: []string{"power-on"},
			edit: func(c *actions.Config) {
				c.Credentials = &bmc.StaticCredentials{Default: bmc.Credentials{Username: "admin", Password: "pw-wrong-8812"}}
			}},
		{name: "NoSuchBMC", action: lifecycle.ActionPowerOff, want: bmc.ErrNotFound, steps: []string{"power-off"},
			prep: func(b *bundle) { b.fleet.mu.Lock(); delete(b.fleet.bmcs, "web01"); b.fleet.mu.Unlock() }},
		{name: "LegacyOnUEFIOnly", action: lifecycle.ActionReimage, snapshot: snapshot, want: bmc.ErrUnsupported,
			params: map[string]string{actions.ParamBootMode: "legacy"}, steps: []string{"prepare-deploy", "set-pxe-boot"}, disarmed: true,
			prep: func(b *bundle) { b.fleet.opts.UEFIOnly = true; b.fleet.add("web01", bmc.PowerOn) }},
		{name: "UnknownAction", action: "format", want: actions.ErrInvalidParams},
		{name: "ReimageWithoutSnapshot", action: lifecycle.ActionReimage, want: actions.ErrInvalidParams},
		{name: "BadBootMode", action: lifecycle.ActionReimage, snapshot: snapshot, want: actions.ErrInvalidParams,
			params: map[string]string{actions.ParamBootMode: "bios"}},
		{name: "NoProvisioner", action: lifecycle.ActionWipeDisks, want: actions.ErrNoProvisioner,
			edit: func(c *actions.Config) { c.Provisioner = nil }},
		{name: "UnknownSnapshot", action: lifecycle.ActionReimage, snapshot: "snap-1999", want: actions.ErrUnknownSnapshot,
			prov: &fakeprov.Options{Snapshots: []string{snapshot}}, steps: []string{"prepare-deploy"}},
		{name: "UnknownHost", action: lifecycle.ActionDecommission, want: actions.ErrUnknownHost,
			prov: &fakeprov.Options{Hosts: []string{"web02"}}, steps: []string{"prepare-wipe"}},
		{name: "InstallFailedForGood", action: lifecycle.ActionReimage, snapshot: snapshot, want: actions.ErrOperationFailed,
			prep:  func(b *bundle) { b.prov.FailNext(1, true) },
			steps: []string{"prepare-deploy", "set-pxe-boot", "power-cycle", "wait-deploy"}, disarmed: true},
		{name: "ProvisionerCallMarkedPermanent", action: lifecycle.ActionWipeDisks, want: errRefused,
			prep: func(b *bundle) { b.prov.FailNextCalls(1, lifecycle.Permanent(errRefused)) }, steps: []string{"prepare-wipe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.prov, tc.edit)
			fb := b.fleet.add("web01", bmc.PowerOff)
			if tc.prep != nil {
				tc.prep(b)
			}
			tk, rec := task(tc.action, "web01", tc.snapshot, tc.params)
			err := b.runner.Run(t.Context(), tk)
			require.ErrorIs(t, err, tc.want)
			require.True(t, lifecycle.IsPermanent(err), "permanent: %v", err)
			require.Contains(t, err.Error(), "web01", "the error names the host")
			require.NotContains(t, err.Error(), testPassword)
			require.NotContains(t, err.Error(), "pw-wrong-8812")
			steps := rec.get()
			require.Equal(t, tc.steps, names(steps))
			var released bool
			for _, c := range b.prov.CallsFor("web01") {
				released = released || (c.Method == fakeprov.MethodRelease && c.Err == nil)
			}
			require.Equal(t, tc.disarmed, released, "released after the failure")
			if tc.disarmed {
				st, err := b.prov.Status(t.Context(), "web01")
				require.NoError(t, err)
				require.Equal(t, actions.StateNone, st.State, "nothing stays armed")
			}
			if len(steps) > 0 {
				last := steps[len(steps)-1]
				require.Equal(t, lifecycle.StepFailed, last.Outcome)
				require.NotEmpty(t, last.Error)
			} else {
				// Bad input changes nothing.
				require.Zero(t, fb.OpCount())
				require.Empty(t, b.prov.Calls())
			}
		})
	}
}

var errRefused = errors.New("installer refuses the host")

func TestTransientFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prov   *fakeprov.Options
		edit   func(*actions.Config)
		prep   func(b *bundle, fb *fakebmc.BMC)
		action lifecycle.Action
		want   error
		steps  []string
	}{
		{name: "BMCUnreachable", action: lifecycle.ActionPowerCycle, want: fakebmc.ErrUnreachable, steps: []string{"power-cycle"},
			prep: func(_ *bundle, fb *fakebmc.BMC) { fb.SetReachable(false) }},
		{name: "InstallFailed", action: lifecycle.ActionReimage, want: actions.ErrOperationFailed,
			prep:  func(b *bundle, _ *fakebmc.BMC) { b.prov.FailNext(1, false) },
			steps: []string{"prepare-deploy", "set-pxe-boot", "power-cycle", "wait-deploy"}},
		{name: "ProvisionerCall", action: lifecycle.ActionWipeDisks, want: fakeprov.ErrInjected,
			prep: func(b *bundle, _ *fakebmc.BMC) { b.prov.FailNextCalls(1, nil) }, steps: []string{"prepare-wipe"}},
		{name: "InstallTimeout", action: lifecycle.ActionReimage, want: actions.ErrStepTimeout,
			prov: &fakeprov.Options{MinDuration: time.Hour},
			edit: func(c *actions.Config) {
				c.StepTimeouts = map[string]time.Duration{actions.StepWaitDeploy: 30 * time.Millisecond}
			},
			steps: []string{"prepare-deploy", "set-pxe-boot", "power-cycle", "wait-deploy"}},
		{name: "WipeTimeout", action: lifecycle.ActionDecommission, want: actions.ErrStepTimeout,
			prov:  &fakeprov.Options{MinDuration: time.Hour},
			edit:  func(c *actions.Config) { c.WipeTimeout = 30 * time.Millisecond },
			steps: []string{"prepare-wipe", "set-pxe-boot", "power-cycle", "wait-wipe"}},
		{name: "BMCStepTimeout", action: lifecycle.ActionReimage, want: actions.ErrStepTimeout,
			edit:  func(c *actions.Config) { c.BMCTimeout = 30 * time.Millisecond },
			prep:  func(_ *bundle, fb *fakebmc.BMC) { fb.SetLatency(time.Hour) },
			steps: []string{"prepare-deploy", "set-pxe-boot"}},
		// Released by someone else while the installer waited for the boot.
		{name: "OperationLost", action: lifecycle.ActionReimage, want: actions.ErrNotPrepared,
			edit:  func(c *actions.Config) { c.Provisioner = releasing{c.Provisioner} },
			steps: []string{"prepare-deploy", "set-pxe-boot", "power-cycle", "wait-deploy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.prov, tc.edit)
			fb := b.fleet.add("web01", bmc.PowerOn)
			if tc.prep != nil {
				tc.prep(b, fb)
			}
			snap := ""
			if tc.action == lifecycle.ActionReimage {
				snap = snapshot
			}
			tk, rec := task(tc.action, "web01", snap, nil)
			err := b.runner.Run(t.Context(), tk)
			require.ErrorIs(t, err, tc.want)
			require.False(t, lifecycle.IsPermanent(err), "transient: %v", err)
			require.NotErrorIs(t, err, context.DeadlineExceeded, "a step timeout is not the job's deadline")
			require.NotErrorIs(t, err, context.Canceled)
			steps := rec.get()
			require.Equal(t, tc.steps, names(steps))
			require.Equal(t, lifecycle.StepFailed, steps[len(steps)-1].Outcome)
			if tc.name != "OperationLost" { // there the test's wrapper releases
				for _, c := range b.prov.CallsFor("web01") {
					require.NotEqual(t, fakeprov.MethodRelease, c.Method, "a retried failure leaves the host armed for the retry")
				}
			}
		})
	}
}

// releasing is a Provisioner whose Status releases the host first, as an
// operator (or another system) might while a job waits.
type releasing struct{ actions.Provisioner }

func (r releasing) Status(ctx context.Context, host string) (actions.Status, error) {
	if err := r.Release(ctx, host); err != nil {
		return actions.Status{}, err
	}
	return r.Provisioner.Status(ctx, host)
}

// With a bmc.Client of several drivers, a failure is permanent only when
// every driver failed permanently.
func TestClientErrorsClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		second    func(fb *fakebmc.BMC) bmc.Driver
		permanent bool
	}{
		{"AllRefused", func(fb *fakebmc.BMC) bmc.Driver {
			return fakebmc.NewDriver(fb, bmc.Credentials{Username: "x", Password: "pw-wrong-8812"})
		}, true},
		{"OneUnreachable", func(*fakebmc.BMC) bmc.Driver {
			other := fakebmc.New(&fakebmc.Options{Host: "web01"})
			other.SetReachable(false)
			return other.Driver()
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil, nil)
			fb := b.fleet.add("web01", bmc.PowerOn)
			r, err := actions.New(&actions.Config{
				Dial: func(_ context.Context, host string, _ bmc.Credentials) (bmc.Driver, error) {
					bad := fakebmc.NewDriver(fb, bmc.Credentials{Username: "admin", Password: "pw-wrong-8812"})
					return bmc.NewClient(host, []bmc.Driver{bad, tc.second(fb)}, nil), nil
				},
				PowerPollInterval: time.Millisecond,
			})
			require.NoError(t, err)
			tk, _ := task(lifecycle.ActionPowerOff, "web01", "", nil)
			err = r.Run(t.Context(), tk)
			require.ErrorIs(t, err, bmc.ErrAuth)
			require.Equal(t, tc.permanent, lifecycle.IsPermanent(err), "%v", err)
			require.NotContains(t, err.Error(), "pw-wrong-8812")
		})
	}
}

func TestCancelMidStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		prov   *fakeprov.Options
		slow   bool // BMC latency of an hour
		from   bmc.PowerState
		action lifecycle.Action
		step   string
	}{
		{"DuringPowerAction", nil, true, bmc.PowerOn, lifecycle.ActionPowerCycle, "power-cycle"},
		// The session is open while the confirmation polls.
		{"DuringConfirm", nil, false, bmc.PowerOff, lifecycle.ActionPowerOn, "confirm-on"},
		{"DuringInstall", &fakeprov.Options{MinDuration: time.Hour}, false, bmc.PowerOn, lifecycle.ActionReimage, "wait-deploy"},
		{"DuringProvisionerCall", &fakeprov.Options{CallLatency: time.Hour}, false, bmc.PowerOn, lifecycle.ActionWipeDisks, "prepare-wipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tc.prov, nil)
			b.fleet.opts.TransitionTime = time.Hour // power-on never settles
			fb := b.fleet.add("web01", tc.from)
			if tc.slow {
				fb.SetLatency(time.Hour)
			}
			snap := ""
			if tc.action == lifecycle.ActionReimage {
				snap = snapshot
			}
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(30*time.Millisecond, cancel)
			tk, rec := task(tc.action, "web01", snap, nil)
			done := make(chan error, 1)
			go func() { done <- b.runner.Run(ctx, tk) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not stop within 10s of its ctx being cancelled")
			}
			require.ErrorIs(t, err, context.Canceled)
			require.False(t, lifecycle.IsPermanent(err))
			steps := rec.get()
			last := steps[len(steps)-1]
			require.Equal(t, tc.step, last.Name)
			require.Equal(t, lifecycle.StepCancelled, last.Outcome)
			for _, s := range steps[:len(steps)-1] {
				require.Equal(t, lifecycle.StepSucceeded, s.Outcome)
			}
			// The BMC session was closed even though ctx ended.
			require.Eventually(t, func() bool { return fb.Sessions() == 0 }, 5*time.Second, time.Millisecond)
		})
	}
}

func TestCancelledBeforeRun(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	b.fleet.add("web01", bmc.PowerOn)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	steps, err := b.run(t, ctx, lifecycle.ActionReboot, "web01", nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, steps)
}

// A step whose record the store refuses (the worker lost its lease) stops
// the action.
func TestRecordRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil, nil)
	fb := b.fleet.add("web01", bmc.PowerOff)
	errLease := errors.New("lease lost")
	job := lifecycle.Job{BatchID: "b-1", Host: "web01", Action: lifecycle.ActionPowerOn, Attempts: 2}
	tk := lifecycle.NewTask(job, "", nil, nil, func(context.Context, lifecycle.Step) error { return errLease })
	err := b.runner.Run(t.Context(), tk)
	require.ErrorIs(t, err, errLease)
	require.False(t, lifecycle.IsPermanent(err))
	require.Equal(t, []string{"power-on"}, names(tk.Steps()))
	require.Equal(t, 2, tk.Steps()[0].Attempt)
	require.Equal(t, bmc.PowerOn, fb.PowerState(), "the step itself ran")
}

func TestConfig(t *testing.T) {
	t.Parallel()
	dial := (&fleet{}).dial
	_, err := actions.New(nil)
	require.ErrorContains(t, err, "Dial is nil")

	c := (&actions.Config{Dial: dial}).WithDefaults()
	require.Equal(t, 2*time.Minute, c.BMCTimeout)
	require.Equal(t, 5*time.Minute, c.PowerTimeout)
	require.Equal(t, time.Hour, c.DeployTimeout)
	require.Equal(t, 6*time.Hour, c.WipeTimeout)
	require.NotNil(t, c.Logger)
	require.NoError(t, c.Validate())
	orig := actions.Config{Dial: dial}
	orig.WithDefaults()
	require.Zero(t, orig.BMCTimeout, "WithDefaults does not change its receiver")
	require.Equal(t, time.Minute, (*actions.Config)(nil).WithDefaults().ProvisionerTimeout)

	for name, tc := range map[string]struct {
		cfg  actions.Config
		want string
	}{
		"Negative":    {actions.Config{Dial: dial, PowerTimeout: -1}, "PowerTimeout -1ns is negative"},
		"UnknownStep": {actions.Config{Dial: dial, StepTimeouts: map[string]time.Duration{"reformat": time.Second}}, `unknown step "reformat"`},
		"ZeroStep":    {actions.Config{Dial: dial, StepTimeouts: map[string]time.Duration{"wait-deploy": 0}}, "not positive"},
		"BootMode":    {actions.Config{Dial: dial, BootMode: "bios"}, `unknown boot mode "bios"`},
	} {
		_, err := actions.New(&tc.cfg)
		require.ErrorContains(t, err, tc.want, name)
	}
}

func TestSteps(t *testing.T) {
	t.Parallel()
	for _, a := range lifecycle.Actions() {
		require.NotEmpty(t, actions.Steps(a), a)
	}
	require.Nil(t, actions.Steps("format"))
	require.Equal(t, "power-on,confirm-on", strings.Join(actions.Steps(lifecycle.ActionPowerOn), ","))
}

func TestLogsFailedSteps(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	b := setup(t, nil, func(c *actions.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
		c.Credentials = &bmc.StaticCredentials{Default: bmc.Credentials{Username: "admin", Password: "pw-wrong-8812"}}
	})
	b.fleet.add("web01", bmc.PowerOn)
	_, err := b.run(t, t.Context(), lifecycle.ActionReboot, "web01", nil)
	require.ErrorIs(t, err, bmc.ErrAuth)
	out := buf.String()
	for _, want := range []string{"action step failed", "action=reboot", "host=web01", "batch=b-1", "step=reboot", "attempt=1", "permanent=true"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "pw-wrong-8812")
	require.NotContains(t, out, testPassword)

	buf.Reset()
	_, err = b.run(t, t.Context(), lifecycle.ActionPowerOn, "web02", nil)
	require.Error(t, err)
	require.Contains(t, buf.String(), "host=web02")
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}
