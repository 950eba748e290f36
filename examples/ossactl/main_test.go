package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// cli runs ossactl commands in one directory (store, blobs, keys), and
// keeps everything they printed.
type cli struct {
	t       *testing.T
	dir     string
	printed strings.Builder
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errs bytes.Buffer
	global := []string{"-store", "sqlite://" + filepath.Join(c.dir, "ossa.db"), "-blobs", filepath.Join(c.dir, "blobs"),
		"-keys", filepath.Join(c.dir, "keys.json"), "-as", "tester"}
	code = run(context.Background(), append(global, args...), &out, &errs)
	c.printed.WriteString(out.String())
	c.printed.WriteString(errs.String())
	return code, out.String(), errs.String()
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	require.Equal(c.t, 0, code, "ossactl %q\nstdout: %s\nstderr: %s", args, out, errs)
	return out
}

// TestLife runs the whole life of two snapshots of a repository that
// rpmbuild and createrepo_c made: build, list, show, diff, verify,
// boot-test, release, roll forward, deprecate, purge.
func TestLife(t *testing.T) {
	testenv.Tool(t, "rpmbuild", "rpm")
	testenv.Tool(t, "createrepo_c", "createrepo-c")
	ctx := context.Background()
	c := &cli{t: t, dir: t.TempDir()}
	repo := filepath.Join(c.dir, "repo")
	_, err := yumrepotest.WriteSampleRepo(ctx, repo, yumrepotest.Compression("xz"))
	require.NoError(t, err)

	c.ok("keygen", "-out", filepath.Join(c.dir, "keys.json"), "-id", "ossa-2026")
	keysJSON, err := os.ReadFile(filepath.Join(c.dir, "keys.json"))
	require.NoError(t, err)
	var keys struct{ Keys map[string]string }
	require.NoError(t, json.Unmarshal(keysJSON, &keys))
	secret := keys.Keys["ossa-2026"]
	require.Len(t, secret, 44, "a 32-byte key in base64")
	fi, err := os.Stat(filepath.Join(c.dir, "keys.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	out := c.ok("build", "-id", "el9-a", "-os-release", "rhel-9", "-arch", "x86_64", "-repo", repo)
	require.Contains(t, out, "snapshot el9-a: 7 packages, 0 boot files")
	require.Contains(t, out, "sealed with key ossa-2026")

	// Upstream publishes a newer build of one package.
	_, err = yumrepotest.BuildRPMs(ctx, filepath.Join(repo, "Packages"), []yumrepotest.RPM{{Name: "fx-single", EVR: "0.2-1"}})
	require.NoError(t, err)
	require.NoError(t, yumrepotest.Createrepo(ctx, repo, yumrepotest.Compression("gz")))
	c.ok("build", "-id", "el9-b", "-os-release", "rhel-9", "-repo", repo, "-parent", "el9-a")

	out = c.ok("list")
	require.Contains(t, out, "el9-a")
	require.Contains(t, out, "el9-b")
	require.Contains(t, out, "sealed")
	out = c.ok("show", "el9-b")
	require.Contains(t, out, "parent el9-a")
	require.Contains(t, out, "fx-caret-3.0^20240102git2-1.noarch")
	require.Contains(t, out, "building → sealed  by tester")
	out = c.ok("diff", "el9-a", "el9-b")
	require.Contains(t, out, "↑ fx-single.noarch 0.1-1 → 0.2-1")
	out = c.ok("verify", "-full")
	require.Contains(t, out, "verified 2 snapshot(s), 8 blobs (full")
	require.Contains(t, out, ": 0 problem(s)")

	// Nothing is released without a boot test.
	code, _, errs := c.run("release", "el9-a")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "invalid snapshot state transition")
	out = c.ok("validate", "el9-a", "-canaries", "canary1.dc1.example.com,canary2.dc1.example.com", "-simulate")
	require.Contains(t, out, "snapshot el9-a is validated")
	c.ok("release", "el9-a")
	c.ok("validate", "el9-b", "-canaries", "canary1.dc1.example.com", "-simulate")
	c.ok("release", "el9-b", "-reason", "fx-single 0.2")
	c.ok("pin", "el9-b")

	// Retention: keep one released snapshot; el9-a is deprecated, then
	// purged, and only the blob el9-b does not share is reclaimed.
	out = c.ok("purge", "-keep", "1")
	require.Contains(t, out, "deprecate el9-a")
	require.Contains(t, out, "dry run")
	out = c.ok("purge", "-keep", "1", "-apply")
	require.Contains(t, out, "deprecated 1, purged 0")
	out = c.ok("purge", "-keep", "1", "-deprecated-ttl", "1ns", "-blob-grace", "1ns", "-apply")
	require.Contains(t, out, "purged 1")
	require.Contains(t, out, "deleted 1 blobs")
	out = c.ok("verify", "-full")
	require.Contains(t, out, "verified 1 snapshot(s), 7 blobs")
	out = c.ok("list", "-state", "purged")
	require.Contains(t, out, "el9-a")
	c.ok("show", "el9-b", "-json")
	require.NotContains(t, c.printed.String(), secret, "the key is never printed")
}

func TestUsage(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()}
	for _, args := range [][]string{
		{}, {"nope"}, {"build", "-id", "x"}, {"show"}, {"diff", "a"}, {"keygen"},
		{"build", "-id", "x", "-os-release", "r", "-repo", "p,priority=x"},
	} {
		code, _, errs := c.run(args...)
		require.Equal(t, 2, code, "%q: %s", args, errs)
	}
	code, _, errs := c.run("show", "missing")
	require.Equal(t, 1, code)
	require.True(t, strings.Contains(errs, "not found"), errs)
}

func TestBrokenKeyFileIsNotQuoted(t *testing.T) {
	c := &cli{t: t, dir: t.TempDir()}
	secret := `{"current": "k", "keys": {"k": "c2VjcmV0LXNlY3JldC1zZWNyZXQ=`
	require.NoError(t, os.WriteFile(filepath.Join(c.dir, "keys.json"), []byte(secret), 0o600))
	code, out, errs := c.run("verify")
	require.Equal(t, 1, code)
	require.NotContains(t, out+errs, "c2VjcmV0")
	require.Contains(t, errs, "key ring")
}
