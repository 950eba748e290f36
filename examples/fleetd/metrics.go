package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// poolMetrics is a lifecycle.PoolMetrics over Prometheus collectors.
type poolMetrics struct {
	claimed      prometheus.Counter
	claimSeconds prometheus.Histogram
	attempts     *prometheus.CounterVec
	attemptSecs  *prometheus.HistogramVec
	steps        *prometheus.CounterVec
	stepSecs     *prometheus.HistogramVec
}

func newPoolMetrics(reg prometheus.Registerer) *poolMetrics {
	m := &poolMetrics{
		claimed: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "fleetkit", Name: "jobs_claimed_total",
			Help: "Jobs claimed from the queue by this process."}),
		claimSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "fleetkit", Name: "claim_duration_seconds",
			Help: "Time of one claim from the queue.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fleetkit", Name: "job_attempts_total",
			Help: "Job attempts by action and result (pending: retried or released)."}, []string{"action", "result"}),
		attemptSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "fleetkit", Name: "job_attempt_duration_seconds",
			Help: "Run time of job attempts by action.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"action"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "fleetkit", Name: "job_steps_total",
			Help: "Steps of job attempts by action, step and outcome."}, []string{"action", "step", "outcome"}),
		stepSecs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "fleetkit", Name: "job_step_duration_seconds",
			Help: "Run time of steps by action and step.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 18)}, []string{"action", "step"}),
	}
	reg.MustRegister(m.claimed, m.claimSeconds, m.attempts, m.attemptSecs, m.steps, m.stepSecs)
	return m
}

func (m *poolMetrics) Claimed(n int, took time.Duration) {
	m.claimed.Add(float64(n))
	m.claimSeconds.Observe(took.Seconds())
}

func (m *poolMetrics) AttemptEnded(a lifecycle.Action, s lifecycle.JobState, took time.Duration) {
	m.attempts.WithLabelValues(string(a), string(s)).Inc()
	m.attemptSecs.WithLabelValues(string(a)).Observe(took.Seconds())
}

func (m *poolMetrics) StepEnded(a lifecycle.Action, s lifecycle.Step) {
	m.steps.WithLabelValues(string(a), s.Name, string(s.Outcome)).Inc()
	m.stepSecs.WithLabelValues(string(a), s.Name).Observe(s.Duration().Seconds())
}
