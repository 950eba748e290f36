package lifecycle

import (
	"testing"
	"time"
)

func TestJobCountsState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		c    JobCounts
		want BatchState
	}{
		{JobCounts{Pending: 3}, BatchPending},
		{JobCounts{Pending: 2, Running: 1}, BatchRunning},
		{JobCounts{Pending: 1, Succeeded: 1}, BatchRunning},
		{JobCounts{Running: 1, Cancelled: 2}, BatchRunning},
		{JobCounts{Succeeded: 3}, BatchSucceeded},
		{JobCounts{Succeeded: 2, Failed: 1}, BatchPartiallyFailed},
		{JobCounts{Failed: 3}, BatchFailed},
		{JobCounts{Succeeded: 1, Cancelled: 1}, BatchCancelled},
		{JobCounts{Cancelled: 3}, BatchCancelled},
	}
	for _, tc := range tests {
		if got := tc.c.State(); got != tc.want {
			t.Errorf("%+v: state %s, want %s", tc.c, got, tc.want)
		}
	}
}

func TestHostTransitions(t *testing.T) {
	t.Parallel()
	at := time.Unix(0, 0)
	tests := []struct {
		from   HostState
		to     HostState
		reason string
		ok     bool
	}{
		{HostReady, HostMaintenance, "rack move", true},
		{HostReady, HostMaintenance, "", false},
		{HostReady, HostDecommissioned, "", true},
		{HostReady, HostReady, "", true},
		{HostMaintenance, HostReady, "", true},
		{HostMaintenance, HostMaintenance, "new reason", true},
		{HostFailed, HostReady, "", true},
		{HostFailed, HostMaintenance, "triage", true},
		{HostDecommissioned, HostReady, "", false},
		{HostDecommissioned, HostMaintenance, "x", false},
		{HostClaimed, HostReady, "", false},
		{HostInProgress, HostMaintenance, "x", false},
		{HostReady, HostClaimed, "", false},
		{HostReady, HostInProgress, "", false},
		{HostReady, HostFailed, "", false},
		{HostReady, "bogus", "", false},
	}
	for _, tc := range tests {
		err := CheckHostTransition(Host{Name: "h", State: tc.from}, HostTransition{Host: "h", To: tc.to, Reason: tc.reason, At: at})
		if (err == nil) != tc.ok {
			t.Errorf("%s → %s (reason %q): err %v, want ok=%v", tc.from, tc.to, tc.reason, err, tc.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	d := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, x := range n {
			out[i] = time.Duration(x)
		}
		return out
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("empty: %d", got)
	}
	if got := percentile(d(7), 95); got != 7 {
		t.Errorf("one value: %d", got)
	}
	vals := d(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	if got := percentile(vals, 50); got != 10 {
		t.Errorf("p50 of 1..20 = %d, want 10", got)
	}
	if got := percentile(vals, 95); got != 19 {
		t.Errorf("p95 of 1..20 = %d, want 19", got)
	}
}
