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
		"without web016.dc1.example.com",
		"none twice",
		"kind=batch.cancelled",
		"is now accepted as",
		"reboot        all SKUs",
		"demo complete",
	} {
		require.Contains(t, got, want)
	}
}
