package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
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

// progressBar draws a fan-out's progress on one terminal line:
//
//	[=========>          ] 1200/5000  failed 3  412.0 hosts/s  ETA 9s
//
// FanOut's Progress callback feeds it; a ticker redraws it meanwhile so
// the elapsed time and the rate move even while no host finishes. stop
// clears the line.
type progressBar struct {
	w     io.Writer
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	last bmc.Progress
	drew time.Time
}

const (
	barWidth    = 30
	barInterval = 100 * time.Millisecond
)

func newProgressBar(w io.Writer, total int) *progressBar {
	b := &progressBar{w: w, start: time.Now(), done: make(chan struct{}), last: bmc.Progress{Total: total}}
	b.mu.Lock()
	b.drawLocked(time.Now())
	b.mu.Unlock()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-b.done:
				return
			case now := <-t.C:
				b.mu.Lock()
				b.drawLocked(now)
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// update is the FanOut Progress callback.
func (b *progressBar) update(p bmc.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = p
	if now := time.Now(); now.Sub(b.drew) >= barInterval || p.Done == p.Total {
		b.drawLocked(now)
	}
}

func (b *progressBar) drawLocked(now time.Time) {
	b.drew = now
	fmt.Fprint(b.w, "\r"+renderProgress(b.last, now.Sub(b.start))+"\x1b[K")
}

// stop stops redrawing and clears the line.
func (b *progressBar) stop() {
	close(b.done)
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\x1b[K")
}

// renderProgress renders p after elapsed.
func renderProgress(p bmc.Progress, elapsed time.Duration) string {
	fill := 0
	if p.Total > 0 {
		fill = barWidth * p.Done / p.Total
	}
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	s := fmt.Sprintf("[%s] %d/%d  failed %d", bar, p.Done, p.Total, p.Failed)
	if secs := elapsed.Seconds(); p.Done > 0 && secs > 0 {
		rate := float64(p.Done) / secs
		eta := time.Duration(float64(p.Total-p.Done) / rate * float64(time.Second))
		s += fmt.Sprintf("  %.1f hosts/s  ETA %s", rate, eta.Round(time.Second))
	} else {
		s += fmt.Sprintf("  elapsed %s", elapsed.Round(time.Second))
	}
	return s
}
