// Package procstat measures the process the benchmark commands run in:
// the peak of its Go heap, its peak resident set size and its CPU time.
package procstat

import (
	"bufio"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HeapSampler records the peak of the heap in use (runtime/metrics: heap
// objects plus unused heap spans, as MemStats.HeapInuse) while it runs.
type HeapSampler struct {
	first uint64
	done  chan struct{}
	wg    sync.WaitGroup
	peak  uint64
}

var heapMetrics = []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes"}

func heapInUse(s []metrics.Sample) uint64 {
	metrics.Read(s)
	var n uint64
	for _, m := range s {
		if m.Value.Kind() == metrics.KindUint64 {
			n += m.Value.Uint64()
		}
	}
	return n
}

// StartHeapSampler samples the heap in use every interval until Stop.
func StartHeapSampler(every time.Duration) *HeapSampler {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	m := &HeapSampler{done: make(chan struct{})}
	m.first = heapInUse(s)
	m.peak = m.first
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				m.peak = max(m.peak, heapInUse(s))
				return
			case <-t.C:
				m.peak = max(m.peak, heapInUse(s))
			}
		}
	}()
	return m
}

// First returns the heap in use when sampling started.
func (m *HeapSampler) First() uint64 { return m.first }

// Stop stops sampling and returns the peak in bytes.
func (m *HeapSampler) Stop() uint64 {
	close(m.done)
	m.wg.Wait()
	return m.peak
}

// CPUTime is the user and system CPU time of the process so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS reads VmHWM, the peak resident set size in bytes, from
// /proc/self/status; 0 where there is none (not Linux).
func PeakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
