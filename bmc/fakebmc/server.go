package fakebmc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
)

// ServerOptions configure a Server. A nil *ServerOptions, and every zero
// field, means the default.
type ServerOptions struct {
	// Credentials the service accepts, for sessions and basic auth
	// (default admin / password). They are the service's, like a Redfish
	// aggregator's: the Credentials of the BMCs added are for their
	// in-process drivers only.
	Credentials bmc.Credentials
	// MaxSessions limits the sessions open at once (0: no limit); creating
	// one more answers 503, as BMCs with few session slots do.
	MaxSessions int
	// UUID of the service (default: a fixed UUID).
	UUID string
	// Now is the clock for session creation times (default time.Now).
	Now func() time.Time
}

// Server serves many simulated BMCs as one Redfish service: each BMC added
// with AddSystem is a ComputerSystem at /redfish/v1/Systems/{id} and its
// Manager at /redfish/v1/Managers/{id}. It implements what the gofish
// client (and bmc/redfishbmc) use:
//
//   - GET /redfish/v1/ (no authentication): RedfishVersion, UUID, links to
//     Systems, Managers, SessionService and Links.Sessions;
//   - the SessionService and its Sessions: POST with UserName and Password
//     (no authentication) answers 201 with X-Auth-Token and Location; DELETE
//     of the Location logs out; wrong credentials answer 401;
//   - Systems and Systems/{id}: PowerState, Boot (override target, enabled,
//     mode, with their @Redfish.AllowableValues), SerialConsole (SSH
//     ServiceEnabled), Links.ManagedBy, PATCH of Boot, and
//     Actions/ComputerSystem.Reset (On, ForceOn, ForceOff, GracefulShutdown,
//     GracefulRestart, ForceRestart, PowerCycle, PushPowerButton);
//   - Systems/{id}/LogServices/SEL/Entries: the BMC's event log;
//   - Managers and Managers/{id}: SerialConsole and CommandShell
//     (ServiceEnabled, ConnectTypesSupported), Links.ManagerForServers,
//     Actions/Manager.Reset, and VirtualMedia/CD with the InsertMedia and
//     EjectMedia actions.
//
// The console's state shows as ServiceEnabled on the system's and the
// manager's consoles; a console that is enabled but does not answer
// (BMC.SetConsole(true, false)) shows as a manager whose Status.State is
// UnavailableOffline, and as Oem.FakeBMC.ConsoleAnswering false.
//
// Every other request needs an X-Auth-Token of an open session or basic
// authentication, and answers 401 without. Unknown resources answer 404,
// wrong methods 405, malformed JSON or unknown values 400, and a power
// action that makes no sense (bmc.CheckPowerAction) 409. Requests that
// touch a system go through its BMC: they wait its latency, are recorded
// in its Ops, and fail as injected: a transient failure answers 503, an
// unreachable BMC closes the connection without an answer.
//
// A Server is safe for concurrent use; lookups are by map, and the hot
// resources are rendered without reflection, so one Server serves
// thousands of systems.
type Server struct {
	creds       bmc.Credentials
	maxSessions int
	now         func() time.Time
	root        []byte
	sessionSvc  []byte
	handler     http.Handler
	requests    atomic.Int64

	mu          sync.RWMutex
	systems     map[string]*system
	systemsJSON []byte // cached collections, nil when stale
	mgrsJSON    []byte

	smu         sync.RWMutex
	sessions    map[string]*session // by token
	sessionIDs  map[string]string   // id -> token
	nextSession uint64

	hs *httptest.Server
}

type system struct {
	id  string
	b   *BMC
	sys string // /redfish/v1/Systems/{id}
	mgr string // /redfish/v1/Managers/{id}
	// Static parts of the rendered resources.
	sysHead, mgrHead []byte
}

type session struct {
	id, user string
	created  time.Time
}

// Redfish paths.
const (
	pathRoot     = "/redfish/v1/"
	pathSystems  = "/redfish/v1/Systems"
	pathManagers = "/redfish/v1/Managers"
	pathSessSvc  = "/redfish/v1/SessionService"
	pathSessions = "/redfish/v1/SessionService/Sessions"
)

const defaultUUID = "4f1b2c3d-0000-4000-8000-00000000fa4e"

// NewServer returns a Server with no systems, not yet listening: add
// systems, then Start or StartTLS, or mount Handler yourself.
func NewServer(opts *ServerOptions) *Server {
	var o ServerOptions
	if opts != nil {
		o = *opts
	}
	if o.Credentials == (bmc.Credentials{}) {
		o.Credentials = bmc.Credentials{Username: DefaultUsername, Password: DefaultPassword}
	}
	if o.UUID == "" {
		o.UUID = defaultUUID
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		creds:       o.Credentials,
		maxSessions: o.MaxSessions,
		now:         o.Now,
		systems:     make(map[string]*system),
		sessions:    make(map[string]*session),
		sessionIDs:  make(map[string]string),
	}
	s.root = mustJSON(map[string]any{
		"@odata.id":      pathRoot,
		"@odata.type":    "#ServiceRoot.v1_15_0.ServiceRoot",
		"Id":             "RootService",
		"Name":           "fakebmc Redfish service",
		"RedfishVersion": "1.15.0",
		"UUID":           o.UUID,
		"Product":        "fakebmc",
		"Vendor":         "fleetkit",
		"Systems":        odataID(pathSystems),
		"Managers":       odataID(pathManagers),
		"SessionService": odataID(pathSessSvc),
		"Links":          map[string]any{"Sessions": odataID(pathSessions)},
	})
	s.sessionSvc = mustJSON(map[string]any{
		"@odata.id":      pathSessSvc,
		"@odata.type":    "#SessionService.v1_1_8.SessionService",
		"Id":             "SessionService",
		"Name":           "Session Service",
		"ServiceEnabled": true,
		"SessionTimeout": 1800,
		"Sessions":       odataID(pathSessions),
	})
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s
}

func odataID(p string) map[string]string { return map[string]string{"@odata.id": p} }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// AddSystem serves b as the system (and manager) id, replacing any system
// of that id. id must be non-empty and free of '/', '?', '#' and control
// characters; AddSystem panics otherwise. When b has no Host yet it takes
// id, so its Ops name the system.
func (s *Server) AddSystem(id string, b *BMC) {
	if id == "" || strings.ContainsAny(id, "/?#%") || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		panic(fmt.Sprintf("fakebmc: AddSystem: bad system id %q", id))
	}
	b.mu.Lock()
	if b.host == "" {
		b.host = id
	}
	b.mu.Unlock()
	sys := newSystem(id, b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.systems[id] = sys
	s.systemsJSON, s.mgrsJSON = nil, nil
}

// RemoveSystem stops serving the system id.
func (s *Server) RemoveSystem(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.systems, id)
	s.systemsJSON, s.mgrsJSON = nil, nil
}

// System returns the BMC served as id.
func (s *Server) System(id string) (*BMC, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	sys, ok := s.systems[id]
	if !ok {
		return nil, false
	}
	return sys.b, true
}

// Len counts the systems served.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.systems)
}

// Sessions counts the Redfish sessions open on the service.
func (s *Server) Sessions() int {
	s.smu.RLock()
	defer s.smu.RUnlock()
	return len(s.sessions)
}

// Requests counts the HTTP requests served so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Handler returns the http.Handler serving the Redfish service, to mount
// in a server of your own.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on a loopback port and serves plain HTTP. Call Start or
// StartTLS once, before the Server is shared with other goroutines.
func (s *Server) Start() {
	s.hs = httptest.NewUnstartedServer(s.handler)
	s.hs.Start()
}

// StartTLS listens on a loopback port and serves HTTPS with a self-signed
// certificate (see Certificate and Client).
//
// Like the BMCs it stands for, it offers classic key exchanges (X25519,
// P-256) and not the post-quantum hybrid Go prefers by default, whose
// handshakes cost several times the CPU.
func (s *Server) StartTLS() {
	s.hs = httptest.NewUnstartedServer(s.handler)
	s.hs.TLS = &tls.Config{CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}}
	s.hs.StartTLS()
}

// URL returns the service's base URL, e.g. "http://127.0.0.1:41234"
// (gofish's Endpoint); empty before Start.
func (s *Server) URL() string {
	if s.hs == nil {
		return ""
	}
	return s.hs.URL
}

// Certificate returns the certificate of a server started with StartTLS,
// or nil.
func (s *Server) Certificate() *x509.Certificate {
	if s.hs == nil {
		return nil
	}
	return s.hs.Certificate()
}

// Client returns an HTTP client for the server: for StartTLS, one that
// trusts its certificate.
func (s *Server) Client() *http.Client {
	if s.hs == nil {
		return http.DefaultClient
	}
	return s.hs.Client()
}

// Close stops listening, drops every connection (requests in flight end
// as if the BMCs went away, and their operations are cancelled) and waits
// for the handlers to return. It is safe to call more than once, and
// before Start.
func (s *Server) Close() {
	if s.hs != nil {
		s.hs.CloseClientConnections()
		s.hs.Close()
	}
}

// --- rendering ----------------------------------------------------------

func newSystem(id string, b *BMC) *system {
	esc := url.PathEscape(id)
	sys := &system{id: id, b: b, sys: pathSystems + "/" + esc, mgr: pathManagers + "/" + esc}
	var h []byte
	h = append(h, `{"@odata.id":`...)
	h = appendJSONString(h, sys.sys)
	h = append(h, `,"@odata.type":"#ComputerSystem.v1_20_0.ComputerSystem","Id":`...)
	h = appendJSONString(h, id)
	h = append(h, `,"Name":`...)
	h = appendJSONString(h, id)
	h = append(h, `,"SystemType":"Physical","Manufacturer":"fleetkit","Model":"fakebmc","Status":{"State":"Enabled","Health":"OK"}`...)
	h = append(h, `,"Actions":{"#ComputerSystem.Reset":{"target":`...)
	h = appendJSONString(h, sys.sys+"/Actions/ComputerSystem.Reset")
	h = append(h, `,"ResetType@Redfish.AllowableValues":["On","ForceOn","ForceOff","GracefulShutdown","GracefulRestart","ForceRestart","PowerCycle","PushPowerButton"]}}`...)
	h = append(h, `,"LogServices":{"@odata.id":`...)
	h = appendJSONString(h, sys.sys+"/LogServices")
	h = append(h, `},"Links":{"ManagedBy":[{"@odata.id":`...)
	h = appendJSONString(h, sys.mgr)
	h = append(h, `}]}`...)
	sys.sysHead = h

	h = nil
	h = append(h, `{"@odata.id":`...)
	h = appendJSONString(h, sys.mgr)
	h = append(h, `,"@odata.type":"#Manager.v1_19_0.Manager","Id":`...)
	h = appendJSONString(h, id)
	h = append(h, `,"Name":`...)
	h = appendJSONString(h, "BMC of "+id)
	h = append(h, `,"ManagerType":"BMC","FirmwareVersion":"fakebmc-1.0"`...)
	h = append(h, `,"Links":{"ManagerForServers":[{"@odata.id":`...)
	h = appendJSONString(h, sys.sys)
	h = append(h, `}]},"Actions":{"#Manager.Reset":{"target":`...)
	h = appendJSONString(h, sys.mgr+"/Actions/Manager.Reset")
	h = append(h, `,"ResetType@Redfish.AllowableValues":["ForceRestart","GracefulRestart"]}}`...)
	h = append(h, `,"VirtualMedia":{"@odata.id":`...)
	h = appendJSONString(h, sys.mgr+"/VirtualMedia")
	h = append(h, `}`...)
	sys.mgrHead = h
	return sys
}

var powerStates = map[bmc.PowerState]string{
	bmc.PowerOn:          "On",
	bmc.PowerOff:         "Off",
	bmc.PowerPoweringOn:  "PoweringOn",
	bmc.PowerPoweringOff: "PoweringOff",
}

var bootTargets = map[bmc.BootDevice]string{bmc.BootPXE: "Pxe", bmc.BootDisk: "Hdd", bmc.BootCD: "Cd"}

var bootModes = map[bmc.BootMode]string{bmc.BootUEFI: "UEFI", bmc.BootLegacy: "Legacy"}

// renderLocked appends the system resource; b.mu is held.
func (sys *system) renderLocked(buf []byte) []byte {
	b := sys.b
	buf = append(buf, sys.sysHead...)
	if ps, ok := powerStates[b.powerLocked()]; ok {
		buf = append(buf, `,"PowerState":"`...)
		buf = append(buf, ps...)
		buf = append(buf, '"')
	}
	target, enabled, mode := "None", "Disabled", bootModes[b.bootMode]
	if o, ok := b.bootOverrideLocked(); ok {
		target, enabled, mode = bootTargets[o.Device], "Once", bootModes[o.Mode]
	}
	buf = append(buf, `,"Boot":{"BootSourceOverrideTarget":"`...)
	buf = append(buf, target...)
	buf = append(buf, `","BootSourceOverrideEnabled":"`...)
	buf = append(buf, enabled...)
	buf = append(buf, `","BootSourceOverrideMode":"`...)
	buf = append(buf, mode...)
	buf = append(buf, `","BootSourceOverrideTarget@Redfish.AllowableValues":["None","Pxe","Hdd","Cd"],"BootSourceOverrideEnabled@Redfish.AllowableValues":["Disabled","Once"],"BootSourceOverrideMode@Redfish.AllowableValues":`...)
	if b.uefiOnly {
		buf = append(buf, `["UEFI"]}`...)
	} else {
		buf = append(buf, `["UEFI","Legacy"]}`...)
	}
	console := strconv.FormatBool(!b.consoleOff)
	buf = append(buf, `,"SerialConsole":{"MaxConcurrentSessions":1,"SSH":{"ServiceEnabled":`...)
	buf = append(buf, console...)
	buf = append(buf, `,"Port":2200}}}`...)
	return buf
}

// renderManagerLocked appends the manager resource; b.mu is held.
func (sys *system) renderManagerLocked(buf []byte) []byte {
	b := sys.b
	enabled := strconv.FormatBool(!b.consoleOff)
	answering := strconv.FormatBool(!b.consoleOff && !b.consoleMute)
	buf = append(buf, sys.mgrHead...)
	if answering == "true" || enabled == "false" {
		buf = append(buf, `,"Status":{"State":"Enabled","Health":"OK"}`...)
	} else { // the console service is enabled but does not answer
		buf = append(buf, `,"Status":{"State":"UnavailableOffline","Health":"Critical"}`...)
	}
	buf = append(buf, `,"SerialConsole":{"ServiceEnabled":`...)
	buf = append(buf, enabled...)
	buf = append(buf, `,"MaxConcurrentSessions":1,"ConnectTypesSupported":["SSH","IPMI"],"SSH":{"ServiceEnabled":`...)
	buf = append(buf, enabled...)
	buf = append(buf, `,"Port":2200},"IPMI":{"ServiceEnabled":`...)
	buf = append(buf, enabled...)
	buf = append(buf, `}},"CommandShell":{"ServiceEnabled":`...)
	buf = append(buf, enabled...)
	buf = append(buf, `,"MaxConcurrentSessions":4,"ConnectTypesSupported":["SSH"]},"Oem":{"FakeBMC":{"ConsoleAnswering":`...)
	buf = append(buf, answering...)
	buf = append(buf, `}}}`...)
	return buf
}

func (s *Server) collections() (systems, managers []byte) {
	s.mu.RLock()
	systems, managers = s.systemsJSON, s.mgrsJSON
	s.mu.RUnlock()
	if systems != nil {
		return systems, managers
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.systemsJSON == nil {
		all := make([]*system, 0, len(s.systems))
		for _, sys := range s.systems {
			all = append(all, sys)
		}
		slices.SortFunc(all, func(a, b *system) int { return strings.Compare(a.id, b.id) })
		render := func(self, typ, name string, uri func(*system) string) []byte {
			var buf []byte
			buf = append(buf, `{"@odata.id":"`+self+`","@odata.type":"`+typ+`","Name":"`+name+`","Members@odata.count":`...)
			buf = strconv.AppendInt(buf, int64(len(all)), 10)
			buf = append(buf, `,"Members":[`...)
			for i, sys := range all {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = append(buf, `{"@odata.id":`...)
				buf = appendJSONString(buf, uri(sys))
				buf = append(buf, '}')
			}
			return append(buf, "]}"...)
		}
		s.systemsJSON = render(pathSystems, "#ComputerSystemCollection.ComputerSystemCollection", "Computer System Collection",
			func(sys *system) string { return sys.sys })
		s.mgrsJSON = render(pathManagers, "#ManagerCollection.ManagerCollection", "Manager Collection",
			func(sys *system) string { return sys.mgr })
	}
	return s.systemsJSON, s.mgrsJSON
}

// appendJSONString appends s as a JSON string.
func appendJSONString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	return append(buf, '"')
}

// --- serving -------------------------------------------------------------

var (
	hdrJSON     = []string{"application/json; charset=utf-8"}
	hdrOData    = []string{"4.0"}
	hdrNoStore  = []string{"no-store"}
	hdrAuthChal = []string{`Basic realm="fakebmc"`}
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Odata-Version"] = hdrOData
	h["Cache-Control"] = hdrNoStore
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// redfishError answers status with a Redfish error body.
func redfishError(w http.ResponseWriter, status int, msgID, msg string) {
	if status == http.StatusUnauthorized {
		w.Header()["Www-Authenticate"] = hdrAuthChal
	}
	if status == http.StatusServiceUnavailable {
		w.Header()["Retry-After"] = []string{"1"}
	}
	bp := bufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	buf = append(buf, `{"error":{"code":"Base.1.16.`...)
	buf = append(buf, msgID...)
	buf = append(buf, `","message":`...)
	buf = appendJSONString(buf, msg)
	buf = append(buf, `,"@Message.ExtendedInfo":[{"MessageId":"Base.1.16.`...)
	buf = append(buf, msgID...)
	buf = append(buf, `","Message":`...)
	buf = appendJSONString(buf, msg)
	buf = append(buf, `}]}}`...)
	writeJSON(w, status, buf)
	*bp = buf
	bufPool.Put(bp)
}

func notFound(w http.ResponseWriter, r *http.Request) {
	redfishError(w, http.StatusNotFound, "ResourceMissingAtURI", "no resource at "+r.URL.Path)
}

func badMethod(w http.ResponseWriter, allow string) {
	w.Header()["Allow"] = []string{allow}
	redfishError(w, http.StatusMethodNotAllowed, "OperationNotAllowed", "method not allowed; allowed: "+allow)
}

// answerErr maps a BMC operation's error to an HTTP answer.
func answerErr(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrUnreachable):
		panic(http.ErrAbortHandler) // close the connection without an answer
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		redfishError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", "request cancelled")
	case errors.Is(err, bmc.ErrAuth):
		redfishError(w, http.StatusUnauthorized, "InsufficientPrivilege", err.Error())
	case errors.Is(err, bmc.ErrNotFound):
		redfishError(w, http.StatusNotFound, "ResourceNotFound", err.Error())
	case errors.Is(err, bmc.ErrInvalidPowerAction):
		redfishError(w, http.StatusConflict, "ResourceInUse", err.Error())
	case errors.Is(err, bmc.ErrInvalidArgument), errors.Is(err, bmc.ErrUnsupported):
		redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", err.Error())
	case bmc.IsTransient(err):
		redfishError(w, http.StatusServiceUnavailable, "ServiceTemporarilyUnavailable", err.Error())
	default:
		redfishError(w, http.StatusInternalServerError, "InternalError", err.Error())
	}
}

// splitPath splits the part of p after /redfish/v1 into at most len(seg)
// segments; n is -1 when p is not under /redfish/v1 or too deep.
func splitPath(p string, seg *[8]string) (n int) {
	rest, ok := strings.CutPrefix(p, "/redfish/v1")
	if !ok || (rest != "" && rest[0] != '/') {
		return -1
	}
	rest = strings.Trim(rest, "/")
	for rest != "" {
		if n == len(seg) {
			return -1
		}
		var part string
		part, rest, _ = strings.Cut(rest, "/")
		seg[n] = part
		n++
	}
	return n
}

func (s *Server) authorized(r *http.Request) bool {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" {
		s.smu.RLock()
		_, ok := s.sessions[tok]
		s.smu.RUnlock()
		return ok
	}
	if u, p, ok := r.BasicAuth(); ok {
		return s.checkCreds(u, p)
	}
	return false
}

func (s *Server) checkCreds(user, pass string) bool {
	u := subtle.ConstantTimeCompare([]byte(user), []byte(s.creds.Username))
	p := subtle.ConstantTimeCompare([]byte(pass), []byte(s.creds.Password))
	return u&p == 1
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.URL.Path == "/redfish" || r.URL.Path == "/redfish/" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			badMethod(w, "GET, HEAD")
			return
		}
		writeJSON(w, http.StatusOK, []byte(`{"v1":"/redfish/v1/"}`))
		return
	}
	var seg [8]string
	n := splitPath(r.URL.Path, &seg)
	switch {
	case n < 0:
		notFound(w, r)
		return
	case n == 0:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			badMethod(w, "GET, HEAD")
			return
		}
		writeJSON(w, http.StatusOK, s.root)
		return
	case n == 2 && seg[0] == "SessionService" && seg[1] == "Sessions" && r.Method == http.MethodPost:
		s.createSession(w, r)
		return
	}
	if !s.authorized(r) {
		redfishError(w, http.StatusUnauthorized, "NoValidSession", "authentication required: log in through "+pathSessions+" or use basic authentication")
		return
	}
	switch seg[0] {
	case "SessionService":
		s.serveSessions(w, r, seg[1:n])
	case "Systems":
		if n == 1 {
			if !methodIs(w, r, http.MethodGet) {
				return
			}
			sys, _ := s.collections()
			writeJSON(w, http.StatusOK, sys)
			return
		}
		if sys := s.lookup(seg[1]); sys != nil {
			s.serveSystem(w, r, sys, seg[2:n])
			return
		}
		notFound(w, r)
	case "Managers":
		if n == 1 {
			if !methodIs(w, r, http.MethodGet) {
				return
			}
			_, mgrs := s.collections()
			writeJSON(w, http.StatusOK, mgrs)
			return
		}
		if sys := s.lookup(seg[1]); sys != nil {
			s.serveManager(w, r, sys, seg[2:n])
			return
		}
		notFound(w, r)
	default:
		notFound(w, r)
	}
}

func (s *Server) lookup(id string) *system {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.systems[id]
}

// methodIs answers 405 and returns false unless r's method is one of
// allowed (GET allows HEAD too).
func methodIs(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m || (m == http.MethodGet && r.Method == http.MethodHead) {
			return true
		}
	}
	badMethod(w, strings.Join(allowed, ", "))
	return false
}

// readBody decodes r's JSON body into v, answering 400 on failure.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		redfishError(w, http.StatusBadRequest, "MalformedJSON", "cannot read the request body")
		return false
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		redfishError(w, http.StatusBadRequest, "MalformedJSON", "the request body is not valid JSON for this resource")
		return false
	}
	return true
}

// op runs one BMC operation for a request and answers its error; it
// returns false when it did.
func op(w http.ResponseWriter, r *http.Request, b *BMC, kind OpKind, detail string, fn func() error) bool {
	if err := b.do(r.Context(), kind, detail, fn); err != nil {
		answerErr(w, err)
		return false
	}
	return true
}

func (s *Server) serveSystem(w http.ResponseWriter, r *http.Request, sys *system, rest []string) {
	switch {
	case len(rest) == 0:
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			bp := bufPool.Get().(*[]byte)
			buf := (*bp)[:0]
			if op(w, r, sys.b, OpGetSystem, "", func() error { buf = sys.renderLocked(buf); return nil }) {
				writeJSON(w, http.StatusOK, buf)
			}
			*bp = buf
			bufPool.Put(bp)
		case http.MethodPatch:
			s.patchSystem(w, r, sys)
		default:
			badMethod(w, "GET, HEAD, PATCH")
		}
	case len(rest) == 2 && rest[0] == "Actions" && rest[1] == "ComputerSystem.Reset":
		if !methodIs(w, r, http.MethodPost) {
			return
		}
		var body struct{ ResetType string }
		if !readBody(w, r, &body) {
			return
		}
		if body.ResetType == "" {
			redfishError(w, http.StatusBadRequest, "ActionParameterMissing", "ResetType is required")
			return
		}
		var action bmc.PowerAction
		switch body.ResetType {
		case "On", "ForceOn":
			action = bmc.PowerActionOn
		case "ForceOff":
			action = bmc.PowerActionOff
		case "GracefulShutdown":
			action = bmc.PowerActionSoftOff
		case "GracefulRestart", "ForceRestart":
			action = bmc.PowerActionReset
		case "PowerCycle":
			action = bmc.PowerActionCycle
		case "PushPowerButton":
		default:
			redfishError(w, http.StatusBadRequest, "ActionParameterNotSupported", "unknown ResetType "+strconv.Quote(body.ResetType))
			return
		}
		if op(w, r, sys.b, OpSetPower, body.ResetType, func() error {
			a := action
			if a == "" { // PushPowerButton
				a = bmc.PowerActionSoftOff
				if sys.b.powerLocked() == bmc.PowerOff {
					a = bmc.PowerActionOn
				}
			}
			return sys.b.powerActionLocked(a)
		}) {
			w.WriteHeader(http.StatusNoContent)
		}
	case rest[0] == "LogServices":
		s.serveLogs(w, r, sys, rest[1:])
	default:
		notFound(w, r)
	}
}

var (
	targetDevices = map[string]bmc.BootDevice{"Pxe": bmc.BootPXE, "Hdd": bmc.BootDisk, "Cd": bmc.BootCD}
	modeNames     = map[string]bmc.BootMode{"UEFI": bmc.BootUEFI, "Legacy": bmc.BootLegacy}
)

func (s *Server) patchSystem(w http.ResponseWriter, r *http.Request, sys *system) {
	var body struct {
		Boot *struct {
			Target  *string `json:"BootSourceOverrideTarget"`
			Enabled *string `json:"BootSourceOverrideEnabled"`
			Mode    *string `json:"BootSourceOverrideMode"`
		}
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.Boot == nil {
		redfishError(w, http.StatusBadRequest, "PropertyMissing", "only Boot can be patched")
		return
	}
	bt := body.Boot
	var o bmc.BootOverride
	disable := false
	if bt.Target != nil {
		switch dev, ok := targetDevices[*bt.Target]; {
		case ok:
			o.Device = dev
		case *bt.Target == "None":
			disable = true
		default:
			redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", "BootSourceOverrideTarget "+strconv.Quote(*bt.Target)+" is not one of None, Pxe, Hdd, Cd")
			return
		}
	}
	if bt.Enabled != nil {
		switch *bt.Enabled {
		case "Once":
		case "Disabled":
			disable = true
		default:
			redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", "BootSourceOverrideEnabled "+strconv.Quote(*bt.Enabled)+" is not one of Disabled, Once")
			return
		}
	}
	if bt.Mode != nil {
		m, ok := modeNames[*bt.Mode]
		if !ok {
			redfishError(w, http.StatusBadRequest, "PropertyValueNotInList", "BootSourceOverrideMode "+strconv.Quote(*bt.Mode)+" is not one of UEFI, Legacy")
			return
		}
		o.Mode = m
	}
	detail := "clear"
	if !disable {
		detail = describeBoot(o)
	}
	if op(w, r, sys.b, OpSetBoot, detail, func() error {
		if disable {
			sys.b.clearBootLocked()
			return nil
		}
		if o.Device == "" { // only the mode or Enabled: Once; keep the pending target
			cur, ok := sys.b.bootOverrideLocked()
			if !ok {
				return fmt.Errorf("%w: BootSourceOverrideTarget is required to enable an override", bmc.ErrInvalidArgument)
			}
			o.Device = cur.Device
		}
		return sys.b.setBootLocked(o)
	}) {
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) serveLogs(w http.ResponseWriter, r *http.Request, sys *system, rest []string) {
	if !methodIs(w, r, http.MethodGet) {
		return
	}
	base := sys.sys + "/LogServices"
	switch {
	case len(rest) == 0:
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": base, "@odata.type": "#LogServiceCollection.LogServiceCollection",
			"Name": "Log Service Collection", "Members@odata.count": 1,
			"Members": []any{odataID(base + "/SEL")},
		}))
	case len(rest) == 1 && rest[0] == "SEL":
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": base + "/SEL", "@odata.type": "#LogService.v1_5_0.LogService",
			"Id": "SEL", "Name": "System Event Log", "LogEntryType": "SEL", "ServiceEnabled": true,
			"MaxNumberOfRecords": MaxEventLog, "Entries": odataID(base + "/SEL/Entries"),
		}))
	case len(rest) == 2 && rest[0] == "SEL" && rest[1] == "Entries":
		var entries []bmc.LogEntry
		if !op(w, r, sys.b, OpEventLog, "", func() error {
			entries = append(entries, sys.b.sel...)
			return nil
		}) {
			return
		}
		members := make([]any, 0, len(entries))
		for _, e := range entries {
			members = append(members, map[string]any{
				"@odata.id": base + "/SEL/Entries/" + e.ID, "@odata.type": "#LogEntry.v1_15_0.LogEntry",
				"Id": e.ID, "Name": "Log Entry " + e.ID, "EntryType": "SEL",
				"Created": e.Time.UTC().Format(time.RFC3339), "Severity": e.Severity, "Message": e.Message,
			})
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": base + "/SEL/Entries", "@odata.type": "#LogEntryCollection.LogEntryCollection",
			"Name": "System Event Log Entries", "Members@odata.count": len(members), "Members": members,
		}))
	default:
		notFound(w, r)
	}
}

func (s *Server) serveManager(w http.ResponseWriter, r *http.Request, sys *system, rest []string) {
	switch {
	case len(rest) == 0:
		if !methodIs(w, r, http.MethodGet) {
			return
		}
		bp := bufPool.Get().(*[]byte)
		buf := (*bp)[:0]
		if op(w, r, sys.b, OpGetManager, "", func() error { buf = sys.renderManagerLocked(buf); return nil }) {
			writeJSON(w, http.StatusOK, buf)
		}
		*bp = buf
		bufPool.Put(bp)
	case len(rest) == 2 && rest[0] == "Actions" && rest[1] == "Manager.Reset":
		if !methodIs(w, r, http.MethodPost) {
			return
		}
		var body struct{ ResetType string }
		if !readBody(w, r, &body) {
			return
		}
		switch body.ResetType {
		case "", "ForceRestart", "GracefulRestart":
		default:
			redfishError(w, http.StatusBadRequest, "ActionParameterNotSupported", "unknown ResetType "+strconv.Quote(body.ResetType))
			return
		}
		if op(w, r, sys.b, OpResetBMC, body.ResetType, func() error { sys.b.resetBMCLocked(); return nil }) {
			w.WriteHeader(http.StatusNoContent)
		}
	case rest[0] == "VirtualMedia":
		s.serveMedia(w, r, sys, rest[1:])
	default:
		notFound(w, r)
	}
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, sys *system, rest []string) {
	base := sys.mgr + "/VirtualMedia"
	switch {
	case len(rest) == 0:
		if !methodIs(w, r, http.MethodGet) {
			return
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": base, "@odata.type": "#VirtualMediaCollection.VirtualMediaCollection",
			"Name": "Virtual Media Collection", "Members@odata.count": 1,
			"Members": []any{odataID(base + "/CD")},
		}))
	case len(rest) == 1 && rest[0] == "CD":
		if !methodIs(w, r, http.MethodGet) {
			return
		}
		var image string
		if !op(w, r, sys.b, OpGetManager, "virtual media", func() error { image = sys.b.media; return nil }) {
			return
		}
		if u, err := url.Parse(image); err == nil {
			image = u.Redacted()
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": base + "/CD", "@odata.type": "#VirtualMedia.v1_6_0.VirtualMedia",
			"Id": "CD", "Name": "Virtual CD", "MediaTypes": []string{"CD", "DVD"},
			"Image": image, "Inserted": image != "", "ConnectedVia": "URI",
			"Actions": map[string]any{
				"#VirtualMedia.InsertMedia": map[string]string{"target": base + "/CD/Actions/VirtualMedia.InsertMedia"},
				"#VirtualMedia.EjectMedia":  map[string]string{"target": base + "/CD/Actions/VirtualMedia.EjectMedia"},
			},
		}))
	case len(rest) == 3 && rest[0] == "CD" && rest[1] == "Actions" && rest[2] == "VirtualMedia.InsertMedia":
		if !methodIs(w, r, http.MethodPost) {
			return
		}
		var body struct{ Image string }
		if !readBody(w, r, &body) {
			return
		}
		detail := "(unparsable URL)"
		if u, err := url.Parse(body.Image); err == nil {
			detail = u.Redacted()
		}
		if op(w, r, sys.b, OpInsertMedia, detail, func() error { return sys.b.insertMediaLocked(body.Image) }) {
			w.WriteHeader(http.StatusNoContent)
		}
	case len(rest) == 3 && rest[0] == "CD" && rest[1] == "Actions" && rest[2] == "VirtualMedia.EjectMedia":
		if !methodIs(w, r, http.MethodPost) {
			return
		}
		if op(w, r, sys.b, OpEjectMedia, "", func() error { sys.b.media = ""; return nil }) {
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		notFound(w, r)
	}
}

// --- sessions ------------------------------------------------------------

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var body struct{ UserName, Password string }
	if !readBody(w, r, &body) {
		return
	}
	if !s.checkCreds(body.UserName, body.Password) {
		redfishError(w, http.StatusUnauthorized, "ResourceAtUriUnauthorized", "invalid user name or password")
		return
	}
	tok := rand.Text()
	now := s.now()
	s.smu.Lock()
	if s.maxSessions > 0 && len(s.sessions) >= s.maxSessions {
		s.smu.Unlock()
		redfishError(w, http.StatusServiceUnavailable, "SessionLimitExceeded", "the session limit is reached; log out of a session first")
		return
	}
	s.nextSession++
	id := strconv.FormatUint(s.nextSession, 10)
	sess := &session{id: id, user: body.UserName, created: now}
	s.sessions[tok] = sess
	s.sessionIDs[id] = tok
	s.smu.Unlock()
	h := w.Header()
	h.Set("X-Auth-Token", tok)
	h.Set("Location", pathSessions+"/"+id)
	writeJSON(w, http.StatusCreated, sessionJSON(sess))
}

func sessionJSON(sess *session) []byte {
	return mustJSON(map[string]any{
		"@odata.id": pathSessions + "/" + sess.id, "@odata.type": "#Session.v1_7_0.Session",
		"Id": sess.id, "Name": "User Session", "UserName": sess.user, "SessionType": "Redfish",
		"CreatedTime": sess.created.UTC().Format(time.RFC3339),
	})
}

func (s *Server) serveSessions(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 0:
		if methodIs(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, s.sessionSvc)
		}
	case len(rest) == 1 && rest[0] == "Sessions":
		if !methodIs(w, r, http.MethodGet, http.MethodPost) {
			return
		}
		s.smu.RLock()
		ids := make([]string, 0, len(s.sessionIDs))
		for id := range s.sessionIDs {
			ids = append(ids, id)
		}
		s.smu.RUnlock()
		slices.SortFunc(ids, func(a, b string) int {
			if len(a) != len(b) {
				return len(a) - len(b)
			}
			return strings.Compare(a, b)
		})
		members := make([]any, len(ids))
		for i, id := range ids {
			members[i] = odataID(pathSessions + "/" + id)
		}
		writeJSON(w, http.StatusOK, mustJSON(map[string]any{
			"@odata.id": pathSessions, "@odata.type": "#SessionCollection.SessionCollection",
			"Name": "Session Collection", "Members@odata.count": len(members), "Members": members,
		}))
	case len(rest) == 2 && rest[0] == "Sessions":
		s.smu.RLock()
		tok, ok := s.sessionIDs[rest[1]]
		var sess *session
		if ok {
			sess = s.sessions[tok]
		}
		s.smu.RUnlock()
		if !ok {
			notFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			writeJSON(w, http.StatusOK, sessionJSON(sess))
		case http.MethodDelete:
			s.smu.Lock()
			delete(s.sessionIDs, rest[1])
			delete(s.sessions, tok)
			s.smu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		default:
			badMethod(w, "GET, HEAD, DELETE")
		}
	default:
		notFound(w, r)
	}
}
