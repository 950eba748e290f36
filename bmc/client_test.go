package bmc_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/lifecycle"
)

// ConsoleCheck is what lifecycle's console precheck at submission takes.
var _ lifecycle.ConsoleChecker = bmc.ConsoleCheck{}

// scripted is a Driver whose every call returns what the test says; it
// tests the Client's and FanOut's logic, not a BMC.
type scripted struct {
	name    string
	openErr error
	err     error // returned by every operation
	power   bmc.PowerState
	console bmc.ConsoleHealth
	delay   time.Duration

	mu     sync.Mutex
	calls  []string
	opened int
	closed int
}

func (s *scripted) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

func (s *scripted) wait(ctx context.Context) error {
	if s.delay == 0 {
		return nil
	}
	select {
	case <-time.After(s.delay):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *scripted) Name() string { return s.name }
func (s *scripted) Open(ctx context.Context) error {
	s.record("open")
	s.mu.Lock()
	s.opened++
	s.mu.Unlock()
	return s.openErr
}
func (s *scripted) Close(context.Context) error {
	s.record("close")
	s.mu.Lock()
	s.closed++
	s.mu.Unlock()
	return nil
}
func (s *scripted) PowerState(ctx context.Context) (bmc.PowerState, error) {
	s.record("power-state")
	if err := s.wait(ctx); err != nil {
		return "", err
	}
	return s.power, s.err
}
func (s *scripted) SetPower(ctx context.Context, a bmc.PowerAction) error {
	s.record("power-" + string(a))
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.err
}
func (s *scripted) SetBootOverride(ctx context.Context, o bmc.BootOverride) error {
	s.record("boot-" + string(o.Device))
	return s.err
}
func (s *scripted) ConsoleHealth(ctx context.Context) (bmc.ConsoleHealth, error) {
	s.record("console")
	return s.console, s.err
}

func TestClientFallsBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redfish := &scripted{name: "redfish", err: bmc.Transient(errors.New("HTTP 503"))}
	ipmi := &scripted{name: "ipmi", power: bmc.PowerOn}
	var reports []bmc.Report
	c := bmc.NewClient("web01", []bmc.Driver{redfish, ipmi}, &bmc.ClientOptions{OnReport: func(r bmc.Report) { reports = append(reports, r) }})
	require.Equal(t, "client(redfish,ipmi)", c.Name())
	require.NoError(t, c.Open(ctx))

	st, err := c.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOn, st)
	r := reports[len(reports)-1]
	require.Equal(t, "ipmi", r.Answered)
	require.Len(t, r.Attempts, 2)
	require.ErrorContains(t, r.Attempts[0].Err, "503")
	require.Equal(t, "power-state on web01: ipmi answered after redfish: HTTP 503", r.String())

	// Redfish back: it answers first and IPMI is not asked.
	redfish.err = nil
	redfish.power = bmc.PowerOff
	st, err = c.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, st)
	require.Equal(t, []string{"open", "power-state"}, ipmi.calls)

	require.NoError(t, c.Close(ctx))
	require.Equal(t, 1, redfish.closed)
	require.Equal(t, 1, ipmi.closed)
}

func TestClientSkipsDriversThatDidNotOpen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redfish := &scripted{name: "redfish", openErr: fmt.Errorf("401: %w", bmc.ErrAuth)}
	ipmi := &scripted{name: "ipmi"}
	c := bmc.NewClient("web01", []bmc.Driver{redfish, ipmi}, nil)
	r, err := c.OpenReport(ctx)
	require.NoError(t, err, "one open driver is enough")
	require.Equal(t, "ipmi", r.Answered)
	require.NoError(t, c.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, []string{"open"}, redfish.calls, "a driver that did not open is not used")
	require.NoError(t, c.Close(ctx))
	require.Equal(t, 1, redfish.closed, "but it is closed anyway")

	none := bmc.NewClient("web02", []bmc.Driver{&scripted{name: "a", openErr: bmc.ErrAuth}}, nil)
	err = none.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrAuth)
	var ce *bmc.ClientError
	require.ErrorAs(t, err, &ce)
	_, err = none.PowerState(ctx)
	require.ErrorIs(t, err, bmc.ErrNotOpen)
}

func TestClientStopsOnRequestErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	redfish := &scripted{name: "redfish", err: fmt.Errorf("cycle while off: %w", bmc.ErrInvalidPowerAction)}
	ipmi := &scripted{name: "ipmi"}
	c := bmc.NewClient("web01", []bmc.Driver{redfish, ipmi}, nil)
	require.NoError(t, c.Open(ctx))
	err := c.SetPower(ctx, bmc.PowerActionCycle)
	require.ErrorIs(t, err, bmc.ErrInvalidPowerAction)
	require.Equal(t, []string{"open"}, ipmi.calls, "another protocol would say the same")

	err = c.SetBootOverride(ctx, bmc.BootOverride{Device: "floppy"})
	require.ErrorIs(t, err, bmc.ErrInvalidArgument)
	require.NotContains(t, redfish.calls, "boot-floppy", "refused before any driver is asked")
}

func TestClientAllFail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := &scripted{name: "redfish", err: fmt.Errorf("%w: Boot reverted to None", bmc.ErrBootNotApplied)}
	b := &scripted{name: "ipmi", err: bmc.ErrUnsupported}
	c := bmc.NewClient("web01", []bmc.Driver{a, b}, nil)
	require.NoError(t, c.Open(ctx))
	err := c.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE})
	require.ErrorIs(t, err, bmc.ErrBootNotApplied)
	require.ErrorIs(t, err, bmc.ErrUnsupported)
	require.ErrorContains(t, err, "every driver failed")
}

func TestClientDriverTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	slow := &scripted{name: "redfish", delay: time.Hour}
	fast := &scripted{name: "ipmi", power: bmc.PowerOn}
	c := bmc.NewClient("web01", []bmc.Driver{slow, fast}, &bmc.ClientOptions{DriverTimeout: 20 * time.Millisecond})
	require.NoError(t, c.Open(ctx))
	start := time.Now()
	st, err := c.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOn, st)
	require.Less(t, time.Since(start), 10*time.Second, "the slow driver was cut off")
}

func TestClientConsoleHealth(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	bad := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Console: "SerialConsole"}
	good := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Enabled: true, Answering: true, Console: "SOL"}
	c := bmc.NewClient("web01", []bmc.Driver{&scripted{name: "redfish", console: bad}, &scripted{name: "ipmi", console: good}}, nil)
	require.NoError(t, c.Open(ctx))
	h, err := c.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.Equal(t, good, h, "the first usable console")

	c = bmc.NewClient("web01", []bmc.Driver{&scripted{name: "redfish", console: bad}}, nil)
	require.NoError(t, c.Open(ctx))
	h, err = c.ConsoleHealth(ctx)
	require.NoError(t, err, "an unusable console is a result, not an error")
	require.False(t, h.Usable())
}

func TestFanOut(t *testing.T) {
	t.Parallel()
	hosts := make([]string, 300)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%03d", i)
	}
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	drivers := map[string]*scripted{}
	creds := &bmc.StaticCredentials{Default: bmc.Credentials{Username: "root", Password: "pw"},
		ByHost: map[string]bmc.Credentials{"h007": {Username: "special", Password: "x"}}}
	dial := func(_ context.Context, host string, c bmc.Credentials) (bmc.Driver, error) {
		if host == "h013" {
			return nil, errors.New("no BMC address in inventory")
		}
		d := &scripted{name: "fake", power: bmc.PowerOn, delay: time.Millisecond}
		if host == "h042" {
			d.openErr = bmc.ErrAuth
		}
		if host == "h007" && c.Username != "special" {
			d.openErr = bmc.ErrAuth
		}
		mu.Lock()
		drivers[host] = d
		mu.Unlock()
		return d, nil
	}
	var progress []bmc.Progress
	res := bmc.FanOut(context.Background(), hosts, dial, func(ctx context.Context, d bmc.Driver) (bmc.PowerState, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		return d.PowerState(ctx)
	}, &bmc.FanOutOptions{Concurrency: 16, Credentials: creds, Progress: func(p bmc.Progress) { progress = append(progress, p) }})

	require.Len(t, res, len(hosts))
	for i, r := range res {
		require.Equal(t, hosts[i], r.Host, "results in host order")
		switch r.Host {
		case "h013":
			require.ErrorContains(t, r.Err, "dial")
		case "h042":
			require.ErrorIs(t, r.Err, bmc.ErrAuth)
		default:
			require.NoError(t, r.Err, r.Host)
			require.Equal(t, bmc.PowerOn, r.Value)
		}
	}
	require.LessOrEqual(t, peak.Load(), int32(16))
	require.Len(t, progress, len(hosts))
	last := progress[len(progress)-1]
	require.Equal(t, bmc.Progress{Done: 300, Failed: 2, Total: 300}, bmc.Progress{Done: last.Done, Failed: last.Failed, Total: last.Total})
	for h, d := range drivers {
		require.Equal(t, 1, d.closed, "%s: every session closed, failed opens too", h)
	}
}

func TestFanOutTimeoutsAndCancel(t *testing.T) {
	t.Parallel()
	dial := func(context.Context, string, bmc.Credentials) (bmc.Driver, error) {
		return &scripted{name: "slow", delay: time.Hour}, nil
	}
	op := func(ctx context.Context, d bmc.Driver) (bmc.PowerState, error) { return d.PowerState(ctx) }
	res := bmc.FanOut(context.Background(), []string{"a", "b"}, dial, op, &bmc.FanOutOptions{HostTimeout: 10 * time.Millisecond})
	for _, r := range res {
		require.ErrorIs(t, r.Err, context.DeadlineExceeded)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	hosts := make([]string, 50)
	for i := range hosts {
		hosts[i] = fmt.Sprint(i)
	}
	res = bmc.FanOut(ctx, hosts, dial, op, &bmc.FanOutOptions{Concurrency: 2})
	for _, r := range res {
		require.ErrorIs(t, r.Err, context.Canceled)
	}
}

func TestConsoleCheck(t *testing.T) {
	t.Parallel()
	healthy := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Enabled: true, Answering: true}
	disabled := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Detail: "SOL disabled"}
	cc := bmc.ConsoleCheck{
		Credentials: &bmc.StaticCredentials{Default: bmc.Credentials{Username: "u", Password: "p"}},
		Dial: func(_ context.Context, host string, _ bmc.Credentials) (bmc.Driver, error) {
			if host == "bad" {
				return &scripted{name: "fake", console: disabled}, nil
			}
			return &scripted{name: "fake", console: healthy}, nil
		},
	}
	require.NoError(t, cc.CheckConsole(context.Background(), "good"))
	err := cc.CheckConsole(context.Background(), "bad")
	require.ErrorIs(t, err, bmc.ErrConsoleUnusable)
	require.ErrorContains(t, err, "SOL disabled")
}

func TestStaticCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &bmc.StaticCredentials{
		Default: bmc.Credentials{Username: "default"},
		ByHost:  map[string]bmc.Credentials{"web01": {Username: "host"}},
		ByRack:  map[string]bmc.Credentials{"r12": {Username: "rack"}},
		Rack:    func(h string) string { return map[string]string{"web01": "r12", "web02": "r12"}[h] },
	}
	for host, want := range map[string]string{"web01": "host", "web02": "rack", "web03": "default"} {
		c, err := s.Credentials(ctx, host)
		require.NoError(t, err)
		require.Equal(t, want, c.Username, host)
	}
	_, err := (&bmc.StaticCredentials{}).Credentials(ctx, "web01")
	require.ErrorContains(t, err, "no credentials for host web01")
}
