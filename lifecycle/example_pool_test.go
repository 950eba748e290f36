package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func ExamplePool() {
	ctx := context.Background()
	st := memstore.New(nil)
	svc, _ := lifecycle.New(st, nil)
	res, _ := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReboot,
		Hosts: []string{"web001.example.com", "web002.example.com"}})

	// A runner does each job as named steps; lifecycle/actions has the
	// real ones, over BMCs and an OS installer.
	runner := lifecycle.RunnerFunc(func(ctx context.Context, t *lifecycle.Task) error {
		if err := t.Step(ctx, "reboot", func(context.Context) error { return nil }); err != nil {
			return err
		}
		return t.Step(ctx, "confirm-on", func(context.Context) error {
			if t.Job.Host == "web002.example.com" {
				return lifecycle.Permanent(errors.New("BMC refused the credentials"))
			}
			return nil
		})
	})
	events := &fleetkit.Recorder{}
	pool, _ := lifecycle.NewPool(st, &lifecycle.PoolConfig{Runner: runner, Concurrency: 4,
		PollInterval: 10 * time.Millisecond, Notifier: events})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- pool.Run(runCtx) }()

	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	finished, _ := events.WaitFor(wait, lifecycle.EventBatchFinished, 1)
	stop()
	<-done

	fmt.Println(finished[0].Subject == res.Batch.ID, finished[0].Attrs["state"])
	fmt.Println("succeeded:", finished[0].Attrs["succeeded"])
	triage, _ := events.WaitFor(wait, lifecycle.EventJobTriage, 1)
	fmt.Println("triage:", triage[0].Subject, "at step", triage[0].Attrs["step"])
	steps, _ := st.JobSteps(ctx, res.Batch.ID, "web002.example.com")
	for _, s := range steps {
		fmt.Printf("%s %s %q\n", s.Name, s.Outcome, s.Error)
	}
	// Output:
	// true partially-failed
	// succeeded: web001.example.com
	// triage: web002.example.com at step confirm-on
	// reboot succeeded ""
	// confirm-on failed "BMC refused the credentials"
}
