package ipmibmc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/fleetkit/fleetkit/bmc"
)

// bootDevice is the boot device selector (IPMI v2.0 table 28-14,
// parameter 5, data 2) of each device.
var bootDevice = map[bmc.BootDevice]types.BootDeviceSelector{
	bmc.BootPXE:  types.BootDeviceSelectorForcePXE,
	bmc.BootDisk: types.BootDeviceSelectorForceHardDrive,
	bmc.BootCD:   types.BootDeviceSelectorForceCDROM,
}

// SetBootOverride asks for the next boot, and only the next, to use
// o.Device, and checks that the BMC kept it:
//
//  1. without o.Mode, Get System Boot Options parameter 5, to keep the
//     UEFI bit the BMC has (legacy when it has none);
//  2. parameter 3, "BMC boot flag valid bit clearing": the bit that keeps
//     the BMC from clearing the flags 60 seconds after they are set
//     without a restart, so the override waits for the next boot whenever
//     it comes (skipped when the BMC does not implement the parameter);
//  3. Set System Boot Options parameter 5: valid, next boot only, UEFI or
//     legacy, the device;
//  4. Get System Boot Options parameter 5: the device, the valid bit
//     (unless Options.IgnoreBootValid), the UEFI bit when o.Mode was given,
//     and "next boot only" must read back as written, or SetBootOverride
//     fails with an error wrapping bmc.ErrBootNotApplied that shows both.
//
// An invalid o fails with bmc.ErrInvalidArgument before anything is sent.
// A BMC that cannot read the boot flags back fails with bmc.ErrUnsupported.
func (d *Driver) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	what := "set boot override " + string(o.Device)
	if o.Mode != "" {
		what += " (" + string(o.Mode) + ")"
	}
	if err := o.Validate(); err != nil {
		return d.errorf(what, err)
	}
	return d.do(ctx, what, func(ctx context.Context, c *client.Client) error {
		uefi := o.Mode == bmc.BootUEFI
		if o.Mode == "" {
			cur, err := d.bootFlags(ctx, c)
			switch {
			case err == nil:
				uefi = bool(cur.BIOSBootType)
			case !errors.Is(err, bmc.ErrUnsupported): // nothing set yet (go-ipmi's BMC) is legacy
				return err
			}
		}
		if err := d.keepBootFlags(ctx, c); err != nil {
			return err
		}
		want := &types.BootOptionParam_BootFlags{
			BootFlagsValid:     true,
			Persist:            false,
			BIOSBootType:       types.BIOSBootType(uefi),
			BootDeviceSelector: bootDevice[o.Device],
		}
		err := d.call(ctx, "Set System Boot Options (boot flags)", false, func(ctx context.Context) error {
			return c.SetSystemBootOptionsParamFor(ctx, want)
		})
		if err != nil {
			return err
		}
		got, err := d.bootFlags(ctx, c)
		if err != nil {
			if errors.Is(err, bmc.ErrUnsupported) {
				return fmt.Errorf("the BMC accepted the boot flags but cannot read them back: %w", err)
			}
			return fmt.Errorf("read the boot flags back: %w", err)
		}
		d.log.Debug("ipmibmc: boot flags read back", "bmc", d.addr, "wrote", describeFlags(want), "read", describeFlags(got))
		if mismatch := compareFlags(want, got, o.Mode != "", d.opts.IgnoreBootValid); mismatch != "" {
			return fmt.Errorf("%w: %s: wrote %s, the BMC reports %s", bmc.ErrBootNotApplied, mismatch, describeFlags(want), describeFlags(got))
		}
		return nil
	})
}

// bootFlags reads Get System Boot Options parameter 5. A BMC that does not
// implement the parameter (or has none stored yet) fails with
// bmc.ErrUnsupported.
func (d *Driver) bootFlags(ctx context.Context, c *client.Client) (*types.BootOptionParam_BootFlags, error) {
	f := &types.BootOptionParam_BootFlags{}
	err := d.call(ctx, "Get System Boot Options (boot flags)", false, func(ctx context.Context) error {
		return c.GetSystemBootOptionsParamFor(ctx, f)
	})
	switch {
	case err == nil:
		return f, nil
	case errors.Is(err, bmc.ErrUnsupported):
		return nil, err
	case paramUnsupported(err):
		return nil, fmt.Errorf("%w: %w", bmc.ErrUnsupported, err)
	}
	return nil, err
}

// keepBootFlags sets the "do not clear the valid bit on the 60-second
// timeout" bit of parameter 3 when it is not set already, keeping the
// other bits. A BMC without parameter 3 is left as it is.
func (d *Driver) keepBootFlags(ctx context.Context, c *client.Client) error {
	p := &types.BootOptionParam_BMCBootFlagValidBitClear{}
	err := d.call(ctx, "Get System Boot Options (valid bit clearing)", false, func(ctx context.Context) error {
		return c.GetSystemBootOptionsParamFor(ctx, p)
	})
	switch {
	case paramUnsupported(err):
		d.log.Debug("ipmibmc: no boot option parameter 3; the BMC may clear the boot flags 60 s after they are set", "bmc", d.addr, "err", err)
		*p = types.BootOptionParam_BMCBootFlagValidBitClear{} // set it all the same: some BMCs write what they do not read
	case err != nil:
		return err
	case p.DontClearOnCommandReceivedTimeout:
		return nil
	}
	p.DontClearOnCommandReceivedTimeout = true
	err = d.call(ctx, "Set System Boot Options (valid bit clearing)", false, func(ctx context.Context) error {
		return c.SetSystemBootOptionsParamFor(ctx, p)
	})
	if paramUnsupported(err) {
		d.log.Debug("ipmibmc: boot option parameter 3 not set; the BMC may clear the boot flags 60 s after they are set", "bmc", d.addr, "err", err)
		return nil
	}
	return err
}

// paramUnsupported reports an answer meaning "no such parameter": 80h
// (parameter not supported, the code of the boot option and SOL commands),
// C1h (no such command), CCh (invalid data field, OpenIPMI's answer).
func paramUnsupported(err error) bool {
	if errors.Is(err, bmc.ErrUnsupported) {
		return true
	}
	cc, ok := completionCode(err)
	return ok && (cc == types.CodeParameterNotSupported || cc == types.CodeRequestDataFieldInvalid)
}

// compareFlags returns what differs between the boot flags written and
// those read back, or "" when the override holds.
func compareFlags(want, got *types.BootOptionParam_BootFlags, checkMode, ignoreValid bool) string {
	var diffs []string
	if got.BootDeviceSelector != want.BootDeviceSelector {
		diffs = append(diffs, "another device")
	}
	if !got.BootFlagsValid && !ignoreValid {
		diffs = append(diffs, "flags not valid")
	}
	if checkMode && got.BIOSBootType != want.BIOSBootType {
		diffs = append(diffs, "another boot mode")
	}
	if got.Persist != want.Persist {
		diffs = append(diffs, "persistent, not next boot only")
	}
	return strings.Join(diffs, ", ")
}

// describeFlags says what matters of boot flags, e.g. "pxe, uefi, next
// boot only, valid".
func describeFlags(f *types.BootOptionParam_BootFlags) string {
	dev := fmt.Sprintf("device %#02x", uint8(f.BootDeviceSelector))
	for d, sel := range bootDevice {
		if sel == f.BootDeviceSelector {
			dev = string(d)
		}
	}
	if f.BootDeviceSelector == types.BootDeviceSelectorNoOverride {
		dev = "no override"
	}
	mode := string(bmc.BootLegacy)
	if f.BIOSBootType {
		mode = string(bmc.BootUEFI)
	}
	once := "next boot only"
	if f.Persist {
		once = "persistent"
	}
	valid := "valid"
	if !f.BootFlagsValid {
		valid = "not valid"
	}
	return strings.Join([]string{dev, mode, once, valid}, ", ")
}
