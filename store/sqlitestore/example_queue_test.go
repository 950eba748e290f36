package sqlitestore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
)

// Claim jobs from the queue, record a step, and finish them; a result sent
// under a lease that was lost is refused.
func ExampleStore_ClaimJobs() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fleetkit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	st, err := sqlitestore.Open(ctx, filepath.Join(dir, "fleet.db"), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close(ctx)
	svc, err := lifecycle.New(st, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReboot,
		Hosts: []string{"web1.dc1.example.com", "web2.dc1.example.com"}})
	if err != nil {
		fmt.Println(err)
		return
	}

	now := time.Now()
	claims, err := st.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: "worker-1", Max: 10, At: now,
		LeaseUntil: now.Add(time.Minute), Limits: lifecycle.Limits{Global: 1}})
	if err != nil {
		fmt.Println(err)
		return
	}
	c := claims[0]
	fmt.Println("claimed:", len(claims), c.Job.Host, c.Job.State, "attempt", c.Job.Attempts)
	err = st.RecordStep(ctx, c.Lease, lifecycle.Step{Name: "power-cycle", Attempt: 1, StartedAt: now,
		FinishedAt: time.Now(), Outcome: lifecycle.StepSucceeded})
	if err != nil {
		fmt.Println(err)
		return
	}
	stale := c.Lease
	stale.Token-- // an older lease
	fin, err := st.FinishJobs(ctx, []lifecycle.JobResult{
		{Lease: c.Lease, To: lifecycle.JobSucceeded, At: time.Now()},
		{Lease: stale, To: lifecycle.JobFailed, At: time.Now()},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("finished:", fin[0].State, "refused:", fin[1].Err != nil)
	steps, err := st.JobSteps(ctx, res.Batch.ID, c.Job.Host)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("steps:", steps[0].Name, steps[0].Outcome)
	// Output:
	// claimed: 1 web1.dc1.example.com running attempt 1
	// finished: succeeded refused: true
	// steps: power-cycle succeeded
}
