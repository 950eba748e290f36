package memstore_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/memstore"
)

// The in-memory store is the fake for tests of code built on lifecycle: it
// keeps the same contract as the SQLite and PostgreSQL stores.
func ExampleNew() {
	ctx := context.Background()
	st := memstore.New(nil)
	svc, _ := lifecycle.New(st, nil)

	res, _ := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "ci", Action: lifecycle.ActionReboot,
		Hosts: []string{"test01.example.com"}})
	_, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "ci", Action: lifecycle.ActionPowerOff,
		Hosts: []string{"test01.example.com"}})
	fmt.Println(errors.Is(err, lifecycle.ErrOverlap))

	// Drive a job as a worker would.
	j, _ := st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: res.Batch.ID, Host: "test01.example.com",
		From: lifecycle.JobPending, To: lifecycle.JobRunning})
	fmt.Println(j.State, j.Attempts)
	_, _ = st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: res.Batch.ID, Host: "test01.example.com",
		From: lifecycle.JobRunning, To: lifecycle.JobSucceeded})
	b, _ := svc.Batch(ctx, res.Batch.ID)
	fmt.Println(b.State)
	// Output:
	// true
	// running 1
	// succeeded
}
