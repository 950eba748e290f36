// Package testenv finds the real services that scripts/test.sh starts for
// the tests (PostgreSQL, redis-server, OpenIPMI's ipmi_sim) through
// environment variables, and the programs it installs (rpm, rpmbuild,
// createrepo_c) in PATH.
//
// A test that needs a service calls the matching function. When the variable
// is unset the test is skipped with a message naming it, except under
// CI=true, where a missing service fails the test: CI must never pass by
// skipping.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/bmc"
)

// Environment variables exported by scripts/test.sh.
const (
	// PostgresVar holds a PostgreSQL URL for a role allowed to create
	// databases, e.g. postgres://fleetkit@127.0.0.1:54329/postgres.
	PostgresVar = "FLEETKIT_TEST_POSTGRES"
	// RedisVar holds comma-separated host:port addresses of redis-server
	// instances, each one free for the tests to flush.
	RedisVar = "FLEETKIT_TEST_REDIS"
	// IPMIVar holds user:password@host:port of an IPMI v2.0 LAN BMC
	// simulator (OpenIPMI's ipmi_sim) whose power and boot device read
	// back as set. Tests using it share one simulated machine: they must
	// not run in parallel with each other.
	IPMIVar = "FLEETKIT_TEST_IPMI"
)

// InCI reports whether the tests run under CI (CI=true), where a missing
// service is a failure rather than a skip.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1"
}

// Need returns the value of the environment variable name, or skips the test
// (fails it under CI) when it is unset.
func Need(t testing.TB, name, service string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := "*** " + service + " not available: " + name + " is unset; run the tests through `make test` (scripts/test.sh), which starts it ***"
	if InCI() {
		t.Fatal(msg + " (CI=true: a missing service is a failure)")
	}
	t.Skip(msg)
	return ""
}

// Tool returns the path of the program name, found in PATH, or skips the
// test (fails it under CI) when it is not installed; debianPkg names the
// Debian package that provides it, which scripts/test.sh installs (for
// example Tool(t, "createrepo_c", "createrepo-c")).
func Tool(t testing.TB, name, debianPkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := "*** " + name + " not available: not found in PATH; install Debian's " + debianPkg +
		" package or run the tests through `make test` (scripts/test.sh), which installs it ***"
	if InCI() {
		t.Fatal(msg + " (CI=true: a missing tool is a failure)")
	}
	t.Skip(msg)
	return ""
}

// BenchTime starts measuring the wall and CPU time of a benchmark; the
// function it returns reports both as milliseconds an operation (ms/op
// and cpu-ms/op, user plus system time of the whole process, its garbage
// collection included). Call it before the b.Loop loop and the function
// after. The CPU figure holds when other work shares the machine and
// stretches the wall time.
func BenchTime(b *testing.B) (report func()) {
	cpu0 := cpuTime()
	return func() {
		b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
	}
}

// cpuTime returns the user plus system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Postgres creates a fresh, empty database on the test PostgreSQL server and
// returns its URL. The database is dropped when the test ends.
func Postgres(t testing.TB) string {
	t.Helper()
	admin := Need(t, PostgresVar, "PostgreSQL")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("testenv: connect to %s: %v", PostgresVar, err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "fleetkit_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("testenv: connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("testenv: %s is not a URL", PostgresVar)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis returns the addresses of the test redis-server instances.
func Redis(t testing.TB) []string {
	t.Helper()
	return strings.Split(Need(t, RedisVar, "redis-server"), ",")
}

// IPMI returns the address and credentials of the test IPMI BMC simulator
// (IPMIVar), or skips the test (fails it under CI) when there is none.
func IPMI(t testing.TB) (host string, port int, creds bmc.Credentials) {
	t.Helper()
	host, port, creds, err := ParseIPMI(Need(t, IPMIVar, "ipmi_sim (OpenIPMI)"))
	if err != nil {
		t.Fatalf("testenv: %s: %v", IPMIVar, err)
	}
	return host, port, creds
}

// ParseIPMI splits user:password@host:port. The password may hold any
// character; errors never quote it.
func ParseIPMI(v string) (host string, port int, creds bmc.Credentials, err error) {
	at := strings.LastIndex(v, "@")
	if at < 0 {
		return "", 0, creds, errors.New("want user:password@host:port (no @)")
	}
	user, pass, ok := strings.Cut(v[:at], ":")
	if !ok || user == "" {
		return "", 0, creds, errors.New("want user:password@host:port (no user:password before @)")
	}
	h, p, err := net.SplitHostPort(v[at+1:])
	if err != nil {
		return "", 0, creds, fmt.Errorf("host:port after @: %w", err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, creds, fmt.Errorf("bad port %q", p)
	}
	return h, port, bmc.Credentials{Username: user, Password: pass}, nil
}
