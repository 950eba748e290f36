// Package testenv finds the real services that scripts/test.sh starts for
// the tests (PostgreSQL, redis-server) through environment variables.
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
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables exported by scripts/test.sh.
const (
	// PostgresVar holds a PostgreSQL URL for a role allowed to create
	// databases, e.g. postgres://fleetkit@127.0.0.1:54329/postgres.
	PostgresVar = "FLEETKIT_TEST_POSTGRES"
	// RedisVar holds comma-separated host:port addresses of redis-server
	// instances, each one free for the tests to flush.
	RedisVar = "FLEETKIT_TEST_REDIS"
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
