package sqlitestore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/sqlitestore"
)

// Open a database file by URL through store.Open, submit batches and take
// a lease.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fleetkit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	st, backend, err := lifecycle.OpenStore(ctx, "sqlite://"+filepath.Join(dir, "fleet.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer backend.Close(ctx)
	svc, err := lifecycle.New(st, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReimage,
		Hosts: []string{"web1.dc1.example.com", "web2.dc1.example.com"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted:", res.Batch.State, len(res.Batch.Jobs), "jobs")

	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReboot,
		Hosts: []string{"web2.dc1.example.com", "web3.dc1.example.com"}})
	var overlap *lifecycle.OverlapError
	if errors.As(err, &overlap) {
		fmt.Println("rejected: overlap on", overlap.Conflicts[0].Host)
	}

	lease, err := backend.Acquire(ctx, "rescue", time.Minute)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = backend.Acquire(ctx, "rescue", time.Minute)
	fmt.Println("lease", lease.Token, "held:", errors.Is(err, store.ErrLocked))
	// Output:
	// accepted: pending 2 jobs
	// rejected: overlap on web2.dc1.example.com
	// lease 1 held: true
}

// New takes a *sql.DB the caller opened, with the DSN Open would use.
func ExampleNew() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fleetkit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite", sqlitestore.DSN(filepath.Join(dir, "fleet.db"), 5*time.Second))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	st, err := sqlitestore.New(ctx, db, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close(ctx) // leaves db open

	h, err := st.SetHostState(ctx, lifecycle.HostTransition{Host: "db1.dc2.example.com",
		To: lifecycle.HostMaintenance, Reason: "disk swap", At: time.Now()})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Name, h.State, h.Reason)
	// Output:
	// db1.dc2.example.com maintenance disk swap
}
