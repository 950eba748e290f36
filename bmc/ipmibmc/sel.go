package ipmibmc

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/bougou/go-ipmi/pkg/client"
	"github.com/bougou/go-ipmi/pkg/command/storage"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/fleetkit/fleetkit/bmc"
)

// selLast is the record ID that ends the SEL (IPMI v2.0 §31.5).
const selLast = 0xffff

// EventLog reads the system event log (Get SEL Info, then Get SEL Entry
// from the first record to the last), oldest first. Standard records are
// described with the sensor type, number and event, and rated "OK",
// "Warning" or "Critical"; OEM records are shown in hex. IDs are the SEL
// record IDs in decimal. A BMC without a SEL fails with bmc.ErrUnsupported.
func (d *Driver) EventLog(ctx context.Context) ([]bmc.LogEntry, error) {
	var out []bmc.LogEntry
	err := d.do(ctx, "read event log", func(ctx context.Context, c *client.Client) error {
		var info *storage.GetSELInfoResponse
		err := d.call(ctx, "Get SEL Info", false, func(ctx context.Context) error {
			var err error
			info, err = c.GetSELInfo(ctx)
			return err
		})
		if err != nil {
			return err
		}
		out = make([]bmc.LogEntry, 0, info.Entries)
		if info.Entries == 0 {
			return nil
		}
		// The BMC links the records; the bound stops a BMC whose links go
		// round in circles (records added while reading may be missed).
		id := uint16(0) // 0000h: the first record
		for n := 0; n <= int(info.Entries)+64; n++ {
			resp := &storage.GetSELEntryResponse{}
			err := d.call(ctx, fmt.Sprintf("Get SEL Entry %#04x", id), false, func(ctx context.Context) error {
				return c.Exchange(ctx, &storage.GetSELEntryRequest{RecordID: id, ReadBytes: 0xff}, resp)
			})
			if err != nil {
				return err
			}
			sel, err := types.ParseSEL(resp.Data)
			if err != nil {
				return fmt.Errorf("SEL record %#04x: %w", id, err)
			}
			out = append(out, logEntry(sel))
			if resp.NextRecordID == selLast || resp.NextRecordID == id {
				return nil
			}
			id = resp.NextRecordID
		}
		return fmt.Errorf("the SEL does not end after %d records (it says it has %d)", len(out), info.Entries)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// logEntry describes one SEL record.
func logEntry(sel *types.SEL) bmc.LogEntry {
	e := bmc.LogEntry{ID: strconv.Itoa(int(sel.RecordID)), Severity: "OK"}
	switch {
	case sel.Standard != nil:
		s := sel.Standard
		e.Time = selTime(s.Timestamp)
		e.Severity = severity(s.EventSeverity())
		e.Message = fmt.Sprintf("%s sensor %#02x: %s (%s)", s.SensorType, uint8(s.SensorNumber), s.EventString(), s.EventDir)
	case sel.OEMTimestamped != nil:
		o := sel.OEMTimestamped
		e.Time = selTime(o.Timestamp)
		e.Message = fmt.Sprintf("OEM record type %#02x, manufacturer %d: % x", uint8(sel.RecordType), o.ManufacturerID, o.OEMDefined)
	case sel.OEMNonTimestamped != nil:
		e.Message = fmt.Sprintf("OEM record type %#02x: % x", uint8(sel.RecordType), sel.OEMNonTimestamped.OEM)
	default:
		e.Message = fmt.Sprintf("record type %#02x", uint8(sel.RecordType))
	}
	return e
}

// selTime returns t, or the zero time for the timestamps IPMI reserves
// for "unspecified" (FFFFFFFFh) and "seconds since the BMC started"
// (up to 20000000h): they are not dates.
func selTime(t time.Time) time.Time {
	if u := t.Unix(); u <= 0x20000000 || u == 0xffffffff {
		return time.Time{}
	}
	return t.UTC()
}

// severity maps go-ipmi's event severities to Redfish's words, which
// every driver uses.
func severity(s types.EventSeverity) string {
	switch s {
	case types.EventSeverityCritical:
		return "Critical"
	case types.EventSeverityWarning, types.EventSeverityDegraded, types.EventSeverityNonFatal:
		return "Warning"
	}
	return "OK"
}

// ResetBMC restarts the BMC (Cold Reset). The session dies with the BMC,
// so the driver drops it: the next call opens a new one, which succeeds
// once the BMC is back (a minute or two on real hardware; use a ctx and
// Options.Retry that allow for it). Cold Reset is sent once: a BMC often
// restarts before it answers, so no answer counts as done. A BMC that
// refuses (completion code C1h) fails with bmc.ErrUnsupported and keeps
// its session.
func (d *Driver) ResetBMC(ctx context.Context) error {
	return d.do(ctx, "reset BMC", func(ctx context.Context, c *client.Client) error {
		noAnswer := false
		err := d.call(ctx, "Cold Reset", false, func(ctx context.Context) error {
			err := c.ColdReset(ctx)
			if _, answered := completionCode(err); err != nil && !answered && bmc.IsTransient(classify(ctx, err)) {
				noAnswer = true // not sent again: it may well have arrived
				d.log.Info("ipmibmc: no answer to Cold Reset; the BMC is probably restarting", "bmc", d.addr, "err", err)
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		d.log.Info("ipmibmc: BMC cold reset; the next call opens a new session", "bmc", d.addr, "answered", !noAnswer)
		d.dropSession()
		return nil
	})
}
