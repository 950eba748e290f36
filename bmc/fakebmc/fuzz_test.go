package fakebmc_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// FuzzHandler sends arbitrary requests to the Redfish handler: it never
// panics, always answers a known status with valid JSON (or nothing), and
// leaves the system in a state it can be in.
func FuzzHandler(f *testing.F) {
	for _, seed := range []struct{ method, path, body string }{
		{"GET", "/redfish/v1/", ""},
		{"GET", "/redfish/v1/Systems/web01", ""},
		{"PATCH", "/redfish/v1/Systems/web01", `{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI"}}`},
		{"PATCH", "/redfish/v1/Systems/web01", `{"Boot":{"BootSourceOverrideEnabled":"Disabled"}}`},
		{"POST", "/redfish/v1/Systems/web01/Actions/ComputerSystem.Reset", `{"ResetType":"On"}`},
		{"POST", "/redfish/v1/Systems/web01/Actions/ComputerSystem.Reset", `{"ResetType":"PowerCycle"}`},
		{"POST", "/redfish/v1/SessionService/Sessions", `{"UserName":"admin","Password":"password"}`},
		{"DELETE", "/redfish/v1/SessionService/Sessions/1", ""},
		{"POST", "/redfish/v1/Managers/web01/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia", `{"Image":"http://x/y.iso"}`},
		{"GET", "/redfish/v1/Systems/web01/LogServices/SEL/Entries", ""},
		{"GET", "/redfish/v1//Systems//web01/", ""},
		{"PUT", "/redfish/v1/Managers/web01/Actions/Manager.Reset", "{"},
	} {
		f.Add(seed.method, seed.path, seed.body)
	}
	known := map[int]bool{200: true, 201: true, 204: true, 400: true, 401: true, 404: true, 405: true, 409: true, 503: true}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(method, "http://fake"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client can send
		}
		b := fakebmc.New(&fakebmc.Options{Host: "web01"})
		s := fakebmc.NewServer(&fakebmc.ServerOptions{MaxSessions: 1})
		s.AddSystem("web01", b)
		req.SetBasicAuth(fakebmc.DefaultUsername, fakebmc.DefaultPassword)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if !known[rec.Code] {
			t.Fatalf("%s %q answered %d", method, path, rec.Code)
		}
		if out := rec.Body.Bytes(); len(out) > 0 && method != http.MethodHead && !json.Valid(out) {
			t.Fatalf("%s %q answered invalid JSON: %q", method, path, out)
		}
		switch b.PowerState() {
		case bmc.PowerOn, bmc.PowerOff:
		default:
			t.Fatalf("power state %q", b.PowerState())
		}
		if o, ok := b.PendingBootOverride(); ok && o.Validate() != nil {
			t.Fatalf("invalid pending override %+v", o)
		}
	})
}
