// Package provisionertest is the conformance suite every
// actions.Provisioner passes.
//
// A provisioner's tests implement a Harness whose Setup returns a fresh
// provisioner with hosts and a snapshot it knows, and a way to make a host
// network-boot (a simulated BMC's PXE boot, a call into a test
// installer), then call Run:
//
//	func TestConformance(t *testing.T) { provisionertest.Run(t, harness{}) }
//
// Run checks the contract documented on actions.Provisioner with
// errors.Is: nothing prepared reads StateNone; a prepared operation stays
// pending until the host boots, then runs and ends done; preparing again
// re-arms, and preparing another operation replaces the last; malformed
// requests fail with actions.ErrInvalidRequest and change nothing; unknown
// hosts and snapshots fail with actions.ErrUnknownHost and
// actions.ErrUnknownSnapshot (when the harness names some); Release
// forgets a host and is safe to repeat; a call whose ctx is done fails with
// ctx's error and changes nothing; many hosts can be worked at once.
//
// # Concurrency
//
// Run calls t.Parallel in every subtest: Setup must be safe for
// concurrent use and return a provisioner of its own each time.
package provisionertest
