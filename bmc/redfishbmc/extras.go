package redfishbmc

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/fleetkit/fleetkit/bmc"
)

// managerReset is the part of a Manager gofish keeps to itself: whether it
// has a Reset action at all.
type managerReset struct {
	Actions struct {
		Reset struct {
			Target string `json:"target"`
		} `json:"#Manager.Reset"`
	}
}

// ResetBMC restarts the manager of the system (#Manager.Reset with
// GracefulRestart, else ForceRestart, as the manager advertises; a manager
// that advertises nothing gets its default reset). It returns once the BMC
// accepted the request; the BMC is then unreachable for a while, and the
// driver's next call logs in again. A manager without a Reset action
// fails with bmc.ErrUnsupported. A request that may have arrived is not
// retried.
func (d *Driver) ResetBMC(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	what := "reset the BMC " + d.endpoint
	return d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		mgr, err := d.systemManager(c)
		if err != nil {
			return err
		}
		what := what + mgr.ODataID
		var mr managerReset
		if json.Unmarshal(mgr.RawData, &mr) == nil && mr.Actions.Reset.Target == "" {
			return fmt.Errorf("redfishbmc: %s: %w: the manager has no #Manager.Reset action", what, bmc.ErrUnsupported)
		}
		allowed, err := mgr.GetSupportedResetTypes()
		if err != nil {
			return d.interpret(what+": read the Reset ActionInfo", err)
		}
		rt := schemas.GracefulRestartResetType
		if len(allowed) > 0 && !slices.Contains(allowed, rt) {
			rt = schemas.ForceRestartResetType
			if !slices.Contains(allowed, rt) {
				return fmt.Errorf("redfishbmc: %s: %w: needs ResetType GracefulRestart or ForceRestart but the manager offers %v", what, bmc.ErrUnsupported, allowed)
			}
		}
		if _, err := mgr.Reset(rt); err != nil {
			ierr := d.interpret(fmt.Sprintf("%s: Reset %s", what, rt), err)
			if bmc.IsTransient(ierr) && !notDelivered(ierr) {
				return fmt.Errorf("%v; not retried: the BMC may be restarting already", ierr)
			}
			return ierr
		}
		d.log.Info("redfishbmc: BMC reset requested", "endpoint", d.endpoint, "manager", mgr.ODataID, "reset_type", rt)
		return nil
	})
}

// systemManager reads the system, then its manager (see manager).
func (d *Driver) systemManager(c *gofish.APIClient) (*schemas.Manager, error) {
	var sys *schemas.ComputerSystem
	if d.managerURI == "" {
		var err error
		if sys, err = d.system(c, "read system"); err != nil {
			return nil, err
		}
	}
	return d.manager(c, sys)
}

// EventLog reads the system event log: the system's log service of type
// SEL (LogEntryType, or Id "SEL"), else its manager's. Entries come
// oldest first. A BMC without such a log fails with bmc.ErrUnsupported.
func (d *Driver) EventLog(ctx context.Context) ([]bmc.LogEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []bmc.LogEntry
	what := "read the event log of " + d.endpoint
	err := d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		sys, err := d.system(c, "read system for its event log:")
		if err != nil {
			return err
		}
		services, err := sys.LogServices()
		if err != nil && len(services) == 0 {
			return d.interpret(what+": list the system's log services", err)
		}
		ls := sel(services)
		if ls == nil {
			mgr, err := d.manager(c, sys)
			if err != nil {
				return err
			}
			if services, err = mgr.LogServices(); err != nil && len(services) == 0 {
				return d.interpret(what+": list the manager's log services", err)
			}
			ls = sel(services)
		}
		if ls == nil {
			return fmt.Errorf("redfishbmc: %s: %w: neither the system nor its manager has a SEL log service", what, bmc.ErrUnsupported)
		}
		entries, err := ls.Entries()
		if err != nil {
			return d.interpret(what+": read "+ls.ODataID, err)
		}
		out = make([]bmc.LogEntry, 0, len(entries))
		for _, e := range entries {
			out = append(out, logEntry(e))
		}
		slices.SortStableFunc(out, func(a, b bmc.LogEntry) int {
			return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.ID, b.ID))
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// sel picks the SEL log service among services, nil when there is none.
func sel(services []*schemas.LogService) *schemas.LogService {
	slices.SortFunc(services, func(a, b *schemas.LogService) int { return strings.Compare(a.ODataID, b.ODataID) })
	for _, ls := range services {
		if ls.LogEntryType == schemas.SELLogEntryTypes || strings.EqualFold(ls.ID, "SEL") {
			return ls
		}
	}
	return nil
}

func logEntry(e *schemas.LogEntry) bmc.LogEntry {
	le := bmc.LogEntry{ID: e.ID, Severity: string(e.Severity), Message: e.Message}
	for _, ts := range []string{e.Created, e.EventTimestamp} {
		if t, err := time.Parse(time.RFC3339, ts); err == nil {
			le.Time = t
			break
		}
	}
	return le
}

// InsertMedia attaches the image at imageURL (http, https, nfs, cifs…;
// the BMC fetches it) to the system's virtual CD or DVD drive: the
// system's VirtualMedia, else its manager's, whose MediaTypes include CD
// or DVD. Media already inserted is ejected first; the same image already
// inserted is left as it is. A BMC without a virtual CD or DVD fails with
// bmc.ErrUnsupported. imageURL is shown in errors and logs without its
// password.
func (d *Driver) InsertMedia(ctx context.Context, imageURL string) error {
	u, err := url.Parse(imageURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("redfishbmc: insert virtual media on %s: %w: the image must be an absolute URL", d.endpoint, bmc.ErrInvalidArgument)
	}
	secret, _ := u.User.Password()
	what := fmt.Sprintf("insert virtual media %s on %s", u.Redacted(), d.endpoint)
	d.mu.Lock()
	defer d.mu.Unlock()
	err = d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		vm, err := d.virtualCD(c, what)
		if err != nil {
			return err
		}
		if gofish.Deref(vm.Inserted) || vm.Image != "" {
			if vm.Image == imageURL || vm.Image == u.Redacted() {
				return nil // a retry after an insert that did arrive
			}
			if _, err := vm.EjectMedia(); err != nil {
				return d.interpret(what+": eject "+vm.ODataID, err)
			}
		}
		_, err = vm.InsertMedia(&schemas.VirtualMediaInsertMediaParameters{
			Image: imageURL, Inserted: gofish.ToRef(true), WriteProtected: gofish.ToRef(true),
		})
		if err != nil {
			return d.interpret(what+": "+vm.ODataID, err)
		}
		d.log.Info("redfishbmc: virtual media inserted", "endpoint", d.endpoint, "media", vm.ODataID, "image", u.Redacted())
		return nil
	})
	if err != nil {
		return d.redactErr(err, secret)
	}
	return nil
}

// EjectMedia detaches whatever image the system's virtual CD or DVD drive
// holds; an empty drive is not an error.
func (d *Driver) EjectMedia(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	what := "eject virtual media on " + d.endpoint
	return d.do(ctx, what, func(_ context.Context, c *gofish.APIClient) error {
		vm, err := d.virtualCD(c, what)
		if err != nil {
			return err
		}
		if !gofish.Deref(vm.Inserted) && vm.Image == "" {
			return nil
		}
		if _, err := vm.EjectMedia(); err != nil {
			return d.interpret(what+": "+vm.ODataID, err)
		}
		return nil
	})
}

// virtualCD finds the virtual CD or DVD drive of the system (Redfish
// 1.10+ puts VirtualMedia under the system), else of its manager.
func (d *Driver) virtualCD(c *gofish.APIClient, what string) (*schemas.VirtualMedia, error) {
	sys, err := d.system(c, what+": read system")
	if err != nil {
		return nil, err
	}
	pick := func(media []*schemas.VirtualMedia) *schemas.VirtualMedia {
		slices.SortFunc(media, func(a, b *schemas.VirtualMedia) int { return strings.Compare(a.ODataID, b.ODataID) })
		for _, vm := range media {
			if slices.Contains(vm.MediaTypes, schemas.CDVirtualMediaType) || slices.Contains(vm.MediaTypes, schemas.DVDVirtualMediaType) {
				return vm
			}
		}
		return nil
	}
	media, err := sys.VirtualMedia()
	if err != nil && len(media) == 0 {
		return nil, d.interpret(what+": list the system's virtual media", err)
	}
	if vm := pick(media); vm != nil {
		return vm, nil
	}
	mgr, err := d.manager(c, sys)
	if err != nil {
		return nil, err
	}
	if media, err = mgr.VirtualMedia(); err != nil && len(media) == 0 {
		return nil, d.interpret(what+": list the manager's virtual media", err)
	}
	if vm := pick(media); vm != nil {
		return vm, nil
	}
	return nil, fmt.Errorf("redfishbmc: %s: %w: neither the system nor its manager has a virtual CD or DVD drive", what, bmc.ErrUnsupported)
}
