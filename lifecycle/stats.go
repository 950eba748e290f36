package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// StatsParams selects the jobs statistics are computed over.
type StatsParams struct {
	// Since keeps jobs that ended after it; zero means all.
	Since time.Time
	// Action keeps one action; empty means all.
	Action Action
}

// ActionStats summarises ended jobs of one action, over all SKUs (SKU
// empty, AllSKUs true) or one SKU.
type ActionStats struct {
	Action  Action
	SKU     string
	AllSKUs bool
	// Jobs counts ended jobs; Succeeded, Failed and Cancelled break it
	// down.
	Jobs, Succeeded, Failed, Cancelled int
	// SuccessRate is Succeeded / (Succeeded + Failed): cancelled jobs are
	// no verdict on the action. It is 0 when there is no verdict.
	SuccessRate float64
	// P50 and P95 are runtime percentiles (nearest rank) of the jobs that
	// started and then succeeded or failed.
	P50, P95 time.Duration
}

// Stats computes success rates and runtime percentiles per action, and per
// action and hardware SKU, over the ended jobs p selects. Rows are sorted by
// action, the all-SKU row first, then by SKU.
func (s *Service) Stats(ctx context.Context, p StatsParams) ([]ActionStats, error) {
	type key struct {
		a   Action
		sku string
		all bool
	}
	type acc struct {
		st       ActionStats
		runtimes []time.Duration
	}
	accs := map[key]*acc{}
	add := func(k key, j Job) {
		a := accs[k]
		if a == nil {
			a = &acc{st: ActionStats{Action: k.a, SKU: k.sku, AllSKUs: k.all}}
			accs[k] = a
		}
		a.st.Jobs++
		switch j.State {
		case JobSucceeded:
			a.st.Succeeded++
		case JobFailed:
			a.st.Failed++
		case JobCancelled:
			a.st.Cancelled++
			return
		}
		if rt := j.Runtime(); rt > 0 {
			a.runtimes = append(a.runtimes, rt)
		}
	}
	f := JobFilter{Action: p.Action, States: []JobState{JobSucceeded, JobFailed, JobCancelled},
		FinishedAfter: p.Since, Limit: MaxPageSize}
	for {
		page, err := s.st.ListJobs(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("lifecycle: stats: %w", err)
		}
		for _, j := range page.Jobs {
			add(key{a: j.Action, all: true}, j)
			add(key{a: j.Action, sku: j.SKU}, j)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	out := make([]ActionStats, 0, len(accs))
	for _, a := range accs {
		if v := a.st.Succeeded + a.st.Failed; v > 0 {
			a.st.SuccessRate = float64(a.st.Succeeded) / float64(v)
		}
		slices.Sort(a.runtimes)
		a.st.P50 = percentile(a.runtimes, 50)
		a.st.P95 = percentile(a.runtimes, 95)
		out = append(out, a.st)
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Action != y.Action {
			return x.Action < y.Action
		}
		if x.AllSKUs != y.AllSKUs {
			return x.AllSKUs
		}
		return x.SKU < y.SKU
	})
	return out, nil
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 * n)
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}
