package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/fleetkit/fleetkit/inventory"
)

type serverJSON struct {
	Server    string  `json:"server"`
	LatencyMS float64 `json:"latency_ms"`
	Written   int     `json:"written"`
	Renewed   int     `json:"renewed"`
	Removed   int     `json:"removed"`
	Bytes     int64   `json:"bytes"`
	Error     string  `json:"error,omitempty"`
}

func printReport(w io.Writer, rep *inventory.PublishReport, asJSON bool) {
	rows := make([]serverJSON, len(rep.Servers))
	for i, s := range rep.Servers {
		rows[i] = serverJSON{Server: s.Server, LatencyMS: float64(s.Latency.Microseconds()) / 1000}
		if s.Err != nil {
			rows[i].Error = s.Err.Error()
			continue
		}
		rows[i].Written, rows[i].Renewed, rows[i].Removed, rows[i].Bytes = s.Result.Written, s.Result.Renewed, s.Result.Removed, s.Result.Bytes
	}
	if asJSON {
		_ = json.NewEncoder(w).Encode(map[string]any{"host": rep.Host, "group": rep.Group, "objects": rep.Objects, "oversize": rep.Oversize, "servers": rows, "missed": rep.Missed()})
		return
	}
	fmt.Fprintf(w, "%s: %d objects to group %s\n", rep.Host, rep.Objects, rep.Group)
	for _, name := range rep.Oversize {
		fmt.Fprintf(w, "  %s: over the size limit, stored as a marker\n", name)
	}
	fmt.Fprintf(w, "%-24s %10s %8s %8s %8s %12s  %s\n", "SERVER", "LATENCY", "WRITTEN", "RENEWED", "REMOVED", "BYTES", "ERROR")
	for _, r := range rows {
		fmt.Fprintf(w, "%-24s %8.1fms %8d %8d %8d %12d  %s\n", r.Server, r.LatencyMS, r.Written, r.Renewed, r.Removed, r.Bytes, r.Error)
	}
}
