package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSimulation(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-hosts", "60", "-batches", "3", "-cap", "10",
		"-min-latency", "1ms", "-max-latency", "3ms"}, &out, &errs)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errs.String(), out.String())
	s := out.String()
	require.Contains(t, s, "60 succeeded, 0 failed")
	require.Contains(t, s, "overlapping pairs on one host: 0")
	require.Contains(t, s, "wall/ideal")
}

func TestReimageSimulation(t *testing.T) {
	var out, errs bytes.Buffer
	code := run(context.Background(), []string{"-hosts", "20", "-batches", "2", "-cap", "5", "-action", "reimage",
		"-deploy", "5ms", "-min-latency", "1ms", "-max-latency", "2ms"}, &out, &errs)
	require.Equal(t, 0, code, "stderr: %s\nstdout: %s", errs.String(), out.String())
	require.Contains(t, out.String(), "20 succeeded, 0 failed")
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"-batches", "0"}, {"-cap", "0"}, {"-action", "wipe"}, {"-min-latency", "2s", "-max-latency", "1s"}, {"extra"}} {
		var out, errs bytes.Buffer
		require.Equal(t, 2, run(context.Background(), args, &out, &errs), "%q", args)
		require.True(t, strings.HasPrefix(errs.String(), "fleetsim:") || strings.Contains(errs.String(), "flag"), errs.String())
		require.Empty(t, out.String())
	}
}
