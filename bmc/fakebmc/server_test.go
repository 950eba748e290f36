package fakebmc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// api is a small Redfish client over net/http for the server's tests.
type api struct {
	t     *testing.T
	base  string
	c     *http.Client
	token string
	basic *bmc.Credentials
}

func newServer(t *testing.T, opts *fakebmc.ServerOptions, systems map[string]*fakebmc.BMC) (*fakebmc.Server, *api) {
	t.Helper()
	s := fakebmc.NewServer(opts)
	for id, b := range systems {
		s.AddSystem(id, b)
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, &api{t: t, base: s.URL(), c: s.Client()}
}

// do sends a request and returns the status, headers and decoded JSON body
// (nil when empty); it fails the test on errors.
func (a *api) do(method, path string, body any) (int, http.Header, map[string]any) {
	a.t.Helper()
	st, h, out, err := a.try(method, path, body)
	require.NoError(a.t, err)
	return st, h, out
}

// try is do for any goroutine: it returns errors instead of failing.
func (a *api) try(method, path string, body any) (int, http.Header, map[string]any, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if a.token != "" {
		req.Header.Set("X-Auth-Token", a.token)
	}
	if a.basic != nil {
		req.SetBasicAuth(a.basic.Username, a.basic.Password)
	}
	resp, err := a.c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	var out map[string]any
	if len(raw) > 0 && method != http.MethodHead {
		if err := json.Unmarshal(raw, &out); err != nil {
			return 0, nil, nil, fmt.Errorf("%s %s answered %d with invalid JSON %q: %w", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, out, nil
}

func (a *api) login(user, pass string) (status int, location string) {
	a.t.Helper()
	st, h, _ := a.do(http.MethodPost, "/redfish/v1/SessionService/Sessions", map[string]string{"UserName": user, "Password": pass})
	if st == http.StatusCreated {
		a.token = h.Get("X-Auth-Token")
		require.NotEmpty(a.t, a.token)
	}
	return st, h.Get("Location")
}

func dig(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func TestServerServiceRoot(t *testing.T) {
	t.Parallel()
	_, a := newServer(t, nil, nil)
	for _, p := range []string{"/redfish/v1/", "/redfish/v1"} {
		st, h, root := a.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusOK, st, "the service root needs no authentication")
		require.Contains(t, h.Get("Content-Type"), "application/json")
		require.Equal(t, "4.0", h.Get("OData-Version"))
		require.Equal(t, "1.15.0", root["RedfishVersion"])
		require.NotEmpty(t, root["UUID"])
		require.Equal(t, "/redfish/v1/Systems", dig(root, "Systems", "@odata.id"))
		require.Equal(t, "/redfish/v1/Managers", dig(root, "Managers", "@odata.id"))
		require.Equal(t, "/redfish/v1/SessionService", dig(root, "SessionService", "@odata.id"))
		require.Equal(t, "/redfish/v1/SessionService/Sessions", dig(root, "Links", "Sessions", "@odata.id"))
	}
	st, _, body := a.do(http.MethodGet, "/redfish", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "/redfish/v1/", body["v1"])
	st, h, _ := a.do(http.MethodDelete, "/redfish/v1/", nil)
	require.Equal(t, http.StatusMethodNotAllowed, st)
	require.Contains(t, h.Get("Allow"), "GET")
}

func TestServerAuth(t *testing.T) {
	t.Parallel()
	s, a := newServer(t, &fakebmc.ServerOptions{Credentials: testCreds}, map[string]*fakebmc.BMC{"web01": fakebmc.New(nil)})

	for _, p := range []string{"/redfish/v1/Systems", "/redfish/v1/Systems/web01", "/redfish/v1/Managers/web01",
		"/redfish/v1/SessionService", "/redfish/v1/Systems/nope", "/redfish/v1/Nothing"} {
		st, h, body := a.do(http.MethodGet, p, nil)
		require.Equal(t, http.StatusUnauthorized, st, p)
		require.NotEmpty(t, h.Get("WWW-Authenticate"), p)
		require.NotEmpty(t, dig(body, "error", "message"), p)
	}

	st, _ := a.login("admin", "wrong")
	require.Equal(t, http.StatusUnauthorized, st, "wrong password")
	st, _ = a.login("root", testPassword)
	require.Equal(t, http.StatusUnauthorized, st, "wrong user")
	require.Zero(t, s.Sessions())

	a.token = "not-a-token"
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusUnauthorized, st, "unknown token")
	a.token = ""

	a.basic = &bmc.Credentials{Username: "admin", Password: "wrong"}
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusUnauthorized, st, "wrong basic auth")
	a.basic = &testCreds
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusOK, st, "basic auth")
	require.Zero(t, s.Sessions(), "basic auth opens no session")
}

func TestServerSessions(t *testing.T) {
	t.Parallel()
	s, a := newServer(t, &fakebmc.ServerOptions{MaxSessions: 2}, nil)
	st, loc := a.login(fakebmc.DefaultUsername, fakebmc.DefaultPassword)
	require.Equal(t, http.StatusCreated, st)
	require.True(t, strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/"), loc)
	require.Equal(t, 1, s.Sessions())

	st, _, sess := a.do(http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "admin", sess["UserName"])
	require.NotContains(t, sess, "Password")
	st, _, list := a.do(http.MethodGet, "/redfish/v1/SessionService/Sessions", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 1, list["Members@odata.count"])
	st, _, svc := a.do(http.MethodGet, "/redfish/v1/SessionService", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, true, svc["ServiceEnabled"])

	// The session limit.
	other := &api{t: t, base: a.base, c: a.c}
	st, _ = other.login("admin", "password")
	require.Equal(t, http.StatusCreated, st)
	third := &api{t: t, base: a.base, c: a.c}
	st, _ = third.login("admin", "password")
	require.Equal(t, http.StatusServiceUnavailable, st, "past MaxSessions")
	require.Equal(t, 2, s.Sessions())

	// Logout.
	st, _, _ = a.do(http.MethodDelete, loc, nil)
	require.Equal(t, http.StatusNoContent, st)
	require.Equal(t, 1, s.Sessions())
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusUnauthorized, st, "the token is gone with its session")
	st, _, _ = other.do(http.MethodDelete, loc, nil)
	require.Equal(t, http.StatusNotFound, st, "a session is deleted once")
	st, _, _ = other.do(http.MethodPut, "/redfish/v1/SessionService/Sessions/1", nil)
	require.Equal(t, http.StatusNotFound, st)

	st, _, _ = a.do(http.MethodPost, "/redfish/v1/SessionService/Sessions", "{not json")
	require.Equal(t, http.StatusBadRequest, st)
}

func TestServerSystem(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b, "web02": fakebmc.New(nil)})
	a.login("admin", "password")
	require.Equal(t, "web01", b.Host(), "AddSystem names the BMC")

	st, _, coll := a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 2, coll["Members@odata.count"])
	require.Equal(t, []any{
		map[string]any{"@odata.id": "/redfish/v1/Systems/web01"},
		map[string]any{"@odata.id": "/redfish/v1/Systems/web02"},
	}, coll["Members"])

	st, _, sys := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "web01", sys["Id"])
	require.Equal(t, "Off", sys["PowerState"])
	require.Equal(t, "None", dig(sys, "Boot", "BootSourceOverrideTarget"))
	require.Equal(t, "Disabled", dig(sys, "Boot", "BootSourceOverrideEnabled"))
	require.Equal(t, "UEFI", dig(sys, "Boot", "BootSourceOverrideMode"))
	require.Contains(t, dig(sys, "Boot", "BootSourceOverrideTarget@Redfish.AllowableValues"), "Pxe")
	target := dig(sys, "Actions", "#ComputerSystem.Reset", "target").(string)
	require.Equal(t, "/redfish/v1/Systems/web01/Actions/ComputerSystem.Reset", target)
	require.Subset(t, dig(sys, "Actions", "#ComputerSystem.Reset", "ResetType@Redfish.AllowableValues"),
		[]any{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle"})
	require.Equal(t, "/redfish/v1/Managers/web01", dig(sys, "Links", "ManagedBy").([]any)[0].(map[string]any)["@odata.id"])

	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems/nope", nil)
	require.Equal(t, http.StatusNotFound, st)
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems/web01/Nothing", nil)
	require.Equal(t, http.StatusNotFound, st)
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Chassis", nil)
	require.Equal(t, http.StatusNotFound, st)
	st, _, _ = a.do(http.MethodGet, "/elsewhere", nil)
	require.Equal(t, http.StatusNotFound, st)
	st, _, _ = a.do(http.MethodDelete, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusMethodNotAllowed, st)
	st, _, _ = a.do(http.MethodGet, target, nil)
	require.Equal(t, http.StatusMethodNotAllowed, st)
	st, _, _ = a.do(http.MethodPost, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusMethodNotAllowed, st)
	st, _, _ = a.do(http.MethodHead, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusOK, st)
}

func TestServerReset(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b})
	a.login("admin", "password")
	const target = "/redfish/v1/Systems/web01/Actions/ComputerSystem.Reset"
	reset := func(rt string) int {
		st, _, _ := a.do(http.MethodPost, target, map[string]string{"ResetType": rt})
		return st
	}
	power := func() string {
		_, _, sys := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
		return sys["PowerState"].(string)
	}
	require.Equal(t, http.StatusConflict, reset("PowerCycle"), "cycle while off")
	require.Equal(t, http.StatusNoContent, reset("On"))
	require.Equal(t, "On", power())
	require.Equal(t, http.StatusNoContent, reset("On"), "on while on is a no-op")
	require.Equal(t, http.StatusNoContent, reset("ForceRestart"))
	require.Equal(t, http.StatusNoContent, reset("PowerCycle"))
	require.Equal(t, 3, b.Boots())
	require.Equal(t, http.StatusNoContent, reset("GracefulShutdown"))
	require.Equal(t, "Off", power())
	require.Equal(t, http.StatusNoContent, reset("PushPowerButton"))
	require.Equal(t, "On", power())
	require.Equal(t, http.StatusNoContent, reset("ForceOff"))
	require.Equal(t, bmc.PowerOff, b.PowerState())

	require.Equal(t, http.StatusBadRequest, reset("Explode"))
	require.Equal(t, http.StatusBadRequest, reset(""))
	st, _, body := a.do(http.MethodPost, target, "{bad json")
	require.Equal(t, http.StatusBadRequest, st)
	require.Equal(t, "Base.1.16.MalformedJSON", dig(body, "error", "code"))
	st, _, _ = a.do(http.MethodPost, target, `{"ResetType": 7}`)
	require.Equal(t, http.StatusBadRequest, st)

	var kinds []string
	for _, op := range b.Ops() {
		kinds = append(kinds, string(op.Kind)+":"+op.Detail)
	}
	require.Contains(t, kinds, "set-power:ForceRestart")
	require.Contains(t, kinds, "get-system:")
}

func TestServerBootPatch(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{UEFIOnly: true})
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b})
	a.login("admin", "password")
	const sys = "/redfish/v1/Systems/web01"
	patch := func(boot map[string]string) int {
		st, _, _ := a.do(http.MethodPatch, sys, map[string]any{"Boot": boot})
		return st
	}
	require.Equal(t, http.StatusNoContent, patch(map[string]string{
		"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}))
	o, ok := b.PendingBootOverride()
	require.True(t, ok)
	require.Equal(t, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}, o)
	_, _, got := a.do(http.MethodGet, sys, nil)
	require.Equal(t, "Pxe", dig(got, "Boot", "BootSourceOverrideTarget"))
	require.Equal(t, "Once", dig(got, "Boot", "BootSourceOverrideEnabled"))
	require.Equal(t, []any{"UEFI"}, dig(got, "Boot", "BootSourceOverrideMode@Redfish.AllowableValues"))

	require.Equal(t, http.StatusNoContent, patch(map[string]string{"BootSourceOverrideEnabled": "Disabled"}))
	_, ok = b.PendingBootOverride()
	require.False(t, ok, "Disabled clears the override")

	require.Equal(t, http.StatusNoContent, patch(map[string]string{"BootSourceOverrideTarget": "Cd"}))
	o, _ = b.PendingBootOverride()
	require.Equal(t, bmc.BootCD, o.Device, "Enabled defaults to Once")
	require.Equal(t, http.StatusNoContent, patch(map[string]string{"BootSourceOverrideTarget": "None"}))
	_, ok = b.PendingBootOverride()
	require.False(t, ok, "None clears the override")

	require.Equal(t, http.StatusBadRequest, patch(map[string]string{"BootSourceOverrideTarget": "Floppy"}))
	require.Equal(t, http.StatusBadRequest, patch(map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Continuous"}))
	require.Equal(t, http.StatusBadRequest, patch(map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideMode": "BIOS"}))
	require.Equal(t, http.StatusBadRequest, patch(map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideMode": "Legacy"}), "UEFI only")
	require.Equal(t, http.StatusBadRequest, patch(map[string]string{"BootSourceOverrideEnabled": "Once"}), "Once without a target")
	st, _, _ := a.do(http.MethodPatch, sys, map[string]any{"AssetTag": "x"})
	require.Equal(t, http.StatusBadRequest, st)
	st, _, _ = a.do(http.MethodPatch, sys, "[1,2")
	require.Equal(t, http.StatusBadRequest, st)
	_, ok = b.PendingBootOverride()
	require.False(t, ok, "bad requests change nothing")

	// The override is consumed by the next boot.
	require.Equal(t, http.StatusNoContent, patch(map[string]string{"BootSourceOverrideTarget": "Pxe"}))
	st, _, _ = a.do(http.MethodPost, sys+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"})
	require.Equal(t, http.StatusNoContent, st)
	require.Equal(t, bmc.BootPXE, b.LastBoot().Device)
	_, _, got = a.do(http.MethodGet, sys, nil)
	require.Equal(t, "None", dig(got, "Boot", "BootSourceOverrideTarget"))

	// A BMC that reverts overrides accepts the PATCH and reports none.
	b.SetRevertBootOverride(true)
	require.Equal(t, http.StatusNoContent, patch(map[string]string{"BootSourceOverrideTarget": "Pxe"}))
	_, _, got = a.do(http.MethodGet, sys, nil)
	require.Equal(t, "None", dig(got, "Boot", "BootSourceOverrideTarget"))
}

func TestServerManager(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b})
	a.login("admin", "password")
	const mgr = "/redfish/v1/Managers/web01"

	st, _, coll := a.do(http.MethodGet, "/redfish/v1/Managers", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 1, coll["Members@odata.count"])

	st, _, m := a.do(http.MethodGet, mgr, nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "BMC", m["ManagerType"])
	require.Equal(t, true, dig(m, "SerialConsole", "ServiceEnabled"))
	require.Equal(t, []any{"SSH", "IPMI"}, dig(m, "SerialConsole", "ConnectTypesSupported"))
	require.Equal(t, true, dig(m, "CommandShell", "ServiceEnabled"))
	require.Equal(t, true, dig(m, "Oem", "FakeBMC", "ConsoleAnswering"))
	require.Equal(t, "/redfish/v1/Systems/web01", dig(m, "Links", "ManagerForServers").([]any)[0].(map[string]any)["@odata.id"])

	require.Equal(t, "Enabled", dig(m, "Status", "State"))
	_, _, sys := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, true, dig(sys, "SerialConsole", "SSH", "ServiceEnabled"))

	b.SetConsole(true, false)
	_, _, m = a.do(http.MethodGet, mgr, nil)
	require.Equal(t, true, dig(m, "SerialConsole", "ServiceEnabled"))
	require.Equal(t, false, dig(m, "Oem", "FakeBMC", "ConsoleAnswering"))
	require.Equal(t, "UnavailableOffline", dig(m, "Status", "State"))
	b.SetConsole(false, true)
	_, _, m = a.do(http.MethodGet, mgr, nil)
	require.Equal(t, false, dig(m, "SerialConsole", "ServiceEnabled"))
	require.Equal(t, false, dig(m, "CommandShell", "ServiceEnabled"))
	_, _, sys = a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, false, dig(sys, "SerialConsole", "SSH", "ServiceEnabled"))

	st, _, _ = a.do(http.MethodPost, mgr+"/Actions/Manager.Reset", map[string]string{"ResetType": "GracefulRestart"})
	require.Equal(t, http.StatusNoContent, st)
	require.Equal(t, 1, b.BMCResets())
	st, _, _ = a.do(http.MethodPost, mgr+"/Actions/Manager.Reset", map[string]string{"ResetType": "Explode"})
	require.Equal(t, http.StatusBadRequest, st)

	// Virtual media.
	st, _, _ = a.do(http.MethodPost, mgr+"/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia",
		map[string]any{"Image": "https://u:s3cr3t@images.example/boot.iso", "Inserted": true})
	require.Equal(t, http.StatusNoContent, st)
	st, _, cd := a.do(http.MethodGet, mgr+"/VirtualMedia/CD", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, true, cd["Inserted"])
	require.NotContains(t, cd["Image"], "s3cr3t")
	st, _, _ = a.do(http.MethodPost, mgr+"/VirtualMedia/CD/Actions/VirtualMedia.EjectMedia", map[string]any{})
	require.Equal(t, http.StatusNoContent, st)
	require.Empty(t, b.Media())
	st, _, _ = a.do(http.MethodPost, mgr+"/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia", map[string]any{"Image": "nfs:/x"})
	require.Equal(t, http.StatusBadRequest, st)
	st, _, vm := a.do(http.MethodGet, mgr+"/VirtualMedia", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 1, vm["Members@odata.count"])

	// The event log.
	st, _, _ = a.do(http.MethodPost, "/redfish/v1/Systems/web01/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"})
	require.Equal(t, http.StatusNoContent, st)
	st, _, ls := a.do(http.MethodGet, "/redfish/v1/Systems/web01/LogServices", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 1, ls["Members@odata.count"])
	st, _, sel := a.do(http.MethodGet, "/redfish/v1/Systems/web01/LogServices/SEL", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "SEL", sel["Id"])
	st, _, entries := a.do(http.MethodGet, "/redfish/v1/Systems/web01/LogServices/SEL/Entries", nil)
	require.Equal(t, http.StatusOK, st)
	require.EqualValues(t, 2, entries["Members@odata.count"]) // the BMC reset, the power on
	require.Contains(t, entries["Members"].([]any)[1].(map[string]any)["Message"], "power action on")
}

func TestServerInjectedFailures(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(nil)
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b})
	a.login("admin", "password")

	b.FailNext(1, nil)
	st, h, body := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusServiceUnavailable, st, "a transient failure answers 503")
	require.Equal(t, "1", h.Get("Retry-After"))
	require.NotEmpty(t, dig(body, "error", "message"))
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusOK, st)

	b.FailNext(1, fmt.Errorf("no such thing: %w", bmc.ErrNotFound))
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusNotFound, st)
	b.FailNext(1, errors.New("firmware bug"))
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusInternalServerError, st)

	// The collection and the sessions do not go through the BMC.
	b.FailNext(1, nil)
	st, _, _ = a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.Equal(t, http.StatusOK, st)
	b.FailNext(0, nil)

	// An unreachable BMC closes the connection without an answer.
	b.SetReachable(false)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.base+"/redfish/v1/Systems/web01", nil)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", a.token)
	resp, err := a.c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	b.SetReachable(true)
}

func TestServerLatency(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{Latency: 100 * time.Millisecond})
	_, a := newServer(t, nil, map[string]*fakebmc.BMC{"web01": b})
	a.login("admin", "password")
	start := time.Now()
	st, _, _ := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusOK, st)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)

	// A client that gives up ends the operation on the BMC too.
	b.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/redfish/v1/Systems/web01", nil)
	require.NoError(t, err)
	req.Header.Set("X-Auth-Token", a.token)
	_, err = a.c.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Eventually(t, func() bool {
		ops := b.Ops()
		return !ops[len(ops)-1].End.IsZero()
	}, 5*time.Second, 10*time.Millisecond)
}

func TestServerTLS(t *testing.T) {
	t.Parallel()
	s := fakebmc.NewServer(nil)
	s.AddSystem("web01", fakebmc.New(nil))
	s.StartTLS()
	t.Cleanup(s.Close)
	require.True(t, strings.HasPrefix(s.URL(), "https://127.0.0.1:"), s.URL())
	require.NotNil(t, s.Certificate())

	a := &api{t: t, base: s.URL(), c: s.Client(), basic: &bmc.Credentials{Username: "admin", Password: "password"}}
	st, _, sys := a.do(http.MethodGet, "/redfish/v1/Systems/web01", nil)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "Off", sys["PowerState"])

	// A client that does not trust the certificate is refused.
	_, err := http.Get(s.URL() + "/redfish/v1/")
	require.Error(t, err)
}

func TestServerHandlerAndLifecycle(t *testing.T) {
	t.Parallel()
	s := fakebmc.NewServer(nil)
	require.Empty(t, s.URL())
	require.Nil(t, s.Certificate())
	s.Close() // before Start: fine
	require.NotNil(t, s.Handler())

	b := fakebmc.New(&fakebmc.Options{Host: "kept"})
	s.AddSystem("web01", b)
	require.Equal(t, "kept", b.Host(), "a BMC keeps its own host name")
	got, ok := s.System("web01")
	require.True(t, ok)
	require.Same(t, b, got)
	require.Equal(t, 1, s.Len())
	s.RemoveSystem("web01")
	_, ok = s.System("web01")
	require.False(t, ok)
	require.Panics(t, func() { s.AddSystem("a/b", fakebmc.New(nil)) })
	require.Panics(t, func() { s.AddSystem("", fakebmc.New(nil)) })
}

func TestServerManySystemsConcurrently(t *testing.T) {
	t.Parallel()
	const n = 500
	s := fakebmc.NewServer(nil)
	bmcs := make([]*fakebmc.BMC, n)
	for i := range bmcs {
		bmcs[i] = fakebmc.New(nil)
		s.AddSystem(fmt.Sprintf("node%04d", i), bmcs[i])
	}
	s.Start()
	t.Cleanup(s.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	t.Cleanup(tr.CloseIdleConnections)
	a := &api{t: t, base: s.URL(), c: &http.Client{Transport: tr}}
	a.login("admin", "password")

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			path := fmt.Sprintf("/redfish/v1/Systems/node%04d", i)
			st, _, _, err := a.try(http.MethodPost, path+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "On"})
			if err == nil && st != http.StatusNoContent {
				err = fmt.Errorf("reset %s: status %d", path, st)
			}
			if err == nil {
				var sys map[string]any
				st, _, sys, err = a.try(http.MethodGet, path, nil)
				if err == nil && (st != http.StatusOK || sys["PowerState"] != "On") {
					err = fmt.Errorf("get %s: status %d, power %v", path, st, sys["PowerState"])
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, b := range bmcs {
		require.Equal(t, bmc.PowerOn, b.PowerState())
		require.Empty(t, b.Overlaps())
	}
	_, _, coll := a.do(http.MethodGet, "/redfish/v1/Systems", nil)
	require.EqualValues(t, n, coll["Members@odata.count"])
	require.GreaterOrEqual(t, s.Requests(), int64(2*n))
}

func TestServerCloseEndsSlowRequests(t *testing.T) {
	t.Parallel()
	b := fakebmc.New(&fakebmc.Options{Latency: time.Hour})
	s := fakebmc.NewServer(nil)
	s.AddSystem("web01", b)
	s.Start()
	a := &api{t: t, base: s.URL(), c: s.Client(), basic: &bmc.Credentials{Username: "admin", Password: "password"}}
	errc := make(chan error, 1)
	go func() {
		_, _, _, err := a.try(http.MethodGet, "/redfish/v1/Systems/web01", nil)
		errc <- err
	}()
	require.Eventually(t, func() bool { return b.OpCount() == 1 }, 5*time.Second, 5*time.Millisecond)
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a request that takes an hour")
	}
	require.Error(t, <-errc)
	require.Eventually(t, func() bool { return !b.Ops()[0].End.IsZero() }, 5*time.Second, 5*time.Millisecond)
}
