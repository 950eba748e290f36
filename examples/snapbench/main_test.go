package main

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchMade != nil {
		benchMade.close()
	}
	os.Exit(code)
}

// TestRun runs the command, small, so it keeps working: every method's
// line, the ratios and no error.
func TestRun(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "openssl", "openssl")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-size", "4MiB", "-blobs", "16", "-rounds", "2", "-dir", t.TempDir()}, &stdout, &stderr)
	out := stdout.String()
	require.Equal(t, 0, code, "stdout:\n%s\nstderr:\n%s", out, stderr.String())
	require.Contains(t, stderr.String(), "wrote 16 blobs, 4.0 MiB")
	require.Contains(t, out, "full verification of 16 blobs, 4.0 MiB (4194304 bytes)")
	for _, m := range []string{"openssl×1", "verify×1", "openssl×2", "verify×2", "sha256×1"} {
		require.Regexp(t, "(?m)^  "+m+` +\d+\.\d+ \d+\.\d+ +\d+\.\d+ +\d+\.\d+ +\d+\.\d+$`, out)
	}
	require.Contains(t, out, "verify×1 / openssl×1 = ")
	require.Contains(t, out, "per CPU-second")
}

// TestRunUsage checks that bad flags are usage errors.
func TestRunUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-blobs", "1"}, {"-size", "0"}, {"-size", "3XB"}, {"-rounds", "0"}, {"extra"}, {"-size", "10", "-blobs", "20"},
	} {
		t.Run(fmt.Sprint(args), func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			require.Equal(t, 2, run(t.Context(), args, &stdout, &stderr))
			require.NotEmpty(t, stderr.String())
			require.Empty(t, stdout.String())
		})
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 1, run(t.Context(), []string{"-size", "1MiB", "-blobs", "2", "-openssl", "/nonexistent/openssl", "-dir", t.TempDir()}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "openssl")
}
