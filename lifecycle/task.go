package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Runner performs the action of claimed jobs. Workers call Run once per
// attempt of a job; Run does its work as named steps through t.Step, so
// that each step's timing and outcome are recorded on the job.
//
// Run must stop promptly when ctx is done (the job was cancelled, timed
// out, or its lease was lost) and return ctx's error or one wrapping it.
// Steps must be idempotent: an attempt may be retried, or taken over by
// another worker after this one died, and run the same steps again.
//
// A returned error is retried with backoff up to the action's maximum
// attempts, unless it is marked with Permanent.
type Runner interface {
	Run(ctx context.Context, t *Task) error
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context, t *Task) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, t *Task) error { return f(ctx, t) }

// StepOutcome is how a step ended.
type StepOutcome string

// Step outcomes.
const (
	StepSucceeded StepOutcome = "succeeded"
	StepFailed    StepOutcome = "failed"
	// StepCancelled: the step stopped because its context ended (the job
	// was cancelled, timed out, or its worker lost the lease).
	StepCancelled StepOutcome = "cancelled"
)

// Step is one named step of one attempt of a job, as recorded on the job.
type Step struct {
	// Name names the step within its action, e.g. "set-pxe-boot".
	Name string
	// Attempt is the job attempt (Job.Attempts) the step belongs to.
	Attempt int
	// StartedAt and FinishedAt bound the step.
	StartedAt, FinishedAt time.Time
	Outcome               StepOutcome
	// Error is the step's error, for failed and cancelled steps.
	Error string
}

// Duration is how long the step took.
func (s Step) Duration() time.Duration { return s.FinishedAt.Sub(s.StartedAt) }

// Task is one attempt of a claimed job, as a Runner sees it.
type Task struct {
	// Job is the job, as claimed: Attempts counts this attempt.
	Job Job
	// Snapshot is the batch's OS snapshot ID (reimage), or empty.
	Snapshot string
	// Params are the batch's free-form parameters. Do not modify them.
	Params map[string]string

	now    func() time.Time
	record func(ctx context.Context, s Step) error
	steps  []Step
}

// NewTask returns a task for job, for running a Runner outside a worker
// (in tests, or a one-off command). Each step, when it ends, is passed to
// record (nil records nothing beyond Task.Steps); a record error fails the
// step. now is the clock (nil means time.Now).
func NewTask(job Job, snapshot string, params map[string]string, now func() time.Time, record func(ctx context.Context, s Step) error) *Task {
	if now == nil {
		now = time.Now
	}
	return &Task{Job: job, Snapshot: snapshot, Params: params, now: now, record: record}
}

// Step runs fn as the step named name and records it: start, end,
// outcome and error. It returns fn's error, or the error of recording the
// step (a worker that lost its lease cannot record, and must stop).
//
// A step whose fn fails after ctx ended is recorded as cancelled; once ctx
// has ended, Step runs nothing and records nothing.
func (t *Task) Step(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	if err := ctx.Err(); err != nil {
		// Stopped between steps: run nothing more.
		return fmt.Errorf("step %s not started: %w", name, context.Cause(ctx))
	}
	s := Step{Name: name, Attempt: t.Job.Attempts, StartedAt: t.now().UTC().Truncate(time.Microsecond)}
	err := fn(ctx)
	s.FinishedAt = t.now().UTC().Truncate(time.Microsecond)
	switch {
	case err == nil:
		s.Outcome = StepSucceeded
	case ctx.Err() != nil:
		s.Outcome = StepCancelled
		s.Error = err.Error()
	default:
		s.Outcome = StepFailed
		s.Error = err.Error()
	}
	t.steps = append(t.steps, s)
	if t.record != nil {
		// Record even when ctx ended, so that a cancelled step is known;
		// a worker that lost its lease is refused by the store anyway.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		rerr := t.record(rctx, s)
		cancel()
		if rerr != nil && err == nil {
			return fmt.Errorf("lifecycle: recording step %s of %s/%s: %w", name, t.Job.BatchID, t.Job.Host, rerr)
		}
	}
	if err != nil {
		return fmt.Errorf("step %s: %w", name, err)
	}
	return nil
}

// Steps returns the steps this task has run so far, in order.
func (t *Task) Steps() []Step { return append([]Step(nil), t.steps...) }

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent: a job failing with it is not retried.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
