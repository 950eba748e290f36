package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/internal/testenv"
)

// fakeEnv is a fakebmc Redfish service over TLS with systems host0001…,
// and the files bmcctl needs to reach it.
type fakeEnv struct {
	srv    *fakebmc.Server
	bmcs   map[string]*fakebmc.BMC
	hosts  []string
	dir    string
	caFile string
	pwFile string
}

// newFake serves n systems, powered on unless configure says otherwise.
func newFake(t *testing.T, n int, configure func(host string, o *fakebmc.Options)) *fakeEnv {
	t.Helper()
	e := &fakeEnv{srv: fakebmc.NewServer(nil), bmcs: make(map[string]*fakebmc.BMC), dir: t.TempDir()}
	for i := 1; i <= n; i++ {
		host := fakeHostName(i, n)
		o := &fakebmc.Options{InitialPower: bmc.PowerOn}
		if configure != nil {
			configure(host, o)
		}
		e.bmcs[host] = fakebmc.New(o)
		e.hosts = append(e.hosts, host)
		e.srv.AddSystem(host, e.bmcs[host])
	}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.caFile = e.write(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.srv.Certificate().Raw})))
	e.pwFile = e.write(t, "password", fakebmc.DefaultPassword+"\n")
	return e
}

// write writes a file of the test, readable by its owner only.
func (e *fakeEnv) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// args are the flags reaching the fake as admin, then extra.
func (e *fakeEnv) args(extra ...string) []string {
	return append([]string{"-redfish", e.srv.URL(), "-ca", e.caFile, "-user", fakebmc.DefaultUsername, "-password-file", e.pwFile}, extra...)
}

// bmcctl runs the command with an empty environment.
func bmcctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return bmcctlEnv(t, nil, args...)
}

func bmcctlEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runEnv(t.Context(), args, &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

// row matches a table row: the host, then its cells separated by runs of
// spaces.
func row(cells ...string) *regexp.Regexp {
	for i, c := range cells {
		cells[i] = regexp.QuoteMeta(c)
	}
	return regexp.MustCompile(`(?m)^` + strings.Join(cells, ` +`) + `\b`)
}

func decode(t *testing.T, stdout string) documentJSON {
	t.Helper()
	var doc documentJSON
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&doc), stdout)
	require.False(t, dec.More(), "one JSON document")
	return doc
}

func TestPowerOneHost(t *testing.T) {
	t.Parallel()
	e := newFake(t, 3, func(host string, o *fakebmc.Options) {
		if host == "host0002" {
			o.InitialPower = bmc.PowerOff
		}
	})

	code, stdout, stderr := bmcctl(t, e.args("-host", "host0001", "power", "status")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, `^HOST +RESULT +DRIVER +DURATION +ERROR\n`, stdout)
	require.Regexp(t, row("host0001", "on", "redfish"), stdout)
	require.Equal(t, 2, strings.Count(stdout, "\n"), "a header and one row:\n%s", stdout)
	require.Empty(t, stderr, "no summary for one host")

	code, stdout, stderr = bmcctl(t, e.args("-host", "host0002", "power", "status")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, row("host0002", "off", "redfish"), stdout)

	code, stdout, stderr = bmcctl(t, e.args("-host", "host0002", "power", "on")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, row("host0002", "on", "redfish"), stdout)
	require.Equal(t, bmc.PowerOn, e.bmcs["host0002"].PowerState())
	require.Equal(t, 1, e.bmcs["host0002"].Boots())

	code, stdout, stderr = bmcctl(t, e.args("-host", "host0003", "power", "cycle")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, row("host0003", "cycled", "redfish"), stdout)
	require.Equal(t, 1, e.bmcs["host0003"].Boots())
	require.Zero(t, e.bmcs["host0001"].Boots(), "only the host asked for")

	// A cycle of a machine that is off is refused, not done.
	e.bmcs["host0001"].SetPowerState(bmc.PowerOff)
	code, stdout, _ = bmcctl(t, e.args("-host", "host0001", "power", "cycle")...)
	require.Equal(t, exitFailed, code)
	require.Regexp(t, row("host0001", "-", "redfish"), stdout)
	require.Contains(t, stdout, "invalid power action")
	require.Zero(t, e.srv.Sessions(), "every session logged out")
}

func TestHostsFile(t *testing.T) {
	t.Parallel()
	e := newFake(t, 5, nil)
	hosts := e.write(t, "hosts.txt", "# rack 12\nhost0001\n\n  host0003   # the odd one\nhost0005\n")

	t.Run("table", func(t *testing.T) {
		code, stdout, stderr := bmcctl(t, e.args("-hosts", hosts, "-concurrency", "2", "power", "status")...)
		require.Equal(t, exitOK, code, stderr)
		lines := strings.Split(strings.TrimSpace(stdout), "\n")
		require.Len(t, lines, 4, stdout)
		for i, h := range []string{"host0001", "host0003", "host0005"} {
			require.Regexp(t, row(h, "on", "redfish"), lines[i+1], "in the order of the file")
		}
		require.Regexp(t, `^3 hosts: 3 succeeded, 0 failed in \S+\n$`, stderr)
		require.NotContains(t, stderr, "\r", "no progress bar on a pipe")
	})

	t.Run("json", func(t *testing.T) {
		code, stdout, stderr := bmcctl(t, e.args("-hosts", hosts, "-o", "json", "power", "cycle")...)
		require.Equal(t, exitOK, code, stderr)
		require.Empty(t, stderr)
		doc := decode(t, stdout)
		require.Equal(t, "power cycle", doc.Command)
		require.Equal(t, 3, doc.Total)
		require.Equal(t, 3, doc.Succeeded)
		require.Zero(t, doc.Failed)
		require.Positive(t, doc.ElapsedMS)
		require.Len(t, doc.Results, 3)
		for i, h := range []string{"host0001", "host0003", "host0005"} {
			r := doc.Results[i]
			require.Equal(t, h, r.Host)
			require.True(t, r.OK)
			require.Equal(t, "cycled", r.Result)
			require.Equal(t, "redfish", r.Driver)
			require.Empty(t, r.Error)
			require.Positive(t, r.DurationMS)
			require.Equal(t, 1, e.bmcs[h].Boots(), h)
		}
		require.Zero(t, e.bmcs["host0002"].Boots(), "not in the file")
	})

	t.Run("progress", func(t *testing.T) {
		code, _, stderr := bmcctl(t, e.args("-hosts", hosts, "-progress", "always", "power", "status")...)
		require.Equal(t, exitOK, code, stderr)
		require.Contains(t, stderr, "3/3  failed 0")
		require.Contains(t, stderr, "\r\x1b[K3 hosts: 3 succeeded", "the bar is cleared before the summary")
	})
}

func TestBoot(t *testing.T) {
	t.Parallel()
	e := newFake(t, 2, nil)
	code, stdout, stderr := bmcctl(t, e.args("-host", "host0001", "boot", "pxe")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, row("host0001", "next boot pxe/uefi", "redfish"), stdout)
	o, ok := e.bmcs["host0001"].PendingBootOverride()
	require.True(t, ok)
	require.Equal(t, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}, o)

	code, stdout, stderr = bmcctl(t, e.args("-host", "host0002", "-o", "json", "boot", "cd", "--legacy")...)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, "next boot cd/legacy", decode(t, stdout).Results[0].Result)
	o, ok = e.bmcs["host0002"].PendingBootOverride()
	require.True(t, ok)
	require.Equal(t, bmc.BootOverride{Device: bmc.BootCD, Mode: bmc.BootLegacy}, o)

	// The override is used by the next boot.
	code, _, stderr = bmcctl(t, e.args("-host", "host0001", "power", "cycle")...)
	require.Equal(t, exitOK, code, stderr)
	require.Equal(t, bmc.BootPXE, e.bmcs["host0001"].LastBoot().Device)
}

func TestConsoleCheck(t *testing.T) {
	t.Parallel()
	e := newFake(t, 3, func(host string, o *fakebmc.Options) { o.ConsoleDisabled = host == "host0002" })
	hosts := e.write(t, "hosts.txt", strings.Join(e.hosts, "\n"))

	code, stdout, stderr := bmcctl(t, e.args("-hosts", hosts, "console", "check")...)
	require.Equal(t, exitFailed, code, "one host failed:\n%s", stdout)
	require.Regexp(t, row("host0001", "usable SerialConsole/SSH", "redfish"), stdout)
	require.Regexp(t, row("host0002", "unusable", "redfish"), stdout)
	require.Regexp(t, row("host0003", "usable SerialConsole/SSH", "redfish"), stdout)
	require.Regexp(t, `host0002 .*remote console unusable: console service disabled`, stdout)
	require.Contains(t, stderr, "3 hosts: 2 succeeded, 1 failed")

	code, stdout, _ = bmcctl(t, e.args("-hosts", hosts, "-o", "json", "console", "check")...)
	require.Equal(t, exitFailed, code)
	doc := decode(t, stdout)
	require.Equal(t, 1, doc.Failed)
	bad := doc.Results[1]
	require.Equal(t, "host0002", bad.Host)
	require.False(t, bad.OK)
	require.Contains(t, bad.Error, "console service disabled")
	require.NotNil(t, bad.Console)
	require.True(t, bad.Console.Reachable)
	require.True(t, bad.Console.Authenticated)
	require.False(t, bad.Console.Enabled)
	good := doc.Results[0]
	require.True(t, good.OK)
	require.True(t, good.Console.Usable())
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	const secret = "wrong-Secret-42"
	e := newFake(t, 2, nil)
	e.pwFile = e.write(t, "wrong-password", secret)
	hosts := e.write(t, "hosts.txt", "host0001\nhost0002\n")
	for _, format := range []string{"table", "json"} {
		code, stdout, stderr := bmcctl(t, e.args("-hosts", hosts, "-o", format, "-v", "power", "cycle")...)
		require.Equal(t, exitFailed, code)
		require.Contains(t, stdout, "BMC authentication failed")
		require.NotContains(t, stdout+stderr, secret, "the password never shows")
		require.Zero(t, e.bmcs["host0001"].Boots())
	}

	// The same through a credentials file: the right password for one
	// host, and a wrong default for the other.
	creds := e.write(t, "creds.json", fmt.Sprintf(`{"default": {"user": "admin", "password": %q},
		"hosts": {"host0001": {"user": "admin", "password": "password"}}}`, secret))
	code, stdout, stderr := bmcctl(t, "-redfish", e.srv.URL(), "-ca", e.caFile, "-credentials", creds, "-hosts", hosts, "power", "status")
	require.Equal(t, exitFailed, code)
	require.Regexp(t, row("host0001", "on", "redfish"), stdout)
	require.Regexp(t, `host0002 +- +redfish .*BMC authentication failed`, stdout)
	require.NotContains(t, stdout+stderr, secret)
	require.NotContains(t, stderr, "can be read by others", "the file is 0600")
}

func TestCredentialsFile(t *testing.T) {
	t.Parallel()
	e := newFake(t, 4, nil)
	hosts := e.write(t, "hosts.txt", strings.Join(e.hosts, "\n"))
	creds := e.write(t, "creds.json", `{
		"default": {"user": "admin", "password": "nope"},
		"hosts":   {"host0001": {"user": "admin", "password": "password"}},
		"racks":   {"r1": {"user": "admin", "password": "password"}, "r2": {"user": "root", "password": "password"}},
		"rack_of": {"host0002": "r1", "host0003": "r2"}
	}`)
	code, stdout, stderr := bmcctl(t, "-redfish", e.srv.URL(), "-ca", e.caFile, "-credentials", creds, "-hosts", hosts, "-o", "json", "power", "status")
	require.Equal(t, exitFailed, code, stderr)
	doc := decode(t, stdout)
	ok := map[string]bool{}
	for _, r := range doc.Results {
		ok[r.Host] = r.OK
	}
	require.Equal(t, map[string]bool{
		"host0001": true,  // its own
		"host0002": true,  // its rack's
		"host0003": false, // its rack's, with the wrong user
		"host0004": false, // the default, with the wrong password
	}, ok)

	// -user and the password override the default.
	code, _, stderr = bmcctlEnv(t, map[string]string{passwordEnv: "password"},
		"-redfish", e.srv.URL(), "-ca", e.caFile, "-credentials", creds, "-user", "admin", "-host", "host0004", "power", "status")
	require.Equal(t, exitOK, code, stderr)

	// A credentials file others can read is used, with a warning.
	require.NoError(t, os.Chmod(creds, 0o644))
	code, _, stderr = bmcctl(t, "-redfish", e.srv.URL(), "-ca", e.caFile, "-credentials", creds, "-host", "host0001", "power", "status")
	require.Equal(t, exitOK, code, stderr)
	require.Contains(t, stderr, "can be read by others (mode 0644)")
}

// TestPasswordFromEnvironment runs run itself, which reads $BMC_PASSWORD.
func TestPasswordFromEnvironment(t *testing.T) {
	e := newFake(t, 1, nil)
	t.Setenv(passwordEnv, fakebmc.DefaultPassword)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-redfish", e.srv.URL(), "-ca", e.caFile, "-user", "admin", "-host", "host0001", "power", "status"}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	require.Regexp(t, row("host0001", "on", "redfish"), stdout.String())
}

func TestTLS(t *testing.T) {
	t.Parallel()
	e := newFake(t, 1, nil)
	base := []string{"-redfish", e.srv.URL(), "-user", "admin", "-password-file", e.pwFile, "-host", "host0001"}

	code, stdout, _ := bmcctl(t, append(base, "power", "status")...)
	require.Equal(t, exitFailed, code, "the fake's certificate is not trusted without -ca")
	require.Contains(t, stdout, "certificate")

	code, stdout, stderr := bmcctl(t, append(base, "-insecure", "power", "status")...)
	require.Equal(t, exitOK, code, stderr)
	require.Regexp(t, row("host0001", "on", "redfish"), stdout)
	require.Contains(t, stderr, "WARNING: -insecure")
}

func TestUnknownHost(t *testing.T) {
	t.Parallel()
	e := newFake(t, 2, nil)
	code, stdout, _ := bmcctl(t, e.args("-host", "host9999", "power", "status")...)
	require.Equal(t, exitFailed, code)
	require.Regexp(t, `host9999 +- +redfish .*BMC resource not found`, stdout)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	pw := write("pw", "password")
	hosts := write("hosts", "a\nb\n")
	dup := write("dup", "a\nb\na\n")
	empty := write("empty", "# nobody\n\n")
	badJSON := write("bad.json", `{"default": {"user": "admin", "pasword": "x"}}`)
	noRack := write("norack.json", `{"default": {"user": "admin", "password": "x"}, "rack_of": {"a": "r9"}}`)
	rf := []string{"-redfish", "https://127.0.0.1:1", "-user", "admin", "-password-file", pw}
	with := func(extra ...string) []string { return append(append([]string(nil), rf...), extra...) }

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", with("-host", "a"), "no command"},
		{"unknown command", with("-host", "a", "reboot"), `unknown command "reboot"`},
		{"unknown power action", with("-host", "a", "power", "dance"), `power "dance"`},
		{"power extra", with("-host", "a", "power", "on", "now"), `unexpected "now"`},
		{"unknown boot device", with("-host", "a", "boot", "floppy"), `boot "floppy"`},
		{"boot without device", with("-host", "a", "boot"), `boot ""`},
		{"unknown boot flag", with("-host", "a", "boot", "pxe", "--uefi"), "flag provided but not defined: -uefi"},
		{"console without check", with("-host", "a", "console"), "console check"},
		{"unknown flag", with("-hots", "a", "power", "status"), "flag provided but not defined: -hots"},
		{"password flag", with("-password", "hunter2", "-host", "a", "power", "status"), "there is no -password flag"},
		{"password flag with =", with("--password=hunter2", "-host", "a", "power", "status"), "there is no -password flag"},
		{"no target", with("power", "status"), "no target"},
		{"host and hosts", with("-host", "a", "-hosts", hosts, "power", "status"), "exclude each other"},
		{"bad host", with("-host", "a b", "power", "status"), "spaces"},
		{"missing hosts file", with("-hosts", filepath.Join(dir, "none"), "power", "status"), "no such file"},
		{"duplicate host", with("-hosts", dup, "power", "status"), "host a is already on line 1"},
		{"empty hosts file", with("-hosts", empty, "power", "status"), "no hosts"},
		{"no BMC", []string{"-user", "admin", "-password-file", pw, "-host", "a", "power", "status"}, "no BMC"},
		{"redfish twice", with("-redfish-template", "https://{host}", "-host", "a", "power", "status"), "exclude each other"},
		{"template without host", []string{"-redfish-template", "https://bmc", "-user", "admin", "-password-file", pw, "-host", "a", "power", "status"}, "has no {host}"},
		{"ipmi for many hosts", with("-ipmi", "10.0.0.1:623", "-hosts", hosts, "power", "status"), "use -ipmi-template"},
		{"bad ipmi port", with("-ipmi", "10.0.0.1:99999", "-host", "a", "power", "status"), "bad port"},
		{"ca and insecure", with("-ca", pw, "-insecure", "-host", "a", "power", "status"), "exclude each other"},
		{"ca without PEM", with("-ca", pw, "-host", "a", "power", "status"), "no PEM certificate"},
		{"ca with IPMI only", []string{"-ipmi", "10.0.0.1", "-ca", pw, "-user", "a", "-password-file", pw, "-host", "a", "power", "status"}, "IPMI has no certificates"},
		{"no credentials", []string{"-redfish", "https://127.0.0.1:1", "-host", "a", "power", "status"}, "no credentials"},
		{"user without password", []string{"-redfish", "https://127.0.0.1:1", "-user", "admin", "-host", "a", "power", "status"}, "no password"},
		{"password file without user", []string{"-redfish", "https://127.0.0.1:1", "-password-file", pw, "-host", "a", "power", "status"}, "without -user"},
		{"bad credentials file", []string{"-redfish", "https://127.0.0.1:1", "-credentials", badJSON, "-host", "a", "power", "status"}, `unknown field "pasword"`},
		{"rack not in racks", []string{"-redfish", "https://127.0.0.1:1", "-credentials", noRack, "-host", "a", "power", "status"}, `rack "r9" is not in racks`},
		{"bad output", with("-o", "yaml", "-host", "a", "power", "status"), `-o "yaml"`},
		{"bad concurrency", with("-concurrency", "0", "-host", "a", "power", "status"), "-concurrency"},
		{"bad timeout", with("-timeout", "0s", "-host", "a", "power", "status"), "-timeout"},
		{"bad progress", with("-progress", "maybe", "-host", "a", "power", "status"), "-progress"},
		{"serve-fake with a command", []string{"-serve-fake", "3", "power", "status"}, "takes no command"},
		{"serve-fake negative", []string{"-serve-fake", "-3"}, "positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := bmcctl(t, tc.args...)
			require.Equal(t, exitUsage, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
			require.Contains(t, stderr, "Run 'bmcctl -h' for usage.")
			require.NotContains(t, stderr, "hunter2")
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "-help", "--help"} {
		code, stdout, stderr := bmcctl(t, arg)
		require.Equal(t, exitOK, code)
		require.Empty(t, stderr)
		for _, want := range []string{
			"Usage: bmcctl [flags] <command> [args]",
			"power on|off|soft-off|cycle|reset",
			"boot pxe|disk|cd [--legacy]",
			"console check",
			"$BMC_PASSWORD",
			"Exit status: 0 all hosts succeeded, 1 some host failed, 2 usage error.",
			"-redfish-template URL",
			"-serve-fake N",
		} {
			require.Contains(t, stdout, want)
		}
	}
}

// TestServeFake starts -serve-fake, drives it with what it printed, and
// stops it.
func TestServeFake(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut bmctest.LogBuffer
	done := make(chan int, 1)
	go func() {
		done <- runEnv(ctx, []string{"-serve-fake", "3"}, &out, &errOut, func(string) string { return "" })
	}()
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Serving until interrupted") }, 10*time.Second, 10*time.Millisecond)

	printed := out.String()
	url := regexp.MustCompile(`at (https://127\.0\.0\.1:\d+)\n`).FindStringSubmatch(printed)
	ca := regexp.MustCompile(`CA certificate: (\S+)\n`).FindStringSubmatch(printed)
	hosts := regexp.MustCompile(`hosts file: +(\S+)\n`).FindStringSubmatch(printed)
	require.NotNil(t, url, printed)
	require.NotNil(t, ca, printed)
	require.NotNil(t, hosts, printed)
	require.Contains(t, printed, "3 simulated BMCs (host0001 … host0003, powered on)")
	require.Contains(t, printed, "export BMC_PASSWORD=password")

	code, stdout, stderr := bmcctlEnv(t, map[string]string{passwordEnv: fakebmc.DefaultPassword},
		"-redfish", url[1], "-ca", ca[1], "-user", "admin", "-hosts", hosts[1], "power", "status")
	require.Equal(t, exitOK, code, stderr)
	for _, h := range []string{"host0001", "host0002", "host0003"} {
		require.Regexp(t, row(h, "on", "redfish"), stdout)
	}

	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("-serve-fake did not stop when its context ended")
	}
	_, err := os.Stat(ca[1])
	require.ErrorIs(t, err, os.ErrNotExist, "the temporary files are removed")
	require.Contains(t, out.String(), "fakebmc: stopped after ")
}

// renamed gives a driver another name, to tell two fake drivers apart.
type renamed struct {
	bmc.Driver
	name string
}

func (r renamed) Name() string { return r.name }

// TestClientSaysWhichDriverAnswered runs a command through a multiDriver
// whose first driver fails: the result names the one that answered and
// keeps the failure among the attempts.
func TestClientSaysWhichDriverAnswered(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cmd, err := parseCommand([]string{"power", "status"})
	require.NoError(t, err)

	down := fakebmc.New(&fakebmc.Options{Host: "h1", InitialPower: bmc.PowerOn})
	up := fakebmc.New(&fakebmc.Options{Host: "h1", InitialPower: bmc.PowerOn})
	m := newMultiDriver("h1", []bmc.Driver{renamed{down.Driver(), "redfish"}, renamed{up.Driver(), "ipmi"}}, time.Second)
	require.NoError(t, m.Open(ctx))
	defer m.Close(ctx)
	down.SetReachable(false)
	o, err := hostOp(cmd)(ctx, m)
	require.NoError(t, err)
	require.Equal(t, "on", o.Result)
	require.Equal(t, "ipmi", o.Driver)
	require.Len(t, o.Attempts, 2)
	require.Equal(t, "redfish", o.Attempts[0].Driver)
	require.Contains(t, o.Attempts[0].Error, "unreachable")
	require.Equal(t, attempt{Op: "power-state", Driver: "ipmi", DurationMS: o.Attempts[1].DurationMS}, o.Attempts[1])

	// A driver that did not open is in the attempts too.
	refused := fakebmc.NewDriver(fakebmc.New(nil), bmc.Credentials{Username: "admin", Password: "nope"})
	m2 := newMultiDriver("h2", []bmc.Driver{renamed{refused, "redfish"}, renamed{up.Driver(), "ipmi"}}, time.Second)
	require.NoError(t, m2.Open(ctx))
	defer m2.Close(ctx)
	o, err = hostOp(cmd)(ctx, m2)
	require.NoError(t, err)
	require.Equal(t, "ipmi", o.Driver)
	require.Equal(t, "open", o.Attempts[0].Op)
	require.Contains(t, o.Attempts[0].Error, "BMC authentication failed")
}

func TestParseHosts(t *testing.T) {
	t.Parallel()
	hosts, err := parseHosts(strings.NewReader("a # one\n\n#b\n  c\t\nd"), "f")
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c", "d"}, hosts)
	_, err = parseHosts(strings.NewReader("a\nx/y\n"), "f")
	require.ErrorContains(t, err, "f:2:")
}

// TestIPMI reads the power through -ipmi against the IPMI simulator of
// scripts/test.sh, then through a Client that tries Redfish first.
func TestIPMI(t *testing.T) {
	host, port, creds := testenv.IPMI(t)
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	require.NoError(t, os.WriteFile(pw, []byte(creds.Password), 0o600))
	base := []string{"-user", creds.Username, "-password-file", pw, "-timeout", "30s"}

	code, stdout, stderr := bmcctl(t, append(base, "-host", "sim", "-ipmi", addr, "power", "status")...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Regexp(t, `(?m)^sim +(on|off) +ipmi\b`, stdout)

	// Both protocols: a Redfish service that has no system "sim" fails,
	// IPMI answers.
	srv := fakebmc.NewServer(&fakebmc.ServerOptions{Credentials: creds})
	srv.AddSystem("other", fakebmc.New(nil))
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	code, stdout, stderr = bmcctl(t, append(base, "-host", "sim", "-redfish", srv.URL(), "-ca", ca, "-ipmi", addr, "-o", "json", "power", "status")...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	r := decode(t, stdout).Results[0]
	require.Equal(t, "ipmi", r.Driver)
	require.Equal(t, "open", r.Attempts[0].Op)
	require.Equal(t, "redfish", r.Attempts[0].Driver)
	require.Contains(t, r.Attempts[0].Error, "not found")
	require.NotContains(t, stdout+stderr, creds.Password)

	// When the Redfish service has the system, Redfish answers first.
	srv.AddSystem("sim", fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn}))
	code, stdout, stderr = bmcctl(t, append(base, "-host", "sim", "-redfish", srv.URL(), "-ca", ca, "-ipmi", addr, "power", "status")...)
	require.Equal(t, exitOK, code, "stdout:\n%s\nstderr:\n%s", stdout, stderr)
	require.Regexp(t, `(?m)^sim +on +redfish\b`, stdout)
}
