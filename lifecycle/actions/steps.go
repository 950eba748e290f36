package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// withBMC runs fn on an open session with the host's BMC: credentials,
// dial, open, fn, and always close, through bmc.FanOut on one host.
func (j *job) withBMC(ctx context.Context, fn func(ctx context.Context, d bmc.Driver) error) error {
	hostTimeout := 24 * time.Hour // ctx, the step's, bounds it
	if dl, ok := ctx.Deadline(); ok {
		hostTimeout = max(time.Until(dl)+time.Second, time.Millisecond)
	}
	res := bmc.FanOut(ctx, []string{j.host}, j.r.cfg.Dial, func(ctx context.Context, d bmc.Driver) (struct{}, error) {
		return struct{}{}, fn(ctx, d)
	}, &bmc.FanOutOptions{Concurrency: 1, HostTimeout: hostTimeout, Credentials: j.r.cfg.Credentials})
	return res[0].Err
}

// powerAction decides the power action that performs action a on a host
// whose power is cur. Restarting a host that is off (power-cycle, reboot)
// powers it on: the caller wants it running from a fresh boot, and that is
// what powering on gives. bmc.CheckPowerAction would refuse the restart.
func powerAction(a lifecycle.Action, cur bmc.PowerState) bmc.PowerAction {
	switch a {
	case lifecycle.ActionPowerOn:
		return bmc.PowerActionOn
	case lifecycle.ActionPowerOff:
		return bmc.PowerActionOff
	case lifecycle.ActionReboot:
		if cur == bmc.PowerOff {
			return bmc.PowerActionOn
		}
		return bmc.PowerActionReset
	}
	// power-cycle
	if cur == bmc.PowerOff {
		return bmc.PowerActionOn
	}
	return bmc.PowerActionCycle
}

// power performs action a's power change: it waits for a transition in
// progress to settle (for at most PowerTimeout), decides the power action
// from the settled state, and asks the BMC for it.
func (j *job) power(ctx context.Context, a lifecycle.Action) error {
	return j.withBMC(ctx, func(ctx context.Context, d bmc.Driver) error {
		cur, err := j.settle(ctx, d)
		if err != nil {
			return err
		}
		pa := powerAction(a, cur)
		if err := d.SetPower(ctx, pa); err != nil {
			return fmt.Errorf("power %s (was %s): %w", pa, cur, err)
		}
		return nil
	})
}

// settle reads the power until it is not powering on or off, every
// PowerPollInterval for at most PowerTimeout, and returns it.
func (j *job) settle(ctx context.Context, d bmc.Driver) (bmc.PowerState, error) {
	cfg := &j.r.cfg
	start := time.Now()
	for {
		ps, err := d.PowerState(ctx)
		if err != nil {
			return "", fmt.Errorf("read power state: %w", err)
		}
		if ps != bmc.PowerPoweringOn && ps != bmc.PowerPoweringOff {
			return ps, nil
		}
		left := cfg.PowerTimeout - time.Since(start)
		if left <= 0 {
			return ps, fmt.Errorf("power still %s after %s", ps, cfg.PowerTimeout)
		}
		if err := sleep(ctx, min(cfg.PowerPollInterval, left)); err != nil {
			return ps, fmt.Errorf("waiting for power to settle (now %s): %w", ps, err)
		}
	}
}

// confirmPower polls the power until the BMC reports want.
func (j *job) confirmPower(ctx context.Context, want bmc.PowerState) error {
	return j.withBMC(ctx, func(ctx context.Context, d bmc.Driver) error {
		if err := bmc.WaitPower(ctx, want, j.r.cfg.PowerPollInterval, j.r.cfg.PowerTimeout, d.PowerState); err != nil {
			return fmt.Errorf("confirm power %s: %w", want, err)
		}
		return nil
	})
}

// setPXE sets the one-time PXE boot; the driver reads it back.
func (j *job) setPXE(ctx context.Context) error {
	o := bmc.BootOverride{Device: bmc.BootPXE, Mode: j.bootMode}
	return j.withBMC(ctx, func(ctx context.Context, d bmc.Driver) error { return d.SetBootOverride(ctx, o) })
}

// prepare arms the Provisioner.
func (j *job) prepare(ctx context.Context) error {
	if err := j.r.cfg.Provisioner.Prepare(ctx, j.req); err != nil {
		return fmt.Errorf("prepare %s: %w", describe(j.req), err)
	}
	return nil
}

// describe names a request in errors: "deploy of snap-1 to web01".
func describe(r Request) string {
	if r.Operation == OpDeploy {
		return fmt.Sprintf("deploy of %s to %s", r.Snapshot, r.Host)
	}
	return fmt.Sprintf("%s of %s", r.Operation, r.Host)
}

// matches reports whether st is the status of the operation j prepared.
func (j *job) matches(st Status) bool {
	return st.State != StateNone && st.Operation == j.req.Operation && st.Snapshot == j.req.Snapshot
}

// wait polls the Provisioner every ProvisionerPollInterval until the
// prepared operation is done. The step's timeout bounds it.
func (j *job) wait(ctx context.Context) error {
	p := j.r.cfg.Provisioner
	for {
		st, err := p.Status(ctx, j.host)
		if err != nil {
			return fmt.Errorf("status of %s: %w", describe(j.req), err)
		}
		if err := j.check(st); err != nil || st.State == StateDone {
			return err
		}
		if err := sleep(ctx, j.r.cfg.ProvisionerPollInterval); err != nil {
			return fmt.Errorf("waiting for %s (now %s): %w", describe(j.req), st.State, err)
		}
	}
}

// check returns the error a status means for the prepared operation: nil
// while it is pending, running or done.
func (j *job) check(st Status) error {
	switch {
	case !j.matches(st):
		got := string(st.State)
		if st.State != StateNone {
			got = fmt.Sprintf("%s %s", st.Operation, st.State)
			if st.Snapshot != "" {
				got += " of " + st.Snapshot
			}
		}
		return fmt.Errorf("%w: %s: provisioner reports %s", ErrNotPrepared, describe(j.req), got)
	case st.State == StateFailed:
		err := fmt.Errorf("%w: %s: %s", ErrOperationFailed, describe(j.req), st.Detail)
		if st.Permanent {
			return lifecycle.Permanent(err)
		}
		return err
	}
	return nil
}

// confirmDeployed checks that the host is on and that the Provisioner
// reports the snapshot deployed.
func (j *job) confirmDeployed(ctx context.Context) error {
	st, err := j.r.cfg.Provisioner.Status(ctx, j.host)
	if err != nil {
		return fmt.Errorf("status of %s: %w", describe(j.req), err)
	}
	if err := j.check(st); err != nil {
		return err
	}
	if st.State != StateDone {
		return fmt.Errorf("%s: provisioner reports %s, not done", describe(j.req), st.State)
	}
	return j.confirmPower(ctx, bmc.PowerOn)
}

// release makes the Provisioner forget the host.
func (j *job) release(ctx context.Context) error {
	if err := j.r.cfg.Provisioner.Release(ctx, j.host); err != nil {
		return fmt.Errorf("release %s: %w", j.host, err)
	}
	return nil
}

// sleep waits d or until ctx ends, and returns ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
