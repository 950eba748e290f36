package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDemo runs the README's demo on the embedded defaults and checks that
// each part of the story happened.
func TestDemo(t *testing.T) {
	var buf bytes.Buffer
	old := out
	out = &buf
	t.Cleanup(func() { out = old })
	require.NoError(t, run(context.Background(), "", false))
	got := buf.String()
	for _, want := range []string{
		"store sqlite://",
		"kind=batch.accepted",
		"rejected: web003.dc1.example.com is held by batch",
		"nothing changed: web005.dc1.example.com is still ready",
		"hosts in use: 1 host(s): web012.dc1.example.com",
		"web014.dc1.example.com (in maintenance: fan replacement",
		"without web016.dc1.example.com (bmc: web016.dc1.example.com: remote console unusable: console service disabled",
		"power-cycled (or powered on) 20/20 hosts of dc1 over Redfish, 8 at a time: 20 on again, 0 failed",
		"cycle while off is refused, not silently done: true",
		"web002.dc1.example.com: redfish did not open (",
		"power-state on web002.dc1.example.com: fake answered",
		"sessions left open on the BMCs: 0",
		"none twice",
		"kind=batch.cancelled",
		"is now accepted as",
		"kind=job.triage subject=web009.dc1.example.com",
		"attrs.step=set-pxe-boot",
		"boot override not applied",
		"(reboot): succeeded, 4 succeeded, 0 failed",
		"(reimage): partially-failed, 3 succeeded, 1 failed",
		"web007.dc1.example.com now runs rhel9-2026.11",
		"attempt 2  set-pxe-boot    failed",
		"reboot        all SKUs",
		"reimage step set-pxe-boot      runs 5  failed 2",
		"== 10. OS snapshots: build from a yum repository, seal, verify, diff",
		"repository of 5 rpms (kernel in two versions) → snapshot rhel9-2026.11: 4 packages, sealed with key snap-2026",
		"verify full: OK, 4 blobs checked",
		"rhel9-2026.12 (parent rhel9-2026.11) vs its parent: 0 added, 0 removed, 1 upgraded (openssl 1:3.0.7-27.el9 → 1:3.0.7-28.el9)",
		"one byte of bash's blob flipped on disk; verify quick: OK, 5 blobs checked",
		"verify full: 2 problem(s): corrupt bash-5.1.8-9.el9.x86_64 in rhel9-2026.11; corrupt bash-5.1.8-9.el9.x86_64 in rhel9-2026.12",
		"openssl's EVR edited in the sealed manifest; verify: 1 problem(s): tampered-manifest rhel9-2026.12",
		"== 11. The snapshot catalogue",
		"registered and sealed rhel9-2026.12: 3 packages",
		"release without a boot test is refused:",
		"boot test of rhel9-2026.11 on 2 canaries (batch",
		"): validated",
		"): validation-failed",
		"canary web009.dc1.example.com failed at actions: reimage",
		"released rhel9-2026.12",
		"monitor: full check of 2 snapshot(s): 0 problem(s), 0 drifted package(s)",
		"kind=snapshot.drift subject=rhel9-2026.12",
		"1 drifted package(s)",
		"purge: deprecated [rhel9-2026.11], purged []",
		"purged [rhel9-2026.11], 1 blob(s) deleted, 113 bytes reclaimed",
		"deprecated        → purged            by retention",
		"== 12. The fleet state cache",
		"web01.dc1 published sysctl-a to 2 of 2 replicas",
		"     18 net.core.netdev_budget = 300  [web01.dc1 web02.dc1 … 18 hosts]",
		"      2 net.core.netdev_budget = 600  [web07.dc1 web14.dc1]",
		"demo complete",
	} {
		require.Contains(t, got, want)
	}
}
