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
		"power-cycled 20/20 hosts of dc1 over Redfish, 8 at a time: 20 on again, 0 failed",
		"cycle while off is refused, not silently done: true",
		"web002.dc1.example.com: redfish did not open (",
		"power-state on web002.dc1.example.com: fake answered",
		"sessions left open on the BMCs: 0",
		"none twice",
		"kind=batch.cancelled",
		"is now accepted as",
		"reboot        all SKUs",
		"== 9. OS snapshots: build from a yum repository, seal, verify, diff",
		"repository of 5 rpms (kernel in two versions) → snapshot rhel9-2026.11: 4 packages, sealed with key snap-2026",
		"verify full: OK, 4 blobs checked",
		"rhel9-2026.12 (parent rhel9-2026.11) vs its parent: 0 added, 0 removed, 1 upgraded (openssl 1:3.0.7-27.el9 → 1:3.0.7-28.el9)",
		"one byte of bash's blob flipped on disk; verify quick: OK, 5 blobs checked",
		"verify full: 2 problem(s): corrupt bash-5.1.8-9.el9.x86_64 in rhel9-2026.11; corrupt bash-5.1.8-9.el9.x86_64 in rhel9-2026.12",
		"openssl's EVR edited in the sealed manifest; verify: 1 problem(s): tampered-manifest rhel9-2026.12",
		"demo complete",
	} {
		require.Contains(t, got, want)
	}
}
