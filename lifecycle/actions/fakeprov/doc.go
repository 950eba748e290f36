// Package fakeprov is an in-memory actions.Provisioner: a simulated OS
// installer for tests, demos and fleet simulations of the lifecycle
// actions.
//
// A [Provisioner] arms an operation (deploy a snapshot, wipe the disks)
// for a host with Prepare, and starts it when the host network-boots:
// Options.Booted tells it when a host last booted from the network (wire
// it to simulated BMCs with [PXEBoots]); without it an operation starts
// as soon as it is prepared. An operation then runs for a random time
// between Options.MinDuration and MaxDuration, drawn from a source seeded
// by Options.Seed, and ends done or failed: Options.FailureRate and
// PermanentFailureRate draw failures, [Provisioner.FailNext] forces them.
// Calls take Options.CallLatency and may fail by Options.CallFailureRate or
// [Provisioner.FailNextCalls].
//
// Time is lazy: states advance when they are read, from Options.Now, so a
// test with a fake clock decides when an operation ends; no goroutine
// runs in the background.
//
// Every call is recorded with its start, end and error ([Provisioner.Calls],
// [Provisioner.CallsFor]); [Provisioner.Installed] says what each host runs
// now, and [Provisioner.Finished] how many operations ended on it.
//
// # Errors
//
// Prepare, Status and Release wrap the sentinels of package actions:
// actions.ErrInvalidRequest, actions.ErrUnknownHost (a host outside
// Options.Hosts), actions.ErrUnknownSnapshot (a snapshot outside
// Options.Snapshots). Injected call failures wrap [ErrInjected], which is
// not permanent, so workers retry it. A call whose ctx ends fails with an
// error wrapping ctx.Err() and changes nothing.
//
// # Concurrency
//
// A Provisioner is safe for concurrent use. It holds its lock only to read
// or change state, never while a call waits its latency.
package fakeprov
