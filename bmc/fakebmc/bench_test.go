package fakebmc_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

const benchSystems = 5000

func benchServer(b *testing.B) (*fakebmc.Server, string) {
	b.Helper()
	s := fakebmc.NewServer(nil)
	for i := range benchSystems {
		s.AddSystem(fmt.Sprintf("node%05d", i), fakebmc.New(&fakebmc.Options{OpHistory: -1}))
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/redfish/v1/SessionService/Sessions", strings.NewReader(`{"UserName":"admin","Password":"password"}`))
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		b.Fatalf("login: %d", rec.Code)
	}
	return s, rec.Header().Get("X-Auth-Token")
}

// BenchmarkHandlerGetSystem is the server's own cost of a GET of one of
// 5,000 systems, without the network: 256 goroutines per CPU... in total.
func BenchmarkHandlerGetSystem(b *testing.B) {
	s, tok := benchServer(b)
	h := s.Handler()
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % benchSystems
			req := httptest.NewRequest(http.MethodGet, fmt.Sprintf("/redfish/v1/Systems/node%05d", i), nil)
			req.Header.Set("X-Auth-Token", tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d", rec.Code)
				return
			}
		}
	})
}

// BenchmarkServerGetSystem is a GET of one of 5,000 systems over loopback
// HTTP with keep-alive, at concurrency 256.
func BenchmarkServerGetSystem(b *testing.B) {
	s, tok := benchServer(b)
	s.Start()
	b.Cleanup(s.Close)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}
	b.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr}
	b.SetParallelism(max(1, 256/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) % benchSystems
			req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/redfish/v1/Systems/node%05d", s.URL(), i), nil)
			req.Header.Set("X-Auth-Token", tok)
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}

// BenchmarkDriverParallel is the in-process driver on many BMCs at once:
// one driver per goroutine, each on its own BMC.
func BenchmarkDriverParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := fakebmc.New(&fakebmc.Options{OpHistory: -1}).Driver()
		if err := d.Open(b.Context()); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if _, err := d.PowerState(b.Context()); err != nil {
				b.Error(err)
				return
			}
		}
		_ = d.SetPower(b.Context(), bmc.PowerActionOn)
	})
}
