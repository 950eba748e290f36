package ipmibmc

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bougou/go-ipmi/pkg/command/transport"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/fleetkit/fleetkit/bmc"
)

// channelThis is the channel number that means "the channel this request
// came in on" (IPMI v2.0 table 6-1).
const channelThis = 0x0e

// ConsoleHealth checks Serial over LAN, step by step, on the open
// session:
//
//   - Reachable and Authenticated: the session answers. After ResetBMC
//     the driver opens a new session first; when that fails, an RMCP
//     presence ping tells an unreachable BMC from one that refuses the
//     session.
//   - Enabled: Get SOL Configuration Parameters, parameter 1 "SOL Enable",
//     on this channel, has its enable bit set.
//   - Answering: that read succeeded.
//
// Console is "SOL". The read is tried once (with the usual resends), so a
// check of a BMC that went silent takes about three Options.Timeout. The
// error is for a driver that is not open (bmc.ErrNotOpen) and a ctx that
// ended; everything else is in the result, Detail saying what failed, with
// the completion code where the BMC gave one.
func (d *Driver) ConsoleHealth(ctx context.Context) (bmc.ConsoleHealth, error) {
	start := time.Now()
	h := bmc.ConsoleHealth{Console: "SOL"}
	if err := d.lock(ctx); err != nil {
		return h, d.errorf("console health", err)
	}
	defer d.unlock()
	err := d.consoleHealth(ctx, &h)
	h.Latency = time.Since(start)
	return h, d.errorf("console health", err)
}

func (d *Driver) consoleHealth(ctx context.Context, h *bmc.ConsoleHealth) error {
	if !d.open {
		return bmc.ErrNotOpen
	}
	c, err := d.session(ctx)
	if err != nil {
		return d.noSession(ctx, h, err)
	}
	h.Reachable, h.Authenticated = true, true

	var resp *transport.GetSOLConfigParamResponse
	raw := func() error {
		var err error
		resp, err = c.GetSOLConfigParam(ctx, channelThis, types.SOLConfigParamSelector_SOLEnable, 0, 0)
		return err
	}()
	err = classify(ctx, raw)
	switch {
	case err == nil && len(resp.ParamData) == 0:
		h.Answering = true
		h.Detail = "the BMC answered Get SOL Configuration Parameters (SOL Enable) without data"
	case err == nil:
		h.Answering = true
		h.Enabled = resp.ParamData[0]&0x01 != 0
		if !h.Enabled {
			h.Detail = "serial over LAN is disabled on the BMC (SOL configuration parameter 1, SOL Enable, is 0; ipmitool sol set enabled true enables it)"
		}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, bmc.ErrUnsupported):
		h.Detail = fmt.Sprintf("the BMC does not implement Get SOL Configuration Parameters, so no serial over LAN: %v", err)
	case paramUnsupported(raw):
		h.Detail = fmt.Sprintf("the BMC does not report SOL configuration parameter 1 (SOL Enable): %v", err)
	case errors.Is(err, bmc.ErrAuth):
		h.Detail = fmt.Sprintf("the user may not read the SOL configuration: %v", err)
	case bmc.IsTransient(err):
		if _, answered := completionCode(raw); !answered && d.ping(ctx) != nil {
			h.Reachable, h.Authenticated = false, false
			h.Detail = fmt.Sprintf("the BMC stopped answering (no answer to Get SOL Configuration Parameters nor to an RMCP ping): %v", err)
			break
		}
		h.Detail = fmt.Sprintf("no usable answer to Get SOL Configuration Parameters (SOL Enable): %v", err)
	default:
		h.Detail = fmt.Sprintf("Get SOL Configuration Parameters (SOL Enable) failed: %v", err)
	}
	return nil
}

// noSession fills h for a session that did not open (err, classified).
func (d *Driver) noSession(ctx context.Context, h *bmc.ConsoleHealth, err error) error {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, bmc.ErrAuth):
		h.Reachable = true
		h.Detail = fmt.Sprintf("the BMC refused the credentials: %v", err)
	case errors.Is(err, bmc.ErrUnsupported):
		h.Reachable = true
		h.Detail = fmt.Sprintf("no session: %v", err)
	case d.ping(ctx) == nil:
		h.Reachable = true
		h.Detail = fmt.Sprintf("the BMC answers RMCP pings but no session opened: %v", err)
	default:
		h.Detail = fmt.Sprintf("no answer from the BMC: %v", err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// ping sends an RMCP/ASF presence ping from a socket of its own.
func (d *Driver) ping(ctx context.Context) error {
	c, err := d.newClient()
	if err != nil {
		return err
	}
	defer discard(c)
	_, err = c.RmcpPing(ctx)
	return err
}
