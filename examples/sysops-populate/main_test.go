package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
)

func populateCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	code, _, stderr := populateCmd(t, "-servers", "127.0.0.1:1")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "nothing to publish")
	code, _, _ = populateCmd(t, "-bogus")
	require.Equal(t, exitUsage, code)
	code, _, stderr = populateCmd(t, "-commands", "x.json")
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "-topology FILE or -servers")
	code, stdout, _ := populateCmd(t, "-help")
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "-min-replicas")
}

func TestPopulateRedis(t *testing.T) {
	addrs := testenv.Redis(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "outgoing")
	require.NoError(t, os.MkdirAll(out, 0o755))
	conf := filepath.Join(dir, "sysctl.conf")
	require.NoError(t, os.WriteFile(conf, []byte("vm.swappiness = 10\n"), 0o644))
	require.NoError(t, os.Symlink(conf, filepath.Join(out, "sysctl.conf")))
	cmds := filepath.Join(dir, "hw.json")
	require.NoError(t, os.WriteFile(cmds, []byte(`{"uname-a": "Linux web1 6.1\n"}`), 0o644))
	ns := fmt.Sprintf("populate-test-%d", time.Now().UnixNano()) // fresh keys on the shared servers, run after run
	servers := strings.Join(addrs[:2], ",") + ",127.0.0.1:1"
	args := []string{"-host", "web1.dc1", "-dir", out, "-commands", cmds, "-servers", servers, "-namespace", ns, "-min-replicas", "2", "-json"}

	code, stdout, stderr := populateCmd(t, args...)
	require.Equal(t, exitOK, code, stderr)
	var rep struct {
		Objects int
		Missed  []string
		Servers []struct {
			Server           string
			Written, Renewed int
			Error            string
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
	require.Equal(t, 2, rep.Objects)
	require.Equal(t, []string{"127.0.0.1:1"}, rep.Missed, "the dead server is reported")
	require.Equal(t, 2, rep.Servers[0].Written)

	code, stdout, _ = populateCmd(t, args[:len(args)-1]...)
	require.Equal(t, exitOK, code)
	require.Contains(t, stdout, "web1.dc1: 2 objects to group servers")
	require.Regexp(t, `(?m)^`+addrs[0]+` +[0-9.]+ms +0 +2 +0 `, stdout, "unchanged objects are renewed")

	code, _, stderr = populateCmd(t, append(args[:len(args)-3], "-min-replicas", "3")...)
	require.Equal(t, exitFailed, code)
	require.Contains(t, stderr, "too few replicas")
	require.Contains(t, stderr, "127.0.0.1:1")
}
