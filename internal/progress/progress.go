// Package progress draws progress bars on a terminal line for the example
// commands:
//
//	[=========>          ] 1200/5000  failed 3  412.0 hosts/s  ETA 9s
//
// A Bar is fed counts with Update; a ticker redraws it meanwhile so the
// elapsed time and the rate move even while nothing finishes. Stop clears
// the line. Draw a bar only where IsTerminal says a person watches.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// State is what a bar shows.
type State struct {
	Done, Total, Failed int
}

// Bar is a progress bar on one terminal line. It is safe for concurrent
// use.
type Bar struct {
	w     io.Writer
	unit  string
	start time.Time
	done  chan struct{}
	wg    sync.WaitGroup

	mu   sync.Mutex
	last State
	drew time.Time
}

const (
	width    = 30
	interval = 100 * time.Millisecond
)

// Start draws a bar of total items named unit (e.g. "hosts", "blobs") on
// w and keeps it moving until Stop.
func Start(w io.Writer, total int, unit string) *Bar {
	b := &Bar{w: w, unit: unit, start: time.Now(), done: make(chan struct{}), last: State{Total: total}}
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

// Update sets the counts, redrawing at most every 100ms (and at the end).
func (b *Bar) Update(s State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last = s
	if now := time.Now(); now.Sub(b.drew) >= interval || s.Done == s.Total {
		b.drawLocked(now)
	}
}

func (b *Bar) drawLocked(now time.Time) {
	b.drew = now
	fmt.Fprint(b.w, "\r"+Render(b.last, b.unit, now.Sub(b.start))+"\x1b[K")
}

// Stop stops redrawing and clears the line.
func (b *Bar) Stop() {
	close(b.done)
	b.wg.Wait()
	b.mu.Lock()
	defer b.mu.Unlock()
	fmt.Fprint(b.w, "\r\x1b[K")
}

// Render renders s after elapsed.
func Render(s State, unit string, elapsed time.Duration) string {
	fill := 0
	if s.Total > 0 {
		fill = min(width*s.Done/s.Total, width)
	}
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	out := fmt.Sprintf("[%s] %d/%d  failed %d", bar, s.Done, s.Total, s.Failed)
	if secs := elapsed.Seconds(); s.Done > 0 && secs > 0 {
		rate := float64(s.Done) / secs
		eta := time.Duration(float64(s.Total-s.Done) / rate * float64(time.Second))
		out += fmt.Sprintf("  %.1f %s/s  ETA %s", rate, unit, eta.Round(time.Second))
	} else {
		out += fmt.Sprintf("  elapsed %s", elapsed.Round(time.Second))
	}
	return out
}

// IsTerminal reports whether w is a terminal (a character device), where
// a progress bar belongs; not a pipe or a file.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
