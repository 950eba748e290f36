// Package lifecycle runs batches of operations on physical servers: reimage,
// reboot, power on/off/cycle, disk wipe and decommission, over lists of
// hosts, such that two active batches never hold the same host.
//
// # Submitting
//
// [Service.Submit] validates a batch and admits it in one atomic store
// operation, returning its ID at once. There is no rate limit and no global
// lock: the store claims every host of the batch or none (a unique claim
// per host, decided by the database), so any number of submitters, in any
// number of processes sharing one PostgreSQL, never admit two active
// batches holding one host. Before admission, the configured InUseCheckers
// and, on request, a BMC console precheck may refuse hosts.
//
// A rejected submission changes nothing and says exactly why:
//
//	res, err := svc.Submit(ctx, lifecycle.SubmitParams{
//		Owner: "alice", Action: lifecycle.ActionReimage,
//		Hosts: []string{"web001.dc1.example.com", "web002.dc1.example.com"},
//	})
//	var overlap *lifecycle.OverlapError
//	if errors.As(err, &overlap) {
//		for _, c := range overlap.Conflicts {
//			fmt.Println(c.Host, "is held by batch", c.BatchID)
//		}
//	}
//
// # Hosts
//
// Each host moves through an explicit state machine (see [HostState]):
// ready, claimed, in-progress, failed, maintenance, decommissioned. Batches
// claim ready and failed hosts; maintenance and decommissioned hosts are
// refused; a successful decommission retires its host for good. Operators
// move hosts with [Service.SetHostState].
//
// # Queries
//
// [Service.Batch] returns a batch with its per-host jobs;
// [Service.ListBatches] pages through batches by owner, host (history),
// action, state and time; [Service.ActiveByDatacenter] counts active
// operations per datacenter; [Service.Stats] computes success rates and
// runtime percentiles per action and hardware SKU.
//
// # Running batches
//
// Jobs wait in the store's queue ([QueueStore]) until a [Pool] claims
// them: highest priority first, first come first served within a priority,
// ageing so that low priorities never starve ([Batch.QueueAt]). A claim is
// a lease renewed by heartbeats and guarded by a fencing token; a pool
// runs each claimed job through a [Runner] as named steps ([Task.Step]),
// retries failures with backoff ([RetryPolicy]), respects caps per action
// and datacenter over every pool sharing the store ([Limits]), stops jobs
// whose batch was cancelled, rescues the jobs of workers that died, and
// shuts down gracefully. Package lifecycle/actions has the runner of every
// action over BMCs and an OS installer.
//
// # Storage
//
// The Service keeps no state of its own. It works on a [Store]:
// store/memstore (in memory, for tests), store/sqlitestore (the embedded
// default) or store/pgstore (several active nodes). lifecycletest is the
// conformance suite they all pass.
//
// # Errors
//
// Errors wrap sentinels for errors.Is: [ErrInvalidBatch] for malformed
// input, [ErrOverlap] (an [*OverlapError]), [ErrInUse],
// [ErrHostUnavailable] and [ErrConsoleCheck] (each a [*HostsError] listing
// hosts and reasons), [ErrInvalidTransition] for state changes the state
// machines refuse, and store.ErrNotFound for unknown batches.
//
// # Concurrency
//
// A Service is safe for concurrent use, and so is every Store.
package lifecycle
