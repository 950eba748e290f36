package redfishbmc_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
)

// stub is a minimal Redfish service, small enough to bend: one system
// (/redfish/v1/Systems/1) and its manager, sessions, and an intercept hook
// that answers any request first, to make the BMC misbehave in the ways
// the driver must map (401, 404, 503, dropped connections, slowness).
type stub struct {
	t   testing.TB
	srv *httptest.Server

	mu sync.Mutex
	// What the BMC accepts and reports.
	user, pass    string
	power         string   // Redfish PowerState; "" omits it
	allowed       []string // ResetType@Redfish.AllowableValues; nil omits it
	noReset       bool     // no #ComputerSystem.Reset action
	actionInfo    bool     // advertise the allowed ResetTypes through an ActionInfo resource
	boot          map[string]string
	bootAllowed   []string
	revertBoot    bool   // accept Boot PATCHes and forget them
	serial, shell bool   // manager SerialConsole / CommandShell ServiceEnabled
	mgrState      string // manager Status.State
	echo401       bool   // a 401 to a session POST quotes the request body, as some BMCs do
	transitReads  int    // after a reset, this many reads report PoweringOn/PoweringOff
	transit       int
	stuck         bool // resets are accepted and do nothing
	// What the BMC saw.
	tokens  map[string]bool
	logins  int      // session POSTs
	logouts []string // DELETEd session paths
	resets  []string // ResetTypes posted
	patches int
	gets    int // GETs of the system
	auth    []string
	// intercept, when set, sees every request first; it returns true when
	// it answered.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

const (
	stubUser = "admin"
	stubPass = "stub-Secret-5150"
	sysPath  = "/redfish/v1/Systems/1"
	mgrPath  = "/redfish/v1/Managers/bmc"
)

func newStub(t testing.TB, tls bool) *stub {
	s := &stub{
		t: t, user: stubUser, pass: stubPass, power: "Off",
		allowed:     []string{"On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle"},
		boot:        map[string]string{"BootSourceOverrideTarget": "None", "BootSourceOverrideEnabled": "Disabled", "BootSourceOverrideMode": "UEFI"},
		bootAllowed: []string{"None", "Pxe", "Hdd", "Cd"},
		serial:      true, mgrState: "Enabled",
		tokens: map[string]bool{},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Quiet: some tests make the handshake fail or drop connections on purpose.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *stub) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.srv.Certificate())
	return p
}

// driver returns a driver for the stub with fast retries and polling.
// opened returns an open driver with the right password, closed when the
// test ends.
func (s *stub) opened(t testing.TB, o *redfishbmc.Options) *redfishbmc.Driver {
	t.Helper()
	d := s.driver(t, stubPass, o)
	require.NoError(t, d.Open(t.Context()))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func (s *stub) driver(t testing.TB, password string, o *redfishbmc.Options) *redfishbmc.Driver {
	t.Helper()
	opts := redfishbmc.Options{}
	if o != nil {
		opts = *o
	}
	if opts.Retry == nil {
		opts.Retry = fast
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = time.Millisecond
	}
	if opts.RootCAs == nil && opts.HTTPClient == nil && !opts.InsecureSkipVerify && s.srv.TLS != nil {
		opts.RootCAs = s.pool()
	}
	if s.srv.TLS == nil {
		opts.AllowHTTP = true
	}
	d, err := redfishbmc.New(s.srv.URL, bmc.Credentials{Username: stubUser, Password: password}, &opts)
	require.NoError(t, err)
	return d
}

func (s *stub) set(f func(s *stub)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func (s *stub) count(f func(s *stub) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func redfishError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": "Base.1.8.GeneralError", "message": msg,
		"@Message.ExtendedInfo": []any{map[string]any{"MessageId": "Base.1.8.GeneralError", "Message": msg}},
	}})
}

func ref(p string) map[string]string { return map[string]string{"@odata.id": p} }

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	intercept := s.intercept
	s.mu.Unlock()
	if intercept != nil && intercept(w, r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := r.URL.Path
	switch {
	case p == "/redfish/v1/" || p == "/redfish/v1":
		writeJSON(w, 200, map[string]any{
			"@odata.id": "/redfish/v1/", "Id": "RootService", "RedfishVersion": "1.15.0",
			"Systems": ref("/redfish/v1/Systems"), "Managers": ref("/redfish/v1/Managers"),
			"SessionService": ref("/redfish/v1/SessionService"),
			"Links":          map[string]any{"Sessions": ref("/redfish/v1/SessionService/Sessions")},
		})
		return
	case p == "/redfish/v1/SessionService/Sessions" && r.Method == http.MethodPost:
		s.logins++
		body, _ := io.ReadAll(r.Body)
		var c struct{ UserName, Password string }
		_ = json.Unmarshal(body, &c)
		if c.UserName != s.user || c.Password != s.pass {
			msg := "invalid credentials"
			if s.echo401 {
				msg = "invalid credentials in request " + string(body)
			}
			redfishError(w, 401, msg)
			return
		}
		tok := "tok-" + strconv.Itoa(s.logins)
		s.tokens[tok] = true
		w.Header().Set("X-Auth-Token", tok)
		w.Header().Set("Location", "/redfish/v1/SessionService/Sessions/"+strconv.Itoa(s.logins))
		writeJSON(w, 201, map[string]any{"Id": strconv.Itoa(s.logins)})
		return
	}
	// Everything else needs a session or basic authentication.
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		s.auth = append(s.auth, "token")
		if !s.tokens[tok] {
			redfishError(w, 401, "no valid session")
			return
		}
	} else if u, pw, ok := r.BasicAuth(); ok {
		s.auth = append(s.auth, "basic")
		if u != s.user || pw != s.pass {
			redfishError(w, 401, "bad basic credentials")
			return
		}
	} else {
		redfishError(w, 401, "authentication required")
		return
	}
	switch {
	case len(p) > len("/redfish/v1/SessionService/Sessions/") && p[:len("/redfish/v1/SessionService/Sessions/")] == "/redfish/v1/SessionService/Sessions/" && r.Method == http.MethodDelete:
		s.logouts = append(s.logouts, p)
		delete(s.tokens, r.Header.Get("X-Auth-Token"))
		w.WriteHeader(204)
	case p == "/redfish/v1/Systems":
		writeJSON(w, 200, map[string]any{"Members@odata.count": 1, "Members": []any{ref(sysPath)}})
	case p == sysPath && r.Method == http.MethodGet:
		s.gets++
		sys := map[string]any{
			"@odata.id": sysPath, "Id": "1", "Name": "stub system",
			"Links": map[string]any{"ManagedBy": []any{ref(mgrPath)}},
		}
		if s.power != "" {
			sys["PowerState"] = s.power
		}
		if s.transit > 0 {
			s.transit--
			sys["PowerState"] = map[string]string{"On": "PoweringOn", "Off": "PoweringOff"}[s.power]
		}
		boot := map[string]any{"BootSourceOverrideTarget@Redfish.AllowableValues": s.bootAllowed}
		for k, v := range s.boot {
			boot[k] = v
		}
		sys["Boot"] = boot
		if !s.noReset {
			reset := map[string]any{"target": sysPath + "/Actions/ComputerSystem.Reset"}
			switch {
			case s.actionInfo:
				reset["@Redfish.ActionInfo"] = sysPath + "/ResetActionInfo"
			case s.allowed != nil:
				reset["ResetType@Redfish.AllowableValues"] = s.allowed
			}
			sys["Actions"] = map[string]any{"#ComputerSystem.Reset": reset}
		}
		writeJSON(w, 200, sys)
	case p == sysPath+"/ResetActionInfo" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{
			"@odata.id": p, "Id": "ResetActionInfo", "Name": "Reset Action Info",
			"Parameters": []map[string]any{{"Name": "ResetType", "Required": true, "DataType": "String", "AllowableValues": s.allowed}},
		})
	case p == sysPath && r.Method == http.MethodPatch:
		s.patches++
		var body struct{ Boot map[string]string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			redfishError(w, 400, "malformed")
			return
		}
		if !s.revertBoot {
			for k, v := range body.Boot {
				s.boot[k] = v
			}
		}
		w.WriteHeader(204)
	case p == sysPath+"/Actions/ComputerSystem.Reset" && r.Method == http.MethodPost:
		var body struct{ ResetType string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		s.resets = append(s.resets, body.ResetType)
		s.transit = s.transitReads
		if s.stuck {
			w.WriteHeader(204)
			return
		}
		switch body.ResetType {
		case "On", "ForceOn", "PowerCycle", "ForceRestart", "GracefulRestart":
			s.power = "On"
		case "ForceOff", "GracefulShutdown":
			s.power = "Off"
		}
		w.WriteHeader(204)
	case p == mgrPath && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{
			"@odata.id": mgrPath, "Id": "bmc", "ManagerType": "BMC",
			"Status":        map[string]any{"State": s.mgrState, "Health": "OK"},
			"SerialConsole": map[string]any{"ServiceEnabled": s.serial, "ConnectTypesSupported": []string{"IPMI", "SSH"}},
			"CommandShell":  map[string]any{"ServiceEnabled": s.shell, "ConnectTypesSupported": []string{"SSH"}},
		})
	default:
		redfishError(w, 404, fmt.Sprintf("no resource at %s", p))
	}
}
