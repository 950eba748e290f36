package lifecycle_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func ExampleService_Submit() {
	ctx := context.Background()
	svc, _ := lifecycle.New(memstore.New(nil), nil)

	res, err := svc.Submit(ctx, lifecycle.SubmitParams{
		Owner:    "alice",
		Action:   lifecycle.ActionReimage,
		Hosts:    []string{"WEB001.dc1.example.com", "web002.dc1.example.com"},
		Snapshot: "rhel9-2026.11",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b := res.Batch
	fmt.Println(b.Action, b.State, b.Hosts, b.Priority)

	// A second batch touching a held host is refused, naming host and batch.
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{
		Owner: "bob", Action: lifecycle.ActionReboot,
		Hosts: []string{"web002.dc1.example.com", "web003.dc1.example.com"},
	})
	var overlap *lifecycle.OverlapError
	if errors.As(err, &overlap) {
		c := overlap.Conflicts[0]
		fmt.Println(errors.Is(err, lifecycle.ErrOverlap), c.Host, c.BatchID == b.ID)
	}
	// Output:
	// reimage pending [web001.dc1.example.com web002.dc1.example.com] 100
	// true web002.dc1.example.com true
}

func ExampleService_Cancel() {
	ctx := context.Background()
	events := &fleetkit.Recorder{}
	svc, _ := lifecycle.New(memstore.New(nil), &lifecycle.Config{Notifier: events})
	res, _ := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionPowerOff,
		Hosts: []string{"db001.example.com", "db002.example.com"}})

	b, _ := svc.Cancel(ctx, res.Batch.ID)
	fmt.Println(b.State, b.Counts.Cancelled)
	b, _ = svc.Cancel(ctx, res.Batch.ID) // twice is fine
	fmt.Println(b.State)
	fmt.Println(events.Kinds())

	h, _ := svc.Host(ctx, "db001.example.com")
	fmt.Println(h.State)
	// Output:
	// cancelled 2
	// cancelled
	// [batch.accepted batch.cancelled]
	// ready
}

func ExampleService_SetHostState() {
	ctx := context.Background()
	svc, _ := lifecycle.New(memstore.New(nil), nil)
	_, _ = svc.SetHostState(ctx, lifecycle.HostTransition{
		Host: "web001.example.com", To: lifecycle.HostMaintenance, Reason: "PSU replacement"})

	_, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReboot,
		Hosts: []string{"web001.example.com"}})
	fmt.Println(errors.Is(err, lifecycle.ErrHostUnavailable))
	var he *lifecycle.HostsError
	if errors.As(err, &he) {
		fmt.Println(he.Problems[0].Host, "-", he.Problems[0].Reason)
	}
	// Output:
	// true
	// web001.example.com - in maintenance: PSU replacement
}

func ExampleInUseFunc() {
	ctx := context.Background()
	allocated := map[string]string{"cache07.example.com": "allocated to team search"}
	inUse := lifecycle.InUseFunc(func(_ context.Context, hosts []string) ([]lifecycle.HostProblem, error) {
		var out []lifecycle.HostProblem
		for _, h := range hosts {
			if why, ok := allocated[h]; ok {
				out = append(out, lifecycle.HostProblem{Host: h, Reason: why, Source: "allocator"})
			}
		}
		return out, nil
	})
	svc, _ := lifecycle.New(memstore.New(nil), &lifecycle.Config{InUse: []lifecycle.InUseChecker{inUse}})
	_, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionWipeDisks,
		Hosts: []string{"cache06.example.com", "cache07.example.com"}})
	fmt.Println(err)
	// Output:
	// lifecycle: submit: hosts in use: 1 host(s): cache07.example.com (allocated to team search; allocator)
}

func ExampleService_ListBatches() {
	ctx := context.Background()
	svc, _ := lifecycle.New(memstore.New(nil), nil)
	for _, h := range []string{"a.example.com", "b.example.com", "c.example.com"} {
		_, _ = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReboot, Hosts: []string{h}})
	}
	// Page through alice's batches two at a time, newest first.
	f := lifecycle.BatchFilter{Owner: "alice", Limit: 2}
	for {
		page, err := svc.ListBatches(ctx, f)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, b := range page.Batches {
			fmt.Println(b.Hosts[0])
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	// Output:
	// c.example.com
	// b.example.com
	// a.example.com
}
