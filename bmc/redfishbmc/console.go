package redfishbmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

// ConsoleHealth checks the system's remote (serial) console step by step:
//
//   - Reachable: the Redfish service root answered;
//   - Authenticated: the session (or basic credentials) was accepted for
//     reading the system;
//   - Enabled: a serial console is enabled, on the system
//     (SerialConsole.IPMI, .SSH or .Telnet with ServiceEnabled) or on the
//     manager of the system (SerialConsole, else CommandShell, with
//     ServiceEnabled); Console names which, e.g. "SerialConsole/IPMI",
//     "CommandShell/SSH";
//   - Answering: the manager that serves the console answered, and does
//     not report itself offline or disabled. Redfish cannot reach the
//     console protocol itself (SOL, SSH); this is its closest probe.
//
// Detail says why the console is unusable. The error is only for a check
// that could not run: the driver is not open (bmc.ErrNotOpen), or ctx is
// done.
func (d *Driver) ConsoleHealth(ctx context.Context) (bmc.ConsoleHealth, error) {
	start := time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	h, err := d.consoleHealth(ctx)
	h.Latency = time.Since(start)
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("redfishbmc: console health of %s: %w", d.endpoint, ctx.Err())
	}
	return h, err
}

func (d *Driver) consoleHealth(ctx context.Context) (h bmc.ConsoleHealth, _ error) {
	if d.client == nil {
		return h, fmt.Errorf("redfishbmc: console health of %s: %w", d.endpoint, bmc.ErrNotOpen)
	}

	// Reachable: the service root answers (it needs no credentials).
	err := bmc.Retry(ctx, d.opts.Retry, func(ctx context.Context) error {
		resp, err := d.client.WithContext(ctx).Get(schemas.DefaultServiceRoot)
		schemas.DeferredCleanupHTTPResponse(resp)
		return d.interpret("read the service root of "+d.endpoint, err)
	})
	if err != nil {
		h.Reachable = httpStatus(err) != 0
		h.Detail = err.Error()
		return h, nil
	}
	h.Reachable = true

	// Authenticated: the system can be read.
	var sys *schemas.ComputerSystem
	sysErr := d.do(ctx, "console health of "+d.endpoint, func(_ context.Context, c *gofish.APIClient) (err error) {
		sys, err = d.system(c, "console health: read system")
		return err
	})
	// Any answer but a refusal proves the credentials; no answer proves
	// nothing.
	if errors.Is(sysErr, bmc.ErrAuth) || sysErr != nil && httpStatus(sysErr) == 0 {
		h.Detail = sysErr.Error()
		return h, nil
	}
	h.Authenticated = true
	if ctx.Err() != nil {
		return h, nil
	}

	// Enabled, from the system's own serial console (Redfish 2020.3+).
	if sys != nil {
		for _, p := range []struct {
			name string
			p    schemas.SerialConsoleProtocol
		}{{"IPMI", sys.SerialConsole.IPMI}, {"SSH", sys.SerialConsole.SSH}, {"Telnet", sys.SerialConsole.Telnet}} {
			if p.p.ServiceEnabled {
				h.Enabled, h.Console = true, "SerialConsole/"+p.name
				break
			}
		}
	}

	// The manager: enabled (when the system said nothing) and answering.
	var mgr *schemas.Manager
	mgrErr := d.do(ctx, "console health of "+d.endpoint, func(_ context.Context, c *gofish.APIClient) (err error) {
		mgr, err = d.manager(c, sys)
		return err
	})
	var details []string
	if sysErr != nil {
		details = append(details, sysErr.Error())
	}
	if mgrErr != nil {
		details = append(details, mgrErr.Error())
		h.Detail = strings.Join(details, "; ")
		return h, nil
	}
	if !h.Enabled {
		// Deprecated on the Manager since Redfish 2020.3, in favour of the
		// system's, but what most BMCs in service still report.
		//lint:ignore SA1019 read for the BMCs that have nothing else
		serial := mgr.SerialConsole
		switch {
		case serial.ServiceEnabled:
			h.Enabled, h.Console = true, "SerialConsole"+firstType(serial.ConnectTypesSupported)
		case mgr.CommandShell.ServiceEnabled:
			h.Enabled, h.Console = true, "CommandShell"+firstType(mgr.CommandShell.ConnectTypesSupported)
		default:
			details = append(details, fmt.Sprintf("neither the system nor its manager %s has a serial console or command shell enabled (ServiceEnabled)", mgr.ODataID))
		}
	}
	switch mgr.Status.State {
	case schemas.DisabledState, schemas.UnavailableOfflineState, schemas.StandbyOfflineState, schemas.AbsentState:
		details = append(details, fmt.Sprintf("manager %s reports state %s", mgr.ODataID, mgr.Status.State))
	default:
		h.Answering = true
	}
	if !h.Usable() {
		h.Detail = strings.Join(details, "; ")
	}
	return h, nil
}

func firstType[T ~string](types []T) string {
	if len(types) == 0 {
		return ""
	}
	return "/" + string(types[0])
}

// managedBy is the part of a ComputerSystem gofish keeps to itself: the
// links to its managers.
type managedBy struct {
	Links struct {
		ManagedBy []struct {
			ODataID string `json:"@odata.id"`
		}
	}
}

// manager reads the manager of the system: the first of its ManagedBy
// links, else the first manager of the service (a BMC-type one if there
// is one). The URI is remembered for the session.
func (d *Driver) manager(c *gofish.APIClient, sys *schemas.ComputerSystem) (*schemas.Manager, error) {
	if d.managerURI == "" && sys != nil {
		var mb managedBy
		if json.Unmarshal(sys.RawData, &mb) == nil && len(mb.Links.ManagedBy) > 0 {
			d.managerURI = mb.Links.ManagedBy[0].ODataID
		}
	}
	if d.managerURI == "" {
		ms, err := c.Service.Managers()
		if err != nil && len(ms) == 0 {
			return nil, d.interpret("list managers of "+d.endpoint, err)
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("redfishbmc: %s: %w: the BMC lists no manager", d.endpoint, bmc.ErrNotFound)
		}
		slices.SortFunc(ms, func(a, b *schemas.Manager) int {
			if (a.ManagerType == schemas.BMCManagerType) != (b.ManagerType == schemas.BMCManagerType) {
				if a.ManagerType == schemas.BMCManagerType {
					return -1
				}
				return 1
			}
			return strings.Compare(a.ODataID, b.ODataID)
		})
		d.managerURI = ms[0].ODataID
		return ms[0], nil
	}
	m, err := schemas.GetObject[schemas.Manager](c, d.managerURI)
	if err != nil {
		return nil, d.interpret("read manager "+d.endpoint+d.managerURI, err)
	}
	return m, nil
}
