package testenv_test

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fleetkit/fleetkit/internal/testenv"
)

// TestPostgres checks that the server in FLEETKIT_TEST_POSTGRES answers and
// that testenv.Postgres hands out a fresh database of its own.
func TestPostgres(t *testing.T) {
	dsn := testenv.Postgres(t) // skips (fails under CI) when unset
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("testenv.Postgres returned an invalid URL %q: %v", dsn, err)
	}
	want := strings.TrimPrefix(u.Path, "/")

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", u.Redacted(), err)
	}
	defer conn.Close(ctx)

	var one int
	var db string
	if err := conn.QueryRow(ctx, "SELECT 1, current_database()").Scan(&one, &db); err != nil {
		t.Fatalf("SELECT 1: %v", err)
	}
	if one != 1 {
		t.Errorf("SELECT 1 returned %d", one)
	}
	if db != want || !strings.HasPrefix(db, "fleetkit_test_") {
		t.Errorf("connected to database %q, want the fresh %q", db, want)
	}
}

// TestRedis sends PING to every address in FLEETKIT_TEST_REDIS, speaking raw
// RESP, and expects +PONG.
func TestRedis(t *testing.T) {
	addrs := testenv.Redis(t) // skips (fails under CI) when unset
	for _, addr := range addrs {
		t.Run(addr, func(t *testing.T) {
			if addr == "" {
				t.Fatalf("%s has an empty address: %q", testenv.RedisVar, strings.Join(addrs, ","))
			}
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatalf("dial redis %s: %v", addr, err)
			}
			defer c.Close()
			if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
				t.Fatalf("send PING to %s: %v", addr, err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatalf("read PING reply from %s: %v", addr, err)
			}
			if line != "+PONG\r\n" {
				t.Fatalf("PING %s: got %q, want %q", addr, line, "+PONG\r\n")
			}
		})
	}
}
