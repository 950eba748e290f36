package main

import (
	"bytes"
	"fmt"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the command, small, in every layout and client mode, so it
// keeps working: every host verified, no session left open, the figures
// printed.
func TestRun(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"-op", "status", "-shared-client=false"},
		{"-endpoints", "shared", "-basic-auth"},
		{"-endpoints", "shared", "-shared-client=false", "-hosts", "5"},
		{"-endpoints", "per-host"},
		{"-endpoints", "per-host", "-op", "status", "-shared-client=false"},
		{"-endpoints", "per-host", "-basic-auth", "-hosts", "5"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			args := append([]string{"-systems", "20", "-latency", "1ms", "-concurrency", "8"}, args...)
			code := run(t.Context(), args, &stdout, &stderr)
			out := stdout.String()
			require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
			for _, want := range []string{
				"wall time",
				"ideal              latency × waiting-requests-per-host × hosts / concurrency = 1ms × ",
				"lower bound        per-host-operation lower bound, one latency per host: latency × hosts / concurrency = 1ms × ",
				"failures           0 of ",
				"0 sessions left open",
				"peak heap in use",
				"CPU time",
			} {
				require.Contains(t, out, want)
			}
			m := regexp.MustCompile(`verified +(\d+) of (\d+) systems`).FindStringSubmatch(out)
			require.NotNil(t, m, out)
			require.Equal(t, m[2], m[1], "every host verified")
		})
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-op", "dance"},
		{"-endpoints", "cloud"},
		{"-endpoints", "shared-direct"},
		{"-systems", "0"},
		{"-systems", "3", "-hosts", "4"},
		{"-nope"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 2, run(t.Context(), args, &stdout, &stderr), "%v", args)
		require.NotEmpty(t, stderr.String(), "%v", args)
	}
}
