package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/pgstore"
)

// Two nodes share one database: a batch admitted through one is refused
// through the other while it holds its hosts. (It needs a PostgreSQL
// server, so it is compiled but not run.)
func Example() {
	ctx := context.Background()
	const url = "postgres://fleet@db.example.com/fleet"

	nodeA, err := pgstore.Open(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer nodeA.Close(ctx)
	nodeB, err := pgstore.Open(ctx, url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer nodeB.Close(ctx)

	svcA, _ := lifecycle.New(nodeA, nil)
	svcB, _ := lifecycle.New(nodeB, nil)
	res, err := svcA.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReimage,
		Hosts: []string{"web1.example.com", "web2.example.com"}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("accepted", res.Batch.ID)

	_, err = svcB.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReboot,
		Hosts: []string{"web2.example.com"}})
	fmt.Println(err) // …overlap… web2.example.com (batch …)

	// Background tasks that must run on one node at a time take a lease.
	if l, err := nodeB.Acquire(ctx, "rescue", 30*time.Second); err == nil {
		defer nodeB.Release(ctx, l)
	}
}
