package redfishbmc

import (
	"context"
	"fmt"
	"slices"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

var (
	bootTargets = map[bmc.BootDevice]schemas.BootSource{
		bmc.BootPXE:  schemas.PxeBootSource,
		bmc.BootDisk: schemas.HddBootSource,
		bmc.BootCD:   schemas.CdBootSource,
	}
	bootModes = map[bmc.BootMode]schemas.BootSourceOverrideMode{
		bmc.BootUEFI:   schemas.UEFIBootSourceOverrideMode,
		bmc.BootLegacy: schemas.LegacyBootSourceOverrideMode,
	}
)

// SetBootOverride sets a one-time boot override: it PATCHes the system's
// Boot with BootSourceOverrideTarget (Pxe, Hdd or Cd),
// BootSourceOverrideEnabled Once and, when o.Mode is set,
// BootSourceOverrideMode (UEFI or Legacy). Then it reads the system again:
// when the BMC reports anything else (some silently keep their old
// setting, or apply it only at the next reset) it fails with an error
// wrapping bmc.ErrBootNotApplied that says what the BMC reports.
//
// An invalid o fails with bmc.ErrInvalidArgument before any I/O; a target
// missing from the BMC's BootSourceOverrideTarget@Redfish.AllowableValues
// fails with bmc.ErrUnsupported, naming what it offers. The whole
// sequence is retried on transient failures (the PATCH is idempotent).
func (d *Driver) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	what := fmt.Sprintf("boot override %s %s", o.Device, d.endpoint)
	if err := o.Validate(); err != nil {
		return fmt.Errorf("redfishbmc: %s: %w", what, err)
	}
	want := schemas.Boot{
		BootSourceOverrideTarget:  bootTargets[o.Device],
		BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled,
		BootSourceOverrideMode:    bootModes[o.Mode], // "" is omitted from the PATCH
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		sys, err := d.system(c, "boot override")
		if err != nil {
			return err
		}
		what := fmt.Sprintf("boot override %s %s%s", o.Device, d.endpoint, sys.ODataID)
		if allowed := sys.Boot.AllowableBootSourceOverrideTargetValues; len(allowed) > 0 && !slices.Contains(allowed, want.BootSourceOverrideTarget) {
			return fmt.Errorf("redfishbmc: %s: %w: BootSourceOverrideTarget %s is not among those the BMC offers %v",
				what, bmc.ErrUnsupported, want.BootSourceOverrideTarget, allowed)
		}
		patch := want
		if err := sys.SetBoot(&patch); err != nil {
			return d.interpret(what+": PATCH Boot", err)
		}
		got, err := d.system(c, what+": read back")
		if err != nil {
			return err
		}
		b := got.Boot
		if b.BootSourceOverrideTarget != want.BootSourceOverrideTarget ||
			b.BootSourceOverrideEnabled != want.BootSourceOverrideEnabled ||
			want.BootSourceOverrideMode != "" && b.BootSourceOverrideMode != want.BootSourceOverrideMode {
			return fmt.Errorf("redfishbmc: %s: %w: asked for %s, the BMC reports %s",
				what, bmc.ErrBootNotApplied, describeBoot(want, want.BootSourceOverrideMode != ""), describeBoot(b, true))
		}
		d.log.Debug("redfishbmc: boot override set", "endpoint", d.endpoint, "target", b.BootSourceOverrideTarget, "mode", b.BootSourceOverrideMode)
		return nil
	})
}

// describeBoot renders the override part of b, e.g.
// "target Pxe, enabled Once, mode UEFI".
func describeBoot(b schemas.Boot, withMode bool) string {
	or := func(s, def string) string {
		if s == "" {
			return def
		}
		return s
	}
	s := fmt.Sprintf("target %s, enabled %s", or(string(b.BootSourceOverrideTarget), "(none)"), or(string(b.BootSourceOverrideEnabled), "(none)"))
	if withMode {
		s += ", mode " + or(string(b.BootSourceOverrideMode), "(none)")
	}
	return s
}
