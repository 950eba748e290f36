package redfishbmc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"unicode/utf8"

	"github.com/stmcginnis/gofish/schemas"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

const fuzzPassword = "pw-Fuzz-Secret-8086"

func testDriver(t testing.TB) *Driver {
	d, err := New("https://bmc.example", bmc.Credentials{Username: "admin", Password: fuzzPassword}, nil)
	require.NoError(t, err)
	return d
}

func TestInterpretCollectionError(t *testing.T) {
	t.Parallel()
	d := testDriver(t)
	ce := schemas.NewCollectionError()
	ce.Failures["/redfish/v1/Systems/2"] = schemas.ConstructError(503, []byte(`{"error":{"message":"busy"}}`))
	ce.Failures["/redfish/v1/Systems/1"] = schemas.ConstructError(404, []byte(`{"error":{"message":"gone"}}`))
	ce.Failures["/redfish/v1/Systems/3"] = schemas.ConstructError(401, []byte(`{"error":{"message":"who are you"}}`))
	err := d.interpret("list systems", ce)
	require.ErrorIs(t, err, bmc.ErrAuth, "the worst failure decides: refused credentials")
	require.ErrorContains(t, err, "who are you")
	delete(ce.Failures, "/redfish/v1/Systems/3")
	require.ErrorIs(t, d.interpret("list systems", ce), bmc.ErrNotFound)
	delete(ce.Failures, "/redfish/v1/Systems/1")
	require.True(t, bmc.IsTransient(d.interpret("list systems", ce)))
}

func TestInterpretNetworkErrors(t *testing.T) {
	t.Parallel()
	d := testDriver(t)
	ue := func(err error) error { return &url.Error{Op: "Get", URL: "https://bmc.example/redfish/v1/", Err: err} }
	require.True(t, bmc.IsTransient(d.interpret("x", ue(fmt.Errorf("read: %w", syscall.ECONNRESET)))))
	require.True(t, bmc.IsTransient(d.interpret("x", ue(errors.New("EOF")))) == false, "a bare EOF text is not io.EOF")
	require.True(t, bmc.IsTransient(d.interpret("x", ue(fmt.Errorf("conn closed: %w", errEOF())))))
	require.ErrorIs(t, d.interpret("x", ue(context.Canceled)), context.Canceled)
	require.False(t, bmc.IsTransient(d.interpret("x", ue(context.Canceled))))
	require.Equal(t, "redfishbmc: x: gofish says no", d.interpret("x", schemas.ConstructError(0, []byte("gofish says no"))).Error())
}

func errEOF() error { _, err := strings.NewReader("").Read(nil); return err }

func TestRedactedErrorKeepsItsClass(t *testing.T) {
	t.Parallel()
	d := testDriver(t)
	timeout := &net.OpError{Op: "read", Err: timeoutError{}}
	leaky := fmt.Errorf("BMC said %s: %w", fuzzPassword, timeout)
	err := d.redactErr(leaky)
	require.NotContains(t, err.Error(), fuzzPassword)
	require.Contains(t, err.Error(), redacted)
	require.True(t, bmc.IsTransient(err), "a redacted timeout is still a timeout")
	require.Nil(t, errors.Unwrap(err), "the original, which shows the password, is not reachable")

	auth := d.redactErr(fmt.Errorf("%s: %w", fuzzPassword, bmc.ErrAuth))
	require.ErrorIs(t, auth, bmc.ErrAuth)
	require.False(t, bmc.IsTransient(auth))

	plain := errors.New("nothing secret")
	require.Same(t, plain, d.redactErr(plain), "an error without secrets is left alone")
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestClip(t *testing.T) {
	t.Parallel()
	require.Equal(t, "a b c", clip(" a \n\t b   c "))
	long := strings.Repeat("é", maxMessage) // two bytes each
	got := clip(long)
	require.True(t, utf8.ValidString(got))
	require.LessOrEqual(t, len(got), maxMessage+len("…"))
	require.True(t, strings.HasSuffix(got, "…"))
}

func TestChooseReset(t *testing.T) {
	t.Parallel()
	first, then, err := chooseReset(bmc.PowerActionCycle, []schemas.ResetType{"ForceOn", "ForceOff"})
	require.NoError(t, err)
	require.Equal(t, schemas.ForceOffResetType, first)
	require.Equal(t, schemas.ForceOnResetType, then)
	_, _, err = chooseReset(bmc.PowerActionOn, []schemas.ResetType{"ForceOff", "Nmi"})
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "on needs ResetType On or ForceOn, but the BMC offers [ForceOff Nmi]")
}

// FuzzInterpret feeds arbitrary BMC error bodies through the error
// mapping: the password never comes out, nor does an unbounded message.
func FuzzInterpret(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{401, `{"error":{"code":"Base.1.8.GeneralError","message":"bad login {\"UserName\":\"admin\",\"Password\":\"` + fuzzPassword + `\"}"}}`},
		{400, `{"error":{"@Message.ExtendedInfo":[{"Message":"The value ` + fuzzPassword + ` for Password is invalid"}]}}`},
		{503, `<html><body>Service Unavailable ` + fuzzPassword + `</body></html>`},
		{500, strings.Repeat("x", 300) + fuzzPassword},
		{0, fuzzPassword},
		{404, ""},
	} {
		f.Add(seed.status, []byte(seed.body))
	}
	d := testDriver(f)
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		if status < 0 || status > 999 {
			status = 500
		}
		err := d.interpret("read https://bmc.example/redfish/v1/Systems/1", schemas.ConstructError(status, body))
		if err == nil {
			t.Fatal("an error came out as nil")
		}
		msg := err.Error()
		if strings.Contains(msg, fuzzPassword) {
			t.Fatalf("the message shows the password: %q", msg)
		}
		if len(msg) > 2*maxMessage+200 {
			t.Fatalf("the message is %d bytes long", len(msg))
		}
	})
}

// FuzzParseEndpoint checks the endpoint parser: it never panics, what it
// accepts it accepts again unchanged (https or http, a host, nothing
// else), and a password in the URL never shows in its errors.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{
		"https://bmc01.example", "bmc01.example:443", "http://10.0.0.1", "https://[::1]:8443/",
		"https://u:p@h", "ftp://h", "https://h/redfish/v1", "https://h?q#f", "%zz", "https://h:0", "",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, raw string, allowHTTP bool) {
		ep, err := parseEndpoint(raw, allowHTTP)
		if err == nil {
			u, perr := url.Parse(ep)
			if perr != nil || u.User != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || (u.Scheme != "https" && u.Scheme != "http") {
				t.Fatalf("accepted %q as %q", raw, ep)
			}
			if u.Scheme == "http" && !allowHTTP {
				t.Fatalf("accepted http without AllowHTTP: %q", raw)
			}
			again, err := parseEndpoint(ep, allowHTTP)
			if err != nil || again != ep {
				t.Fatalf("%q -> %q -> %q, %v", raw, ep, again, err)
			}
		} else if !errors.Is(err, bmc.ErrInvalidArgument) {
			t.Fatalf("an error that is not ErrInvalidArgument: %v", err)
		}
		_, err = parseEndpoint("https://admin:"+fuzzPassword+"@"+raw, allowHTTP)
		if err == nil {
			t.Fatalf("accepted credentials in the URL: %q", raw)
		}
		if strings.Contains(err.Error(), fuzzPassword) {
			t.Fatalf("the error shows the password: %v", err)
		}
	})
}
