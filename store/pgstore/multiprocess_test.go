package pgstore_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/store/pgstore"
)

// The multi-process test: worker processes (this test binary, run as
// TestWorkerProcess) share one PostgreSQL and drive one Redfish service of
// simulated BMCs served by the parent, which checks what they did.
const (
	mpEnvURL     = "FLEETKIT_MP_POSTGRES"
	mpEnvRedfish = "FLEETKIT_MP_REDFISH"
	mpEnvCA      = "FLEETKIT_MP_CA"
	mpEnvName    = "FLEETKIT_MP_NAME"

	mpLeaseTTL = 2 * time.Second
)

// workerSummary is what a worker process prints when it stops.
type workerSummary struct {
	Name  string
	Stats lifecycle.PoolStats
}

// partitioned is a store that a signal cuts off: while cut, its queue
// calls wait, as over a network that dropped the worker's connection.
type partitioned struct {
	lifecycle.Store
	q     lifecycle.QueueStore
	until atomic.Int64 // unix ns
}

func (p *partitioned) wait(ctx context.Context) error {
	for time.Now().UnixNano() < p.until.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func (p *partitioned) ClaimJobs(ctx context.Context, r lifecycle.ClaimRequest) ([]lifecycle.Claim, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	// The claim's times were taken before the wait: take them again.
	now := time.Now().UTC().Truncate(time.Microsecond)
	r.LeaseUntil, r.At = now.Add(r.LeaseUntil.Sub(r.At)), now
	return p.q.ClaimJobs(ctx, r)
}

func (p *partitioned) Heartbeat(ctx context.Context, r lifecycle.HeartbeatRequest) ([]lifecycle.LeaseState, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.q.Heartbeat(ctx, r)
}

func (p *partitioned) RecordStep(ctx context.Context, l lifecycle.JobLease, s lifecycle.Step) error {
	if err := p.wait(ctx); err != nil {
		return err
	}
	return p.q.RecordStep(ctx, l, s)
}

func (p *partitioned) FinishJobs(ctx context.Context, rs []lifecycle.JobResult) ([]lifecycle.Finished, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.q.FinishJobs(ctx, rs)
}

func (p *partitioned) RescueJobs(ctx context.Context, at time.Time, max int) ([]lifecycle.Job, error) {
	if err := p.wait(ctx); err != nil {
		return nil, err
	}
	return p.q.RescueJobs(ctx, time.Now().UTC(), max)
}

func (p *partitioned) JobSteps(ctx context.Context, batchID, host string) ([]lifecycle.Step, error) {
	return p.q.JobSteps(ctx, batchID, host)
}

// TestWorkerProcess is a worker process of TestMultiProcess; it skips
// unless started by it. It runs a pool until SIGTERM, and is cut off from
// the store for three leases on SIGUSR1.
func TestWorkerProcess(t *testing.T) {
	url := os.Getenv(mpEnvURL)
	if url == "" {
		t.Skip("started by TestMultiProcess only")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := pgstore.Open(ctx, url, nil)
	require.NoError(t, err)
	defer st.Close(context.Background())
	cut := &partitioned{Store: st, q: st}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			cut.until.Store(time.Now().Add(3 * mpLeaseTTL).UnixNano())
		}
	}()

	pemBytes, err := os.ReadFile(os.Getenv(mpEnvCA))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pemBytes))
	endpoint := os.Getenv(mpEnvRedfish)
	runner, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, host string, creds bmc.Credentials) (bmc.Driver, error) {
			return redfishbmc.New(endpoint, creds, &redfishbmc.Options{RootCAs: roots, SystemID: host, BasicAuth: true,
				PollInterval: 10 * time.Millisecond})
		},
		Credentials:       &bmc.StaticCredentials{Default: bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}},
		PowerPollInterval: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	pool, err := lifecycle.NewPool(cut, &lifecycle.PoolConfig{
		Runner: runner, Name: os.Getenv(mpEnvName), Concurrency: 24,
		PollInterval: 20 * time.Millisecond, LeaseTTL: mpLeaseTTL, HeartbeatInterval: mpLeaseTTL / 5,
		RescueInterval: mpLeaseTTL / 4, Locker: st, ShutdownTimeout: 5 * time.Second,
		Retry: lifecycle.RetryPolicy{MaxAttempts: 10, InitialInterval: 10 * time.Millisecond, MaxInterval: 100 * time.Millisecond},
	})
	require.NoError(t, err)
	fmt.Println("ready")
	require.NoError(t, pool.Run(ctx))
	out, err := json.Marshal(workerSummary{Name: pool.Name(), Stats: pool.Stats()})
	require.NoError(t, err)
	fmt.Printf("summary %s\n", out)
}

// worker is a worker process the parent started.
type worker struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	mu      sync.Mutex
	summary *workerSummary
	lines   []string
}

func startWorker(t *testing.T, name string, env []string) *worker {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	w := &worker{name: name, done: make(chan struct{})}
	w.cmd = exec.Command(exe, "-test.run=^TestWorkerProcess$", "-test.count=1")
	w.cmd.Env = append(os.Environ(), append(env, mpEnvName+"="+name)...)
	w.cmd.Stderr = os.Stderr
	out, err := w.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, w.cmd.Start())
	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(out)
		var once sync.Once
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			w.lines = append(w.lines, line)
			if rest, ok := strings.CutPrefix(line, "summary "); ok {
				var s workerSummary
				if json.Unmarshal([]byte(rest), &s) == nil {
					w.summary = &s
				}
			}
			w.mu.Unlock()
			if line == "ready" {
				once.Do(func() { close(ready) })
			}
		}
		once.Do(func() { close(ready) })
		_ = w.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
	})
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not start", name)
	}
	return w
}

func (w *worker) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	require.NoError(t, w.cmd.Process.Signal(sig))
}

func (w *worker) wait(t *testing.T) *workerSummary {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("worker %s did not stop", w.name)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.summary
}

// TestMultiProcess runs 2,000 power cycles through three worker processes
// on one PostgreSQL; kills one with SIGKILL mid-run and starts another,
// and cuts a third off the store for three leases. Afterwards every job has
// ended well, no host saw two operations at once, and the results the cut
// worker tried to record after losing its leases were refused.
func TestMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test skipped in -short mode")
	}
	url := testenv.Postgres(t)
	ctx := context.Background()
	st := openStore(t, url, nil)

	const hosts, batches = 2000, 20
	srv := fakebmc.NewServer(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	names := make([]string, hosts)
	bmcs := make([]*fakebmc.BMC, hosts)
	for i := range names {
		names[i] = fmt.Sprintf("mp%04d.dc%d.example.com", i, i%4)
		bmcs[i] = fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn,
			Latency: time.Duration(1+rng.IntN(10)) * time.Millisecond})
		srv.AddSystem(names[i], bmcs[i])
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	svc, err := lifecycle.New(st, nil)
	require.NoError(t, err)
	var ids []string
	per := hosts / batches
	for b := range batches {
		res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "mp", Action: lifecycle.ActionPowerCycle,
			Hosts: names[b*per : (b+1)*per]})
		require.NoError(t, err)
		ids = append(ids, res.Batch.ID)
	}

	env := []string{mpEnvURL + "=" + url, mpEnvRedfish + "=" + srv.URL(), mpEnvCA + "=" + ca}
	killed := startWorker(t, "killed", env)
	cut := startWorker(t, "cut", env)
	steady := startWorker(t, "steady", env)

	ended := func() int {
		n := 0
		for _, id := range ids {
			b, err := st.Batch(ctx, id)
			require.NoError(t, err)
			n += b.Counts.Succeeded + b.Counts.Failed + b.Counts.Cancelled
		}
		return n
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(3 * time.Minute)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (%d of %d jobs ended)", what, ended(), hosts)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a quarter of the jobs", func() bool { return ended() >= hosts/4 })
	killed.signal(t, syscall.SIGKILL)
	cut.signal(t, syscall.SIGUSR1)
	replacement := startWorker(t, "replacement", env)
	waitFor("every job", func() bool { return ended() == hosts })

	for _, w := range []*worker{cut, steady, replacement} {
		w.signal(t, syscall.SIGTERM)
	}
	sums := map[string]*workerSummary{}
	for _, w := range []*worker{cut, steady, replacement} {
		s := w.wait(t)
		require.NotNil(t, s, "worker %s printed no summary: %q", w.name, w.lines)
		sums[w.name] = s
		t.Logf("worker %s: %+v", w.name, s.Stats)
	}
	require.Nil(t, killed.wait(t), "the killed worker printed nothing")

	// Every job ended, and well: nothing lost.
	var bad []string
	for _, id := range ids {
		b, err := st.Batch(ctx, id)
		require.NoError(t, err)
		for _, j := range b.Jobs {
			if j.State != lifecycle.JobSucceeded {
				steps, _ := st.JobSteps(ctx, id, j.Host)
				bad = append(bad, fmt.Sprintf("%s: %s after %d attempts: %s; steps %+v", j.Host, j.State, j.Attempts, j.Error, steps))
			}
			require.Equal(t, lifecycle.HostReady, mustHost(t, st, j.Host).State)
		}
	}
	require.Empty(t, bad, "jobs that did not succeed")
	// No host saw two operations at once, though jobs changed hands.
	for i, b := range bmcs {
		require.Empty(t, b.Overlaps(), "host %s", names[i])
		require.Equal(t, bmc.PowerOn, b.PowerState(), "host %s", names[i])
	}
	// The cut worker's late results were refused.
	require.Positive(t, sums["cut"].Stats.Refused, "the cut worker recorded results after losing its leases")
	var rescued int64
	for _, s := range sums {
		rescued += s.Stats.Rescued
	}
	require.Positive(t, rescued, "the jobs of the killed and the cut worker were rescued")
}

func mustHost(t *testing.T, st *pgstore.Store, name string) lifecycle.Host {
	t.Helper()
	h, err := st.Host(context.Background(), name)
	require.NoError(t, err)
	return h
}
