package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/inventory"
)

func TestData(t *testing.T) {
	objs := hostObjects(999, time.Unix(0, 0))
	require.Len(t, objs, 4)
	names := []string{}
	for _, o := range objs {
		names = append(names, o.Name)
		require.NoError(t, inventory.CheckName(o.Name, o.Kind))
	}
	require.Equal(t, []string{"/etc/sysctl.conf", "rpm-qa", "sysctl-a", "uname-a"}, names)
	sys := string(objs[2].Contents)
	require.InDelta(t, 1300, strings.Count(sys, "\n"), 10, "sysctl -a has about 1,300 lines")
	require.Equal(t, 800, strings.Count(string(objs[1].Contents), "\n"))
	require.Contains(t, sys, "net.core.netdev_budget = 600\n", "host 999 is one of the odd ones")
	require.Contains(t, string(hostObjects(1, time.Unix(0, 0))[2].Contents), "net.core.netdev_budget = 300\n")
	require.NotEqual(t, objs[2].MD5, hostObjects(998, time.Unix(0, 0))[2].MD5, "no two hosts alike")
}

// TestBenchSmall runs the whole bench on 60 hosts against four
// redis-server it starts, so the figures it prints come from a run that
// checked every answer.
func TestBenchSmall(t *testing.T) {
	testenv.Redis(t) // runs where the test script provides redis-server
	testenv.Tool(t, "redis-server", "redis-server")
	testenv.Tool(t, "bzip2", "bzip2")
	bin := filepath.Join(t.TempDir(), "sysops-extract")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/fleetkit/fleetkit/examples/sysops-extract").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-hosts", "60", "-runs", "1", "-legacy-variants", "4", "-extract-bin", bin}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	for _, want := range []string{"sysops-bench: 60 hosts", "publish, fleetkit format", "grep --count, fleetkit format", "list keys, sysops-api format (--legacy)"} {
		require.Contains(t, stdout.String(), want)
	}
}
