// Package fleetkit is an embeddable SDK for running fleets of physical servers.
//
// fleetkit gives a Go service four capabilities, each in its own package:
//
//   - lifecycle: batches of destructive operations (reimage, reboot, power,
//     disk wipe, decommission) that never collide on a host. Submission is
//     atomic and unthrottled; overlap is decided by the store.
//   - snapshot: immutable OS snapshots whose integrity is provable.
//   - inventory: a fleet-wide state cache that answers questions about tens of
//     thousands of machines in seconds.
//   - bmc: one interface over server baseboard management controllers.
//
// This root package holds the small vocabulary they share: [Event] and the
// [Notifier] interface with its reference notifiers ([LogNotifier],
// [WebhookNotifier], [FanOut] and the [Recorder] fake), and the hostname rules
// ([NormalizeHostname]) applied wherever a host enters the system.
//
// Storage backends live under store/ and are chosen by URL with store.Open:
// sqlite:///path/fleet.db (the embedded default), postgres://… (several
// active nodes on one database) and memory:// (the in-memory fake).
//
// # Concurrency
//
// Every type in this package is safe for concurrent use unless its
// documentation says otherwise.
package fleetkit
