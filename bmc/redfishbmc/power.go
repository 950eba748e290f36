package redfishbmc

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

// powerState maps a Redfish PowerState to bmc's. Paused, absent and
// anything newer than this package are bmc.PowerUnknown.
func powerState(s schemas.PowerState) bmc.PowerState {
	switch s {
	case schemas.OnPowerState:
		return bmc.PowerOn
	case schemas.OffPowerState:
		return bmc.PowerOff
	case schemas.PoweringOnPowerState:
		return bmc.PowerPoweringOn
	case schemas.PoweringOffPowerState:
		return bmc.PowerPoweringOff
	}
	return bmc.PowerUnknown
}

// PowerState reads the system's PowerState: On, Off, PoweringOn and
// PoweringOff map to bmc's states; Paused, a missing value and values this
// package does not know are bmc.PowerUnknown. On error it returns
// bmc.PowerUnknown.
func (d *Driver) PowerState(ctx context.Context) (bmc.PowerState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.powerState(ctx)
}

func (d *Driver) powerState(ctx context.Context) (bmc.PowerState, error) {
	ps := bmc.PowerUnknown
	what := "read power state of " + d.endpoint + d.systemURI
	err := d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		// The one property, not the whole ComputerSystem: PowerState is
		// the call fleets make most, and gofish decodes a system in full
		// (twice).
		resp, err := c.Get(d.systemURI)
		defer schemas.DeferredCleanupHTTPResponse(resp)
		if err != nil {
			return d.interpret(what, err)
		}
		var sys struct{ PowerState schemas.PowerState }
		if err := json.NewDecoder(resp.Body).Decode(&sys); err != nil {
			return d.interpret(what, fmt.Errorf("decode the system: %w", err))
		}
		ps = powerState(sys.PowerState)
		return nil
	})
	return ps, err
}

// resetPreferences are the Redfish ResetTypes each action may use, best
// first:
//
//   - on: On, else ForceOn;
//   - off: ForceOff (cut power now, as bmc.PowerActionOff promises);
//   - soft-off: GracefulShutdown, else PushPowerButton (an ACPI power
//     button press, which is what IPMI's soft off does too);
//   - cycle: PowerCycle; a BMC without it but with ForceOff and On (or
//     ForceOn) gets ForceOff, a wait until it reports Off, then On;
//   - reset: ForceRestart, else GracefulRestart (which asks the OS, so it
//     can take longer, or not happen on a hung OS).
var resetPreferences = map[bmc.PowerAction][]schemas.ResetType{
	bmc.PowerActionOn:      {schemas.OnResetType, schemas.ForceOnResetType},
	bmc.PowerActionOff:     {schemas.ForceOffResetType},
	bmc.PowerActionSoftOff: {schemas.GracefulShutdownResetType, schemas.PushPowerButtonResetType},
	bmc.PowerActionCycle:   {schemas.PowerCycleResetType},
	bmc.PowerActionReset:   {schemas.ForceRestartResetType, schemas.GracefulRestartResetType},
}

// chooseReset picks the ResetType for a among those the BMC allows. then
// is the second half of the cycle fallback (On after ForceOff), else "".
// A BMC that advertises nothing gets the first preference (the Redfish
// schema lets a service accept resets it does not list).
func chooseReset(a bmc.PowerAction, allowed []schemas.ResetType) (first, then schemas.ResetType, err error) {
	prefs := resetPreferences[a]
	if len(allowed) == 0 {
		return prefs[0], "", nil
	}
	for _, p := range prefs {
		if slices.Contains(allowed, p) {
			return p, "", nil
		}
	}
	if a == bmc.PowerActionCycle && slices.Contains(allowed, schemas.ForceOffResetType) {
		for _, on := range resetPreferences[bmc.PowerActionOn] {
			if slices.Contains(allowed, on) {
				return schemas.ForceOffResetType, on, nil
			}
		}
	}
	want := make([]string, len(prefs))
	for i, p := range prefs {
		want[i] = string(p)
	}
	if a == bmc.PowerActionCycle {
		want = append(want, "ForceOff then On")
	}
	return "", "", fmt.Errorf("%w: %s needs ResetType %s, but the BMC offers %v", bmc.ErrUnsupported, a, strings.Join(want, " or "), allowed)
}

// resetAction is a ComputerSystem's #ComputerSystem.Reset action: where to
// post, and the ResetTypes it advertises inline or through an ActionInfo.
type resetAction struct {
	Actions struct {
		Reset struct {
			Target     string              `json:"target"`
			Allowed    []schemas.ResetType `json:"ResetType@Redfish.AllowableValues"`
			ActionInfo string              `json:"@Redfish.ActionInfo"`
		} `json:"#ComputerSystem.Reset"`
	}
}

// powerView is the part of a ComputerSystem that SetPower needs. Decoding
// only it, rather than gofish's whole ComputerSystem (which gofish decodes
// twice), is most of what a power action costs the client.
type powerView struct {
	ODataID    string `json:"@odata.id"`
	PowerState schemas.PowerState
	resetAction
}

// powerView reads the system's power state and Reset action.
func (d *Driver) powerView(c *gofish.APIClient, what string) (*powerView, error) {
	resp, err := c.Get(d.systemURI)
	defer schemas.DeferredCleanupHTTPResponse(resp)
	if err != nil {
		return nil, d.interpret(what+" "+d.endpoint+d.systemURI, err)
	}
	var v powerView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, d.interpret(what+" "+d.endpoint+d.systemURI, fmt.Errorf("decode the system: %w", err))
	}
	v.ODataID = cmp.Or(v.ODataID, d.systemURI)
	return &v, nil
}

// allowedResets returns the ResetTypes the system advertises: inline, or
// from its ActionInfo (read through gofish, rarely needed).
func (d *Driver) allowedResets(c *gofish.APIClient, v *powerView, what string) ([]schemas.ResetType, error) {
	r := v.Actions.Reset
	if len(r.Allowed) > 0 || r.ActionInfo == "" {
		return r.Allowed, nil
	}
	sys, err := d.system(c, what)
	if err != nil {
		return nil, err
	}
	allowed, err := sys.GetSupportedResetTypes()
	if err != nil {
		return nil, d.interpret(what+": read the Reset ActionInfo", err)
	}
	return allowed, nil
}

// SetPower performs a, decided with bmc.CheckPowerAction against the
// system's PowerState read first: a no-op sends nothing, an action that
// makes no sense fails with bmc.ErrInvalidPowerAction. The ResetType is
// chosen from the system's advertised ResetType@Redfish.AllowableValues
// (or its ActionInfo): see the package documentation for which type each
// action uses. When the BMC advertises none that fits, SetPower fails
// with bmc.ErrUnsupported, naming what the BMC offers.
//
// After on and off (and after the cycle fallback) SetPower waits, up to
// Options.PowerTimeout, until the BMC reports the new state. Cycle and
// reset are not confirmed: a power cycle can be over before the first
// read.
//
// Transient failures are retried from the state read on, so a retried
// on or off is a no-op once done. A cycle or reset whose request may have
// reached the BMC (a timeout, a dropped connection) is not retried: the
// error says so, and is not transient.
func (d *Driver) SetPower(ctx context.Context, a bmc.PowerAction) error {
	what := fmt.Sprintf("power %s %s", a, d.endpoint)
	if !a.Valid() {
		_, err := bmc.CheckPowerAction(bmc.PowerUnknown, a)
		return fmt.Errorf("redfishbmc: %s: %w", what, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var (
		noop        bool
		first, then schemas.ResetType
	)
	err := d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		sys, err := d.powerView(c, "power "+string(a))
		if err != nil {
			return err
		}
		what = fmt.Sprintf("power %s %s%s", a, d.endpoint, sys.ODataID)
		cur := powerState(sys.PowerState)
		if noop, err = bmc.CheckPowerAction(cur, a); err != nil || noop {
			if err != nil {
				return fmt.Errorf("redfishbmc: %s: %w", what, err)
			}
			d.log.Debug("redfishbmc: power action is a no-op", "endpoint", d.endpoint, "action", a, "state", cur)
			return nil
		}
		if sys.Actions.Reset.Target == "" {
			return fmt.Errorf("redfishbmc: %s: %w: the system has no #ComputerSystem.Reset action", what, bmc.ErrUnsupported)
		}
		allowed, err := d.allowedResets(c, sys, what)
		if err != nil {
			return err
		}
		if first, then, err = chooseReset(a, allowed); err != nil {
			return fmt.Errorf("redfishbmc: %s: %w", what, err)
		}
		d.log.Debug("redfishbmc: reset", "endpoint", d.endpoint, "action", a, "reset_type", first, "state", cur)
		return d.reset(c, sys, a, first, what)
	})
	if err != nil || noop {
		return err
	}
	if then != "" { // cycle fallback: ForceOff done, On once the system is off
		if err := d.waitPower(ctx, what, bmc.PowerOff, first, d.fallbackTimeout()); err != nil {
			return err
		}
		d.log.Debug("redfishbmc: reset", "endpoint", d.endpoint, "action", a, "reset_type", then)
		err := d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
			sys, err := d.powerView(c, "power "+string(a))
			if err != nil {
				return err
			}
			if powerState(sys.PowerState) == bmc.PowerOn {
				return nil // a retry after an On that did arrive
			}
			return d.reset(c, sys, bmc.PowerActionOn, then, what)
		})
		if err != nil {
			return err
		}
		first = then
	}
	var want bmc.PowerState
	switch {
	case a == bmc.PowerActionOn || then != "":
		want = bmc.PowerOn
	case a == bmc.PowerActionOff:
		want = bmc.PowerOff
	default:
		return nil
	}
	if d.opts.PowerTimeout < 0 {
		return nil
	}
	return d.waitPower(ctx, what, want, first, d.opts.PowerTimeout)
}

func (d *Driver) fallbackTimeout() time.Duration {
	if d.opts.PowerTimeout > 0 {
		return d.opts.PowerTimeout
	}
	return DefaultPowerTimeout
}

// reset posts the Reset action. For actions that are not idempotent
// (cycle, reset, and the halves of the cycle fallback), a failure after
// which the request may have arrived is returned as permanent, so neither
// bmc.Retry nor a caller repeats it blindly.
func (d *Driver) reset(c *gofish.APIClient, sys *powerView, a bmc.PowerAction, rt schemas.ResetType, what string) error {
	resp, err := c.Post(sys.Actions.Reset.Target, struct{ ResetType schemas.ResetType }{rt})
	schemas.DeferredCleanupHTTPResponse(resp)
	if err == nil {
		return nil
	}
	ierr := d.interpret(fmt.Sprintf("%s: Reset %s", what, rt), err)
	if a != bmc.PowerActionCycle && a != bmc.PowerActionReset || !bmc.IsTransient(ierr) || notDelivered(ierr) {
		return ierr
	}
	return fmt.Errorf("%v; not retried: the BMC may have done it, read the power state first", ierr)
}

// notDelivered reports whether a failed request certainly did not reach
// the BMC (or reached it and was turned away): a refused or failed dial,
// or an HTTP status saying "busy".
func notDelivered(err error) bool {
	switch httpStatus(err) {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	}
	var oe *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &oe) && oe.Op == "dial"
}

// waitPower polls the power state until it is want, for at most timeout
// (and never past ctx).
func (d *Driver) waitPower(ctx context.Context, what string, want bmc.PowerState, sent schemas.ResetType, timeout time.Duration) error {
	var readErr error
	err := bmc.WaitPower(ctx, want, d.opts.PollInterval, timeout, func(ctx context.Context) (bmc.PowerState, error) {
		ps, err := d.powerState(ctx)
		readErr = err
		return ps, err
	})
	if err == nil || err == readErr {
		return err
	}
	return fmt.Errorf("redfishbmc: %s: the BMC accepted %s but %w", what, sent, err)
}
