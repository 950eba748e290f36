package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
)

// resultJSON is one host's result in -o json.
type resultJSON struct {
	Host       string             `json:"host"`
	OK         bool               `json:"ok"`
	Result     string             `json:"result,omitempty"`
	Driver     string             `json:"driver,omitempty"`
	DurationMS float64            `json:"duration_ms"`
	Error      string             `json:"error,omitempty"`
	Console    *bmc.ConsoleHealth `json:"console,omitempty"`
	Attempts   []attempt          `json:"attempts,omitempty"`
}

// documentJSON is the whole -o json output.
type documentJSON struct {
	Command   string       `json:"command"`
	Total     int          `json:"total"`
	Succeeded int          `json:"succeeded"`
	Failed    int          `json:"failed"`
	ElapsedMS float64      `json:"elapsed_ms"`
	Results   []resultJSON `json:"results"`
}

// writeResults writes the results as a table or one JSON document.
func writeResults(w io.Writer, format string, cmd command, results []bmc.Result[outcome], elapsed time.Duration) error {
	if format == "json" {
		doc := documentJSON{Command: cmd.name, Total: len(results), ElapsedMS: ms(elapsed), Results: make([]resultJSON, len(results))}
		for i, r := range results {
			doc.Results[i] = resultJSON{
				Host: r.Host, OK: r.Err == nil, Result: r.Value.Result, Driver: r.Value.Driver,
				DurationMS: ms(r.Duration), Error: hostError(r.Host, r.Err),
				Console: r.Value.Console, Attempts: r.Value.Attempts,
			}
			if r.Err != nil {
				doc.Failed++
			}
		}
		doc.Succeeded = doc.Total - doc.Failed
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tRESULT\tDRIVER\tDURATION\tERROR")
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Host, dash(r.Value.Result), dash(r.Value.Driver), round(r.Duration), hostError(r.Host, r.Err))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Rows without an error end in the padding of their last cell.
	lines := strings.SplitAfter(buf.String(), "\n")
	for i, l := range lines {
		if t := strings.TrimRight(l, " \n"); len(t) < len(l) && strings.HasSuffix(l, "\n") {
			lines[i] = t + "\n"
		}
	}
	_, err := io.WriteString(w, strings.Join(lines, ""))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// round shortens a duration for a table: milliseconds, or microseconds
// under one.
func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
