package redfishbmc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
)

// noSecret fails t when err, however formatted, shows the stub's password
// or a session token.
func noSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		text := fmt.Sprintf(f, err)
		require.NotContains(t, text, stubPass, "the error shows the password")
		require.NotContains(t, text, "tok-", "the error shows a session token")
	}
}

func TestNewValidatesEndpoint(t *testing.T) {
	t.Parallel()
	creds := bmc.Credentials{Username: "admin", Password: "pw-Endpoint-1"}
	tests := []struct {
		endpoint string
		opts     *redfishbmc.Options
		want     string // "" means valid; else a substring of the error
	}{
		{"https://bmc01.example", nil, ""},
		{"https://bmc01.example/", nil, ""},
		{"bmc01.example", nil, ""},
		{"10.0.0.5:8443", nil, ""},
		{"https://[fe80::1]:443", nil, ""},
		{"http://bmc01.example", &redfishbmc.Options{AllowHTTP: true}, ""},
		{"", nil, "empty endpoint"},
		{"http://bmc01.example", nil, "Options.AllowHTTP"},
		{"ftp://bmc01.example", nil, "scheme"},
		{"https://admin:pw-Endpoint-1@bmc01.example", nil, "credentials do not belong in the URL"},
		{"https://bmc01.example/redfish/v1", nil, "no path"},
		{"https://bmc01.example?x=1", nil, "no query"},
		{"https://", nil, "no host"},
		{"https://bmc01.example:99999", nil, "bad port"},
		{"https://bmc01.example", &redfishbmc.Options{HTTPClient: http.DefaultClient, InsecureSkipVerify: true}, "cannot be combined"},
	}
	for _, tc := range tests {
		t.Run(tc.endpoint, func(t *testing.T) {
			t.Parallel()
			d, err := redfishbmc.New(tc.endpoint, creds, tc.opts)
			if tc.want == "" {
				require.NoError(t, err)
				require.Equal(t, "redfish", d.Name())
				return
			}
			require.ErrorIs(t, err, bmc.ErrInvalidArgument)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), creds.Password)
		})
	}
	_, err := redfishbmc.New("https://bmc01.example", bmc.Credentials{}, nil)
	require.ErrorIs(t, err, bmc.ErrInvalidArgument, "a user name is required")
}

func TestStringNeverShowsPassword(t *testing.T) {
	t.Parallel()
	d, err := redfishbmc.New("https://bmc01.example", bmc.Credentials{Username: "admin", Password: stubPass}, nil)
	require.NoError(t, err)
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, d)
		require.NotContains(t, out, stubPass, f)
		require.Contains(t, out, "bmc01.example", f)
	}
}

func TestOpenSessionAndClose(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.driver(t, stubPass, nil)
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.Open(ctx), "Open on an open driver does nothing")
	require.Equal(t, 1, s.count(func(s *stub) int { return s.logins }))
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, ps)
	require.NoError(t, d.Close(ctx))
	require.NoError(t, d.Close(ctx), "Close twice")
	s.set(func(s *stub) {
		require.Equal(t, []string{"/redfish/v1/SessionService/Sessions/1"}, s.logouts)
		require.Empty(t, s.tokens, "the session is gone")
		require.NotContains(t, s.auth, "basic")
	})
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
}

func TestCloseLogsOutEvenWhenCtxIsDone(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.driver(t, stubPass, nil)
	require.NoError(t, d.Open(t.Context()))
	done, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, d.Close(done))
	require.Equal(t, 1, s.count(func(s *stub) int { return len(s.logouts) }))
}

func TestCloseForgivesAnExpiredSession(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.driver(t, stubPass, nil)
	require.NoError(t, d.Open(t.Context()))
	s.set(func(s *stub) { s.tokens = map[string]bool{} }) // the BMC forgot every session
	require.NoError(t, d.Close(t.Context()), "a session the BMC dropped counts as logged out")
}

func TestBasicAuth(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.driver(t, stubPass, &redfishbmc.Options{BasicAuth: true})
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	_, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.NoError(t, d.Close(ctx))
	s.set(func(s *stub) {
		require.Zero(t, s.logins, "no session")
		require.Empty(t, s.logouts)
		require.NotContains(t, s.auth, "token")
	})

	bad := s.driver(t, "wrong-"+stubPass, &redfishbmc.Options{BasicAuth: true})
	err = bad.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth, "Open checks basic credentials")
	noSecret(t, err)
}

func TestOpenBadCredentials(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	s.set(func(s *stub) { s.pass = "the-real-one"; s.echo401 = true })
	d := s.driver(t, stubPass, nil)
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.False(t, bmc.IsTransient(err))
	require.ErrorContains(t, err, "HTTP 401")
	require.ErrorContains(t, err, "<redacted>", "the BMC quoted the request; the password is cut out")
	noSecret(t, err)
	require.Equal(t, 1, s.count(func(s *stub) int { return s.logins }), "a refusal is not retried")
	require.NoError(t, d.Close(t.Context()))
}

func TestOpenRetriesTransient(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	var n atomic.Int32
	s.set(func(s *stub) {
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method == http.MethodPost && n.Add(1) <= 2 {
				redfishError(w, http.StatusServiceUnavailable, "session slots busy")
				return true
			}
			return false
		}
	})
	d := s.driver(t, stubPass, nil)
	require.NoError(t, d.Open(t.Context()))
	require.EqualValues(t, 3, n.Load(), "two 503s, then a session")
	require.NoError(t, d.Close(t.Context()))

	s2 := newStub(t, true)
	s2.set(func(s *stub) {
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			redfishError(w, http.StatusServiceUnavailable, "busy")
			return true
		}
	})
	err := s2.driver(t, stubPass, nil).Open(t.Context())
	require.True(t, bmc.IsTransient(err), "still transient after the last attempt: %v", err)
	require.ErrorContains(t, err, "after 3 attempts")
	require.ErrorContains(t, err, "HTTP 503 Service Unavailable")
}

func TestOpenFailsWhenTheSystemDoesNot(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.driver(t, stubPass, &redfishbmc.Options{SystemID: "2"})
	err := d.Open(t.Context())
	require.ErrorIs(t, err, bmc.ErrNotFound)
	require.ErrorContains(t, err, `no system "2" (the BMC has [1])`)
	s.set(func(s *stub) { require.Len(t, s.logouts, 1, "the session of the failed Open is logged out") })
}

func TestNotFoundIsPermanent(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.opened(t, nil)
	ctx := t.Context()
	var n atomic.Int32
	s.set(func(s *stub) {
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == sysPath {
				n.Add(1)
				redfishError(w, http.StatusNotFound, "the system was removed")
				return true
			}
			return false
		}
	})
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotFound)
	require.False(t, bmc.IsTransient(err))
	require.EqualValues(t, 1, n.Load(), "not retried")
	require.ErrorContains(t, err, sysPath, "the error names the resource")
	require.ErrorContains(t, err, "the system was removed", "and what the BMC said")
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		sentinel  error
		transient bool
	}{
		{http.StatusBadRequest, nil, false},
		{http.StatusForbidden, bmc.ErrAuth, false},
		{http.StatusNotFound, bmc.ErrNotFound, false},
		{http.StatusMethodNotAllowed, bmc.ErrUnsupported, false},
		{http.StatusConflict, nil, false},
		{http.StatusTooManyRequests, nil, true},
		{http.StatusInternalServerError, nil, false},
		{http.StatusNotImplemented, bmc.ErrUnsupported, false},
		{http.StatusBadGateway, nil, true},
		{http.StatusServiceUnavailable, nil, true},
		{http.StatusGatewayTimeout, nil, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			s := newStub(t, true)
			d := s.opened(t, nil)
			ctx := t.Context()
			var n atomic.Int32
			s.set(func(s *stub) {
				s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
					if r.URL.Path != sysPath {
						return false
					}
					n.Add(1)
					redfishError(w, tc.status, "no")
					return true
				}
			})
			_, err := d.PowerState(ctx)
			require.Error(t, err)
			require.ErrorContains(t, err, fmt.Sprintf("HTTP %d", tc.status))
			if tc.sentinel != nil {
				require.ErrorIs(t, err, tc.sentinel)
			}
			require.Equal(t, tc.transient, bmc.IsTransient(err), "%v", err)
			want := int32(1)
			if tc.transient {
				want = int32(fast.MaxAttempts)
			}
			require.Equal(t, want, n.Load(), "attempts")
		})
	}
}

func TestUnauthorizedMidSessionLogsInAgain(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	d := s.opened(t, nil)
	ctx := t.Context()

	s.set(func(s *stub) { s.tokens = map[string]bool{} }) // the BMC restarted
	ps, err := d.PowerState(ctx)
	require.NoError(t, err, "one 401 costs a new login, not the call")
	require.Equal(t, bmc.PowerOff, ps)
	require.Equal(t, 2, s.count(func(s *stub) int { return s.logins }))

	s.set(func(s *stub) { s.tokens = map[string]bool{}; s.pass = "changed" }) // and the password changed
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	require.False(t, bmc.IsTransient(err))
	noSecret(t, err)
	require.Equal(t, 3, s.count(func(s *stub) int { return s.logins }), "one new login only")
}

func TestPowerStateMapping(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	d := s.opened(t, nil)
	ctx := t.Context()
	for redfish, want := range map[string]bmc.PowerState{
		"On": bmc.PowerOn, "Off": bmc.PowerOff, "PoweringOn": bmc.PowerPoweringOn,
		"PoweringOff": bmc.PowerPoweringOff, "Paused": bmc.PowerUnknown, "": bmc.PowerUnknown, "Levitating": bmc.PowerUnknown,
	} {
		s.set(func(s *stub) { s.power = redfish })
		got, err := d.PowerState(ctx)
		require.NoError(t, err)
		require.Equal(t, want, got, "Redfish %q", redfish)
	}
}

func TestSetPowerChoosesResetType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		power   string
		allowed []string
		action  bmc.PowerAction
		want    []string // ResetTypes posted
		err     error
	}{
		{"on", "Off", []string{"On", "ForceOn"}, bmc.PowerActionOn, []string{"On"}, nil},
		{"on/ForceOn", "Off", []string{"ForceOn", "ForceOff"}, bmc.PowerActionOn, []string{"ForceOn"}, nil},
		{"off", "On", []string{"On", "ForceOff", "GracefulShutdown"}, bmc.PowerActionOff, []string{"ForceOff"}, nil},
		{"soft-off", "On", []string{"On", "ForceOff", "GracefulShutdown"}, bmc.PowerActionSoftOff, []string{"GracefulShutdown"}, nil},
		{"soft-off/button", "On", []string{"On", "ForceOff", "PushPowerButton"}, bmc.PowerActionSoftOff, []string{"PushPowerButton"}, nil},
		{"cycle", "On", []string{"On", "ForceOff", "PowerCycle"}, bmc.PowerActionCycle, []string{"PowerCycle"}, nil},
		{"cycle/fallback", "On", []string{"On", "ForceOff"}, bmc.PowerActionCycle, []string{"ForceOff", "On"}, nil},
		{"reset", "On", []string{"ForceRestart", "GracefulRestart"}, bmc.PowerActionReset, []string{"ForceRestart"}, nil},
		{"reset/graceful", "On", []string{"On", "GracefulRestart"}, bmc.PowerActionReset, []string{"GracefulRestart"}, nil},
		{"nothing advertised", "On", nil, bmc.PowerActionReset, []string{"ForceRestart"}, nil},
		{"off unsupported", "On", []string{"On", "GracefulShutdown"}, bmc.PowerActionOff, nil, bmc.ErrUnsupported},
		{"cycle unsupported", "On", []string{"On", "Nmi"}, bmc.PowerActionCycle, nil, bmc.ErrUnsupported},
		{"on while on", "On", nil, bmc.PowerActionOn, nil, nil},
		{"soft-off while off", "Off", nil, bmc.PowerActionSoftOff, nil, nil},
		{"cycle while off", "Off", nil, bmc.PowerActionCycle, nil, bmc.ErrInvalidPowerAction},
		{"reset while powering on", "PoweringOn", nil, bmc.PowerActionReset, nil, bmc.ErrInvalidPowerAction},
		{"unknown action", "On", nil, "explode", nil, bmc.ErrInvalidPowerAction},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, false)
			s.set(func(s *stub) { s.power, s.allowed = tc.power, tc.allowed })
			d := s.opened(t, nil)
			ctx := t.Context()
			err := d.SetPower(ctx, tc.action)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.False(t, bmc.IsTransient(err))
				if tc.err == bmc.ErrUnsupported {
					require.ErrorContains(t, err, fmt.Sprint(tc.allowed), "the error names what the BMC offers")
				}
			} else {
				require.NoError(t, err)
			}
			s.set(func(s *stub) { require.Equal(t, tc.want, s.resets) })
		})
	}
}

func TestSetPowerWithoutResetAction(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	s.set(func(s *stub) { s.noReset = true })
	d := s.driver(t, stubPass, nil)
	require.NoError(t, d.Open(t.Context()))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	err := d.SetPower(t.Context(), bmc.PowerActionOn)
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "#ComputerSystem.Reset")
}

// TestSetPowerWaitsForTheNewState: a BMC that reports PoweringOn for a
// while after On; SetPower returns once it reports On, or fails after
// PowerTimeout.
func TestSetPowerWaitsForTheNewState(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	s.set(func(s *stub) { s.transitReads = 3 })
	d := s.opened(t, nil)
	ctx := t.Context()
	before := s.count(func(s *stub) int { return s.gets })
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, 1+3+1, s.count(func(s *stub) int { return s.gets })-before, "read, three times PoweringOn, then On")
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOn, ps)

	// The cycle fallback waits for Off before it sends On.
	s.set(func(s *stub) { s.allowed = []string{"On", "ForceOff"}; s.resets = nil })
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionCycle))
	s.set(func(s *stub) { require.Equal(t, []string{"ForceOff", "On"}, s.resets) })

	stuck := newStub(t, false)
	stuck.set(func(s *stub) { s.stuck = true })
	d = stuck.driver(t, stubPass, &redfishbmc.Options{PowerTimeout: 30 * time.Millisecond})
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	err = d.SetPower(ctx, bmc.PowerActionOn)
	require.ErrorContains(t, err, "accepted On but still reports off after 30ms")
	require.False(t, bmc.IsTransient(err))

	d = stuck.driver(t, stubPass, &redfishbmc.Options{PowerTimeout: -1})
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn), "a negative PowerTimeout does not wait")
}

// TestResetNotRepeatedWhenMaybeDelivered: a reset whose connection drops
// after the request was sent may have happened; it is not sent twice.
// A 503 says it did not happen, and it is retried.
func TestResetNotRepeatedWhenMaybeDelivered(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fail      func(w http.ResponseWriter)
		wantPosts int32
		wantErr   bool
	}{
		{"dropped", func(http.ResponseWriter) { panic(http.ErrAbortHandler) }, 1, true},
		{"503", func(w http.ResponseWriter) { redfishError(w, http.StatusServiceUnavailable, "busy") }, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStub(t, false)
			s.set(func(s *stub) { s.power = "On" })
			var posts atomic.Int32
			s.set(func(s *stub) {
				s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "ComputerSystem.Reset") && posts.Add(1) == 1 {
						tc.fail(w)
						return true
					}
					return false
				}
			})
			d := s.opened(t, nil)
			ctx := t.Context()
			err := d.SetPower(ctx, bmc.PowerActionReset)
			require.Equal(t, tc.wantPosts, posts.Load())
			if tc.wantErr {
				require.ErrorContains(t, err, "not retried")
				require.False(t, bmc.IsTransient(err), "nor by the caller: %v", err)
			} else {
				require.NoError(t, err)
			}
		})
	}
}

func TestSetBootOverride(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	d := s.opened(t, nil)
	ctx := t.Context()

	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootLegacy}))
	s.set(func(s *stub) {
		require.Equal(t, map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "Legacy"}, s.boot)
	})
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootCD}), "no mode: the mode is left as it is")
	s.set(func(s *stub) { require.Equal(t, "Legacy", s.boot["BootSourceOverrideMode"]) })

	patches := s.count(func(s *stub) int { return s.patches })
	err := d.SetBootOverride(ctx, bmc.BootOverride{Device: "floppy"})
	require.ErrorIs(t, err, bmc.ErrInvalidArgument)
	require.Equal(t, patches, s.count(func(s *stub) int { return s.patches }), "invalid input is refused before any request")

	s.set(func(s *stub) { s.bootAllowed = []string{"None", "Hdd"} })
	err = d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE})
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "[None Hdd]")

	s.set(func(s *stub) {
		s.bootAllowed = nil
		s.revertBoot = true
		s.boot = map[string]string{"BootSourceOverrideTarget": "Hdd", "BootSourceOverrideEnabled": "Disabled"}
	})
	err = d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI})
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.ErrorContains(t, err, "asked for target Pxe, enabled Once, mode UEFI, the BMC reports target Hdd, enabled Disabled, mode (none)")
	require.False(t, bmc.IsTransient(err))
}

func TestConsoleHealth(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	d := s.driver(t, stubPass, nil)
	ctx := t.Context()
	_, err := d.ConsoleHealth(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })

	h, err := d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, h.Usable(), "%+v", h)
	require.Equal(t, "SerialConsole/IPMI", h.Console)
	require.Positive(t, h.Latency)

	s.set(func(s *stub) { s.serial, s.shell = false, true })
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, h.Usable(), "%+v", h)
	require.Equal(t, "CommandShell/SSH", h.Console)

	s.set(func(s *stub) { s.shell = false })
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.False(t, h.Enabled)
	require.ErrorContains(t, h.Err(), "console service disabled")
	require.Contains(t, h.Detail, mgrPath)

	s.set(func(s *stub) { s.serial, s.mgrState = true, "UnavailableOffline" })
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, h.Enabled)
	require.False(t, h.Answering)
	require.Contains(t, h.Detail, "UnavailableOffline")

	s.set(func(s *stub) {
		s.mgrState = "Enabled"
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path == mgrPath {
				panic(http.ErrAbortHandler)
			}
			return false
		}
	})
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, h.Reachable)
	require.True(t, h.Authenticated)
	require.False(t, h.Answering)
	require.Contains(t, h.Detail, mgrPath)

	s.set(func(s *stub) {
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool { panic(http.ErrAbortHandler) }
	})
	h, err = d.ConsoleHealth(ctx)
	require.NoError(t, err, "an unreachable BMC is a result")
	require.False(t, h.Reachable)
	require.NotEmpty(t, h.Detail)
	require.ErrorContains(t, h.Err(), "BMC unreachable")
}

func TestContext(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	d := s.driver(t, stubPass, nil)
	require.NoError(t, d.Open(t.Context()))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	s.set(func(s *stub) {
		s.intercept = func(w http.ResponseWriter, r *http.Request) bool {
			if r.URL.Path != sysPath {
				return false
			}
			select { // a BMC that never answers
			case <-r.Context().Done():
			case <-release:
			}
			return true
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := d.PowerState(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second, "the deadline bounds the call, retries included")

	done, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	err = d.SetPower(done, bmc.PowerActionOn)
	require.ErrorIs(t, err, context.Canceled)
	require.Less(t, time.Since(start), time.Second)
}

func TestTLS(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	ctx := t.Context()

	// The stub's certificate is self-signed: not trusted by default.
	d, err := redfishbmc.New(s.srv.URL, bmc.Credentials{Username: stubUser, Password: stubPass}, &redfishbmc.Options{Retry: fast})
	require.NoError(t, err)
	err = d.Open(ctx)
	require.Error(t, err)
	require.ErrorContains(t, err, "Options.RootCAs")
	require.False(t, bmc.IsTransient(err), "a certificate failure is not retried: %v", err)
	require.Zero(t, s.count(func(s *stub) int { return s.logins }), "no credentials were sent")
	noSecret(t, err)

	// Trusted through RootCAs.
	d = s.driver(t, stubPass, &redfishbmc.Options{RootCAs: s.pool()})
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.Close(ctx))

	// Or, explicitly, not verified.
	d = s.driver(t, stubPass, &redfishbmc.Options{InsecureSkipVerify: true})
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.Close(ctx))

	// Or through a client the caller built.
	d = s.driver(t, stubPass, &redfishbmc.Options{HTTPClient: s.srv.Client()})
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.Close(ctx))
}

func TestNewFromClient(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	ctx := t.Context()
	c, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint: s.srv.URL, Username: stubUser, Password: stubPass, HTTPClient: s.srv.Client(),
	})
	require.NoError(t, err)
	d, err := redfishbmc.NewFromClient(c, nil)
	require.NoError(t, err)
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.Close(ctx))
	s.set(func(s *stub) {
		require.Equal(t, 1, s.logins)
		require.Len(t, s.logouts, 1, "the driver took the client over and logged it out")
	})
	require.ErrorIs(t, d.Open(ctx), bmc.ErrNotOpen, "its session is gone")

	_, err = redfishbmc.NewFromClient(nil, nil)
	require.ErrorIs(t, err, bmc.ErrInvalidArgument)
}

// TestNoSecretsInLogs runs failing and succeeding calls with a debug
// logger and searches the output for the password and the tokens.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	logs := &bmctest.LogBuffer{}
	d := s.driver(t, stubPass, &redfishbmc.Options{Logger: logs.Logger()})
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE}))
	s.set(func(s *stub) { s.tokens = map[string]bool{} })
	_, err := d.PowerState(ctx)
	require.NoError(t, err)
	s.set(func(s *stub) { s.tokens = map[string]bool{}; s.pass = "other"; s.echo401 = true })
	_, err = d.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	noSecret(t, err)
	require.NoError(t, d.Close(ctx))
	require.NotEmpty(t, logs.String())
	require.NotContains(t, logs.String(), stubPass)
	require.NotContains(t, logs.String(), "tok-")
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newStub(t, false)
	d := s.opened(t, nil)
	ctx := t.Context()
	errs := make(chan error, 40)
	for i := range 40 {
		go func() {
			switch i % 4 {
			case 0:
				_, err := d.PowerState(ctx)
				errs <- err
			case 1:
				errs <- d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE})
			case 2:
				_, err := d.ConsoleHealth(ctx)
				errs <- err
			default:
				err := d.SetPower(ctx, bmc.PowerActionOn)
				if errors.Is(err, bmc.ErrInvalidPowerAction) {
					err = nil
				}
				errs <- err
			}
		}()
	}
	for range 40 {
		require.NoError(t, <-errs)
	}
}

// TestResetTypesFromActionInfo: a BMC that lists its ResetTypes in an
// ActionInfo resource, not inline, gets a type from that list.
func TestResetTypesFromActionInfo(t *testing.T) {
	t.Parallel()
	s := newStub(t, true)
	s.set(func(s *stub) {
		s.actionInfo = true
		s.allowed = []string{"ForceOn", "ForceOff"}
	})
	d := s.opened(t, &redfishbmc.Options{PowerTimeout: -1})
	require.NoError(t, d.SetPower(t.Context(), bmc.PowerActionOn))
	s.set(func(s *stub) { require.Equal(t, []string{"ForceOn"}, s.resets, "On is not offered: ForceOn") })
	require.NoError(t, d.SetPower(t.Context(), bmc.PowerActionCycle))
	s.set(func(s *stub) {
		require.Equal(t, []string{"ForceOn", "ForceOff", "ForceOn"}, s.resets, "no PowerCycle offered: ForceOff, then ForceOn")
	})
}
