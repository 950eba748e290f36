package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// syncBuffer is a bytes.Buffer safe for the server's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type server struct {
	t      *testing.T
	base   string
	client *http.Client
	token  string
}

// start runs fleetd on a free port with a simulated fleet until the test
// ends.
func start(t *testing.T) *server {
	t.Helper()
	t.Setenv("FLEETD_TOKEN", "s3cret-token")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-self-signed", "-ca-out", ca, "-store", "memory://",
			"-simulate", "20", "-sim-latency", "1ms", "-sim-deploy", "20ms", "-workers", "8", "-shutdown-timeout", "2s"}, &stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			require.Equal(t, 0, code, "stderr: %s", stderr.String())
		case <-time.After(30 * time.Second):
			t.Error("fleetd did not stop")
		}
	})
	re := regexp.MustCompile(`serving https://(\S+) `)
	var addr string
	require.Eventually(t, func() bool {
		m := re.FindStringSubmatch(stdout.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}, 30*time.Second, 5*time.Millisecond, "stderr: %s", stderr.String())
	pemBytes, err := os.ReadFile(ca)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pemBytes))
	return &server{t: t, base: "https://" + addr, token: "s3cret-token",
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}}
}

func (s *server) do(method, path string, body any, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(s.t, err)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.base+path, r)
	require.NoError(s.t, err)
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	if out != nil {
		require.NoError(s.t, json.Unmarshal(data, out), "%s", data)
	}
	return resp.StatusCode
}

func TestAPI(t *testing.T) {
	s := start(t)
	hosts := []string{"sim00001.dc2.example.com", "sim00002.dc3.example.com", "sim00003.dc4.example.com"}

	var res lifecycle.SubmitResult
	require.Equal(t, http.StatusCreated, s.do("POST", "/v1/batches", map[string]any{
		"owner": "alice", "action": "reimage", "hosts": hosts, "snapshot": "rhel9-2026.11"}, &res))
	require.Len(t, res.Batch.Jobs, 3)
	require.Equal(t, "dc2", res.Batch.Jobs[0].Datacenter)

	var refusal errorBody
	require.Equal(t, http.StatusConflict, s.do("POST", "/v1/batches", map[string]any{
		"owner": "bob", "action": "reboot", "hosts": hosts[:1]}, &refusal))
	require.Equal(t, []lifecycle.Conflict{{Host: hosts[0], BatchID: res.Batch.ID}}, refusal.Conflicts)
	require.Equal(t, http.StatusUnprocessableEntity, s.do("POST", "/v1/batches", map[string]any{
		"owner": "bob", "action": "melt", "hosts": []string{"x.example.com"}}, &refusal))
	require.Contains(t, refusal.Error, "unknown action")
	require.Equal(t, http.StatusUnprocessableEntity, s.do("POST", "/v1/batches", map[string]any{"owner": "bob", "oops": 1}, &refusal))

	// The workers run the reimage through the simulated BMCs and installer.
	var b lifecycle.Batch
	require.Eventually(t, func() bool {
		require.Equal(t, http.StatusOK, s.do("GET", "/v1/batches/"+res.Batch.ID, nil, &b))
		return !b.State.Active()
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, lifecycle.BatchSucceeded, b.State)
	var steps struct{ Steps []lifecycle.Step }
	require.Equal(t, http.StatusOK, s.do("GET", "/v1/batches/"+res.Batch.ID+"/jobs/"+hosts[0]+"/steps", nil, &steps))
	require.Len(t, steps.Steps, 5)
	require.Equal(t, "confirm-deployed", steps.Steps[4].Name)

	var page lifecycle.BatchPage
	require.Equal(t, http.StatusOK, s.do("GET", "/v1/batches?owner=alice&state=succeeded", nil, &page))
	require.Len(t, page.Batches, 1)
	require.Equal(t, http.StatusNotFound, s.do("GET", "/v1/batches/01NOPE", nil, &refusal))
	require.Equal(t, http.StatusUnprocessableEntity, s.do("GET", "/v1/batches?limit=x", nil, &refusal))

	// Maintenance refuses the host.
	var h lifecycle.Host
	require.Equal(t, http.StatusOK, s.do("PUT", "/v1/hosts/"+hosts[1]+"/state", map[string]string{"state": "maintenance", "reason": "PSU"}, &h))
	require.Equal(t, lifecycle.HostMaintenance, h.State)
	require.Equal(t, http.StatusConflict, s.do("POST", "/v1/batches", map[string]any{"owner": "bob", "action": "reboot", "hosts": hosts[1:2]}, &refusal))
	require.Len(t, refusal.Problems, 1)

	var stats struct {
		Actions []lifecycle.ActionStats
		Steps   []lifecycle.StepStats
	}
	require.Equal(t, http.StatusOK, s.do("GET", "/v1/stats?since=1h", nil, &stats))
	require.NotEmpty(t, stats.Actions)
	require.Equal(t, 3, stats.Actions[0].Succeeded)
	require.Len(t, stats.Steps, 5)

	// Cancel: a second batch, cancelled while pending or running.
	require.Equal(t, http.StatusCreated, s.do("POST", "/v1/batches", map[string]any{"owner": "bob", "action": "power-off",
		"hosts": []string{"sim00005.dc2.example.com"}}, &res))
	require.Equal(t, http.StatusOK, s.do("POST", "/v1/batches/"+res.Batch.ID+"/cancel", nil, &b))
	require.False(t, b.CancelledAt.IsZero() && b.State.Active())

	resp, err := s.client.Get(s.base + "/metrics")
	require.NoError(t, err)
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Contains(t, string(metrics), `fleetkit_job_attempts_total{action="reimage",result="succeeded"} 3`)
	require.Contains(t, string(metrics), `fleetkit_job_steps_total{action="reimage",outcome="succeeded",step="wait-deploy"} 3`)
	require.Contains(t, string(metrics), "fleetkit_jobs_claimed_total")
}

func TestAuth(t *testing.T) {
	s := start(t)
	for _, tok := range []string{"", "wrong"} {
		s.token = tok
		var e errorBody
		require.Equal(t, http.StatusUnauthorized, s.do("GET", "/v1/batches", nil, &e))
		require.NotContains(t, e.Error, "s3cret")
	}
	resp, err := s.client.Get(s.base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "health needs no token")
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-simulate", "5"},                     // no TLS
		{"-self-signed", "-tls-cert", "x.pem"}, // both
		{"-self-signed"},                       // workers without a fleet
		{"-self-signed", "-simulate", "5", "-redfish", "https://x"},
		{"-self-signed", "-workers", "0", "extra"},
	} {
		var out, errs bytes.Buffer
		require.Equal(t, 2, run(context.Background(), args, &out, &errs), "%q", args)
		require.True(t, strings.HasPrefix(errs.String(), "fleetd:"), errs.String())
	}
}
