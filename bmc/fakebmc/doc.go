// Package fakebmc simulates baseboard management controllers, for tests
// and demos of everything built on package bmc.
//
// A [BMC] is one system's simulated controller: a power state machine
// (actions decided by [bmc.CheckPowerAction], with an optional transition
// time during which it reports powering-on or powering-off), a one-time
// boot override consumed by the next boot ([BMC.LastBoot] records the boot
// that actually happened), a remote console that can be disabled or
// silent, a system event log, virtual media, and sessions.
//
// Tests steer it: [BMC.FailNext] and Options.FailureRate inject failures,
// [BMC.SetReachable] cuts it off the network, [BMC.SetRevertBootOverride]
// makes it accept boot overrides and silently drop them, as some firmware
// does. It records every operation with its start and end ([BMC.Ops]) and
// every pair of operations that ran at the same time ([BMC.Overlaps]), so a
// test can assert that a fleet never ran two operations on one host at
// once.
//
// There are two ways to reach a BMC:
//
//   - in process: [BMC.Driver] and [NewDriver] return a [bmc.Driver] named
//     "fake" with every optional capability, which passes the bmc/bmctest
//     conformance suite;
//   - over HTTP: a [Server] serves any number of BMCs as one Redfish
//     service that the gofish client, and so bmc/redfishbmc, can drive,
//     on plain HTTP or TLS on a loopback port.
//
// # Errors
//
// The in-process driver wraps the sentinels of package bmc: [bmc.ErrAuth]
// for wrong credentials, [bmc.ErrNotOpen] before Open and after Close,
// [bmc.ErrInvalidPowerAction], [bmc.ErrInvalidArgument],
// [bmc.ErrBootNotApplied]. Injected failures are [ErrInjected] and an
// unreachable BMC fails with [ErrUnreachable], both marked transient with
// [bmc.Transient]; the driver retries them (Options.Retry) like a real
// driver retries a 503. Errors name the operation and the host, never a
// password.
//
// # Concurrency
//
// [BMC] and [Server] are safe for concurrent use. A driver is, like every
// bmc.Driver, meant for one goroutine at a time, but it is safe for
// concurrent use too, so that tests can provoke and detect overlapping
// operations. A BMC holds its lock only to change or read its state, never
// while it waits its latency, so operations on one BMC can overlap (and are
// then reported by Overlaps) and operations on different BMCs never wait
// for each other.
package fakebmc
