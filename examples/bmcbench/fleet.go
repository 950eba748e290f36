package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// Endpoint layouts of the simulated fleet.
const (
	// endpointsShared: one Redfish service with every system behind it
	// (a fakebmc.Server with N systems); a host's driver picks its system
	// with redfishbmc.Options.SystemID, which it reads directly (GET
	// /redfish/v1/Systems/{SystemID}). The default.
	endpointsShared = "shared"
	// endpointsPerHost: one Redfish service per host, as in a fleet of real
	// BMCs: N fakebmc.Servers of one system each, on one loopback TLS
	// listener, told apart by host name (host0001.bmc.test, …).
	endpointsPerHost = "per-host"
)

// vhostDomain is the domain of the per-host endpoints' names.
const vhostDomain = "bmc.test"

// fleet is the simulated fleet: fakebmc servers behind one loopback TLS
// listener, and what a client needs to reach them.
type fleet struct {
	layout  string
	hosts   []string
	bmcs    []*fakebmc.BMC
	servers []*fakebmc.Server // one (shared) or one per host
	hs      *httptest.Server
	roots   *x509.CertPool
	addr    string // the listener's host:port

	conns   atomic.Int64 // TLS connections accepted
	sysReqs atomic.Int64 // requests that touch a system, and so wait its latency
}

// newFleet serves n systems, powered on, each with the given latency.
func newFleet(n int, latency time.Duration, layout string) (*fleet, error) {
	f := &fleet{layout: layout, hosts: make([]string, n), bmcs: make([]*fakebmc.BMC, n)}
	width := max(4, len(fmt.Sprint(n)))
	for i := range n {
		f.hosts[i] = fmt.Sprintf("host%0*d", width, i+1)
		f.bmcs[i] = fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn, Latency: latency, OpHistory: -1})
	}
	var h http.Handler
	switch layout {
	case endpointsShared:
		s := fakebmc.NewServer(nil)
		for i, host := range f.hosts {
			s.AddSystem(host, f.bmcs[i])
		}
		f.servers = []*fakebmc.Server{s}
		h = s.Handler()
	case endpointsPerHost:
		byName := make(map[string]http.Handler, n)
		for i, host := range f.hosts {
			s := fakebmc.NewServer(nil)
			s.AddSystem(host, f.bmcs[i])
			f.servers = append(f.servers, s)
			byName[host+"."+vhostDomain] = s.Handler()
		}
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			name := r.Host
			if hn, _, err := net.SplitHostPort(name); err == nil {
				name = hn
			}
			if sh, ok := byName[name]; ok {
				sh.ServeHTTP(w, r)
				return
			}
			http.Error(w, "no BMC named "+name, http.StatusMisdirectedRequest)
		})
	default:
		return nil, fmt.Errorf("unknown endpoint layout %q (want %s or %s)", layout, endpointsShared, endpointsPerHost)
	}
	cert, roots, err := makeCert()
	if err != nil {
		return nil, err
	}
	f.roots = roots
	f.hs = httptest.NewUnstartedServer(f.count(h))
	f.hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.hs.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.hs.StartTLS()
	f.addr = f.hs.Listener.Addr().String()
	return f, nil
}

// count counts the requests that go through a system's BMC: those below
// /redfish/v1/Systems/{id} and /redfish/v1/Managers/{id}. The others
// (service root, sessions, collections) answer at once.
func (f *fleet) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/redfish/v1/")
		if kind, id, ok := strings.Cut(p, "/"); ok && id != "" && (kind == "Systems" || kind == "Managers") {
			f.sysReqs.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// endpoint returns the Redfish endpoint of host, and the system ID its
// driver must pick ("" for the only one).
func (f *fleet) endpoint(host string) (endpoint, systemID string) {
	if f.layout != endpointsPerHost {
		return "https://" + f.addr, host
	}
	_, port, _ := net.SplitHostPort(f.addr)
	return "https://" + host + "." + vhostDomain + ":" + port, ""
}

// dial connects to the fleet's listener whatever the name asked for: the
// per-host names resolve nowhere else.
func (f *fleet) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, f.addr)
}

// requests counts the HTTP requests the fleet's servers have served
// (fakebmc.Server.Requests).
func (f *fleet) requests() int64 {
	var n int64
	for _, s := range f.servers {
		n += s.Requests()
	}
	return n
}

// sessions counts the Redfish sessions open on the fleet's servers.
func (f *fleet) sessions() int {
	n := 0
	for _, s := range f.servers {
		n += s.Sessions()
	}
	return n
}

func (f *fleet) close() { f.hs.Close() }

// makeCert makes a throwaway CA and a certificate it signs for 127.0.0.1
// and *.bmc.test, both ECDSA P-256: a TLS handshake then costs the
// simulated BMCs (which share our CPUs) about what it costs the client,
// where httptest's RSA-2048 certificate would make every handshake
// several times dearer on the server side.
func makeCert() (tls.Certificate, *x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bmcbench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "bmcbench"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"*." + vhostDomain},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, roots, nil
}
