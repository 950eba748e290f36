package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
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
	err := s.endedJobs(ctx, p, func(j Job) error {
		add(key{a: j.Action, all: true}, j)
		add(key{a: j.Action, sku: j.SKU}, j)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: stats: %w", err)
	}
	out := make([]ActionStats, 0, len(accs))
	for _, a := range accs {
		a.st.SuccessRate, a.st.P50, a.st.P95 = summarise(a.st.Succeeded, a.st.Succeeded+a.st.Failed, a.runtimes)
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

// endedJobs calls fn with every ended job p selects, page by page.
func (s *Service) endedJobs(ctx context.Context, p StatsParams, fn func(Job) error) error {
	f := JobFilter{Action: p.Action, States: []JobState{JobSucceeded, JobFailed, JobCancelled},
		FinishedAfter: p.Since, Limit: MaxPageSize}
	for {
		page, err := s.st.ListJobs(ctx, f)
		if err != nil {
			return err
		}
		for _, j := range page.Jobs {
			if err := fn(j); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		f.Cursor = page.Next
	}
}

// summarise returns n/of (0 when of is 0) and the p50 and p95 of
// durations, which it sorts.
func summarise(n, of int, durations []time.Duration) (rate float64, p50, p95 time.Duration) {
	if of > 0 {
		rate = float64(n) / float64(of)
	}
	slices.Sort(durations)
	return rate, percentile(durations, 50), percentile(durations, 95)
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

// StepStats summarises the recorded steps of one action's step name: how
// often it ran and failed, and how long it took.
type StepStats struct {
	Action Action
	Step   string
	// Runs counts recorded runs of the step (every attempt's);
	// Succeeded, Failed and Cancelled break it down.
	Runs, Succeeded, Failed, Cancelled int
	// FailureRate is Failed / (Succeeded + Failed); 0 without a verdict.
	FailureRate float64
	// P50 and P95 are duration percentiles (nearest rank) of the runs that
	// succeeded or failed.
	P50, P95 time.Duration
}

// StepStats computes, per action and step, how often each step of the
// ended jobs p selects failed and how long it took: the answer to "which
// sub-step of reimages fails, and which is slow". Rows are sorted by action
// then step name. It reads each job's steps (Store.JobSteps), so keep
// p.Since recent on large fleets.
func (s *Service) StepStats(ctx context.Context, p StatsParams) ([]StepStats, error) {
	type key struct {
		a    Action
		step string
	}
	type acc struct {
		st        StepStats
		durations []time.Duration
	}
	accs := map[key]*acc{}
	err := s.endedJobs(ctx, p, func(j Job) error {
		steps, err := s.st.JobSteps(ctx, j.BatchID, j.Host)
		if err != nil {
			return err
		}
		for _, st := range steps {
			k := key{j.Action, st.Name}
			a := accs[k]
			if a == nil {
				a = &acc{st: StepStats{Action: j.Action, Step: st.Name}}
				accs[k] = a
			}
			a.st.Runs++
			switch st.Outcome {
			case StepSucceeded:
				a.st.Succeeded++
			case StepFailed:
				a.st.Failed++
			default:
				a.st.Cancelled++
				continue
			}
			a.durations = append(a.durations, st.Duration())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lifecycle: step stats: %w", err)
	}
	out := make([]StepStats, 0, len(accs))
	for _, a := range accs {
		a.st.FailureRate, a.st.P50, a.st.P95 = summarise(a.st.Failed, a.st.Succeeded+a.st.Failed, a.durations)
		out = append(out, a.st)
	}
	slices.SortFunc(out, func(x, y StepStats) int {
		if x.Action != y.Action {
			return strings.Compare(string(x.Action), string(y.Action))
		}
		return strings.Compare(x.Step, y.Step)
	})
	return out, nil
}
