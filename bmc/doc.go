// Package bmc is one interface over server baseboard management
// controllers: power state and actions, a one-time boot device that is
// verified by reading it back, and a remote-console health check.
//
// A [Driver] speaks one protocol to one host's BMC: bmc/redfishbmc
// (Redfish, through gofish), bmc/ipmibmc (IPMI over LAN) and bmc/fakebmc
// (a simulated BMC, in process or served over HTTP as a Redfish endpoint).
// bmc/bmctest is the conformance suite every driver passes.
//
// Power actions are typed ([PowerAction]) and decided the same way by every
// driver with [CheckPowerAction]: asking for the state a system is already
// in is a no-op, and an action that makes no sense (cycle while off) fails
// with [ErrInvalidPowerAction] rather than being silently "done".
//
// Optional capabilities (virtual media, BMC reset, system event log) are
// separate interfaces found by type assertion; the helper functions
// [InsertMedia], [ResetBMC] and [EventLog] return [ErrUnsupported] when a
// driver lacks one.
//
// # Errors
//
// Drivers wrap the sentinels of this package: [ErrAuth] and [ErrNotFound]
// (permanent, never retried), [ErrInvalidPowerAction], [ErrBootNotApplied],
// [ErrUnsupported], [ErrNotOpen]; [IsTransient] says which failures are
// worth retrying. Credentials never appear in errors, logs or String().
//
// # Concurrency
//
// A Driver holds one session and is used by one goroutine at a time unless
// its documentation says otherwise. The types of this package that manage
// many drivers are safe for concurrent use.
package bmc
