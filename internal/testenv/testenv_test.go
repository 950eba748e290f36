package testenv_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
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

// TestIPMI sends an RMCP presence ping (ASF, DSP0136 §3.2.4) to the
// simulator in FLEETKIT_TEST_IPMI and expects a pong.
func TestIPMI(t *testing.T) {
	host, port, creds := testenv.IPMI(t) // skips (fails under CI) when unset
	if creds.Username == "" || creds.Password == "" {
		t.Fatalf("%s has an empty user or password", testenv.IPMIVar)
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	// RMCP header (version 6, sequence ff: no ack, class 6: ASF), ASF
	// IANA 4542, message type 80h (presence ping), tag 1, no data.
	ping := []byte{0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00}
	buf := make([]byte, 512)
	for try := 0; ; try++ {
		if _, err := c.Write(ping); err != nil {
			t.Fatalf("send RMCP ping to %s: %v", addr, err)
		}
		if err := c.SetReadDeadline(time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			if try < 3 {
				continue
			}
			t.Fatalf("no RMCP pong from %s: %v", addr, err)
		}
		if n < 10 || buf[3] != 0x06 || buf[8] != 0x40 || buf[9] != 0x01 {
			t.Fatalf("not an RMCP pong for tag 1 from %s: % x", addr, buf[:n])
		}
		return
	}
}

func TestParseIPMI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in   string
		host       string
		port       int
		user, pass string
		bad        bool
	}{
		{name: "plain", in: "admin:s3cret@127.0.0.1:9623", host: "127.0.0.1", port: 9623, user: "admin", pass: "s3cret"},
		{name: "password with @ and :", in: "admin:p@ss:w0rd@10.0.0.1:623", host: "10.0.0.1", port: 623, user: "admin", pass: "p@ss:w0rd"},
		{name: "ipv6", in: "u:p@[::1]:623", host: "::1", port: 623, user: "u", pass: "p"},
		{name: "empty password", in: "u:@h:1", host: "h", port: 1, user: "u"},
		{name: "no at", in: "admin:secret", bad: true},
		{name: "no colon", in: "admin@h:623", bad: true},
		{name: "no port", in: "admin:topsecret@h", bad: true},
		{name: "bad port", in: "admin:topsecret@h:0", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, port, creds, err := testenv.ParseIPMI(tc.in)
			if tc.bad {
				if err == nil {
					t.Fatalf("ParseIPMI(%q) succeeded", tc.in)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Fatalf("the error quotes the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIPMI(%q): %v", tc.in, err)
			}
			if host != tc.host || port != tc.port || creds.Username != tc.user || creds.Password != tc.pass {
				t.Fatalf("ParseIPMI(%q) = %q %d %q %q", tc.in, host, port, creds.Username, creds.Password)
			}
		})
	}
}

// TestTool finds a program every test machine has, and checks that a
// missing one skips the test, or fails it under CI, naming the package.
func TestTool(t *testing.T) {
	if p := testenv.Tool(t, "go", "golang-go"); !strings.HasSuffix(p, "go") {
		t.Fatalf("Tool(go) = %q", p)
	}
	rec := &recordingTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		testenv.Tool(rec, "fleetkit-no-such-program", "no-such-package")
		rec.returned = true
	}()
	<-done
	got := rec.skipped
	if testenv.InCI() {
		got = rec.failed
	}
	if rec.returned || !strings.Contains(got, "fleetkit-no-such-program") || !strings.Contains(got, "no-such-package") {
		t.Fatalf("missing program: returned=%v skipped=%q failed=%q", rec.returned, rec.skipped, rec.failed)
	}
}

// recordingTB records Skip and Fatal instead of acting on them; both end
// the calling goroutine, as the real ones do.
type recordingTB struct {
	testing.TB
	skipped, failed string
	returned        bool
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Skip(args ...any) {
	r.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (r *recordingTB) Fatal(args ...any) {
	r.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// BenchmarkBenchTime burns CPU so that BenchTime has something to report:
// cpu-ms/op close to ms/op on an idle machine.
func BenchmarkBenchTime(b *testing.B) {
	report := testenv.BenchTime(b)
	x := 0
	for b.Loop() {
		for i := range 1_000_000 {
			x += i * i
		}
	}
	report()
	if x == 42 {
		b.Log(x)
	}
}
