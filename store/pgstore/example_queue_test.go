package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/pgstore"
)

// A worker on any node claims jobs under a cap that holds across every
// node sharing the database, and finishes them under its leases. (It needs
// a PostgreSQL server, so it is compiled but not run.)
func ExampleStore_ClaimJobs() {
	ctx := context.Background()
	st, err := pgstore.Open(ctx, "postgres://fleet@db.example.com/fleet", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close(ctx)

	now := time.Now()
	claims, err := st.ClaimJobs(ctx, lifecycle.ClaimRequest{Worker: "node1-w1", Max: 16, At: now,
		LeaseUntil: now.Add(30 * time.Second),
		Limits:     lifecycle.Limits{PerDatacenterAction: map[lifecycle.Action]int{lifecycle.ActionReimage: 250}}})
	if err != nil {
		log.Fatal(err)
	}
	results := make([]lifecycle.JobResult, len(claims))
	for i, c := range claims {
		// … run the job's steps, heartbeating c.Lease …
		results[i] = lifecycle.JobResult{Lease: c.Lease, To: lifecycle.JobSucceeded, At: time.Now()}
	}
	fin, err := st.FinishJobs(ctx, results)
	if err != nil {
		log.Fatal(err)
	}
	for i, f := range fin {
		if f.Err != nil {
			fmt.Println(claims[i].Job.Host, f.Err) // the lease was lost: another worker took the job over
		}
	}
}
