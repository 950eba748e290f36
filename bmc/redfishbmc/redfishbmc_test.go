package redfishbmc_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/bmctest"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
)

// Distinctive passwords, so that searching errors and logs for them means
// something.
const (
	goodPassword = "pw-Zebra-7731"
	badPassword  = "pw-Wrong-4242"
	systemID     = "System.Embedded.1"
)

// fast retries keep the tests quick; the policy is the same as the default
// in everything but the waits.
var fast = &bmc.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: 5 * time.Millisecond}

// harness serves every driver its own fakebmc system over TLS, on a server
// of its own (so sessions and requests are counted per driver), and
// trusts the server's certificate through Options.RootCAs.
type harness struct {
	mu       sync.Mutex
	fixtures map[bmc.Driver]*fixture
}

type fixture struct {
	srv *fakebmc.Server
	b   *fakebmc.BMC
}

var (
	_ bmctest.Harness              = (*harness)(nil)
	_ bmctest.PasswordHarness      = (*harness)(nil)
	_ bmctest.BadPasswordHarness   = (*harness)(nil)
	_ bmctest.BootOverrideReverter = (*harness)(nil)
	_ bmctest.ConsoleSwitcher      = (*harness)(nil)
	_ bmctest.LatencySetter        = (*harness)(nil)
	_ bmctest.FailureInjector      = (*harness)(nil)
	_ bmctest.SessionCounter       = (*harness)(nil)
	_ bmctest.RequestCounter       = (*harness)(nil)
	_ bmctest.BootRecorder         = (*harness)(nil)
)

func newHarness() *harness { return &harness{fixtures: make(map[bmc.Driver]*fixture)} }

func (h *harness) newDriver(t testing.TB, password string) bmc.Driver {
	t.Helper()
	srv := fakebmc.NewServer(&fakebmc.ServerOptions{Credentials: bmc.Credentials{Username: "admin", Password: goodPassword}})
	// A short transition, so SetPower's wait for the new state is
	// exercised (the system reports PoweringOn first).
	b := fakebmc.New(&fakebmc.Options{TransitionTime: 20 * time.Millisecond})
	srv.AddSystem(systemID, b)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	logs := &bmctest.LogBuffer{}
	t.Cleanup(func() {
		require.NotContains(t, logs.String(), goodPassword, "the logs show the password")
		require.NotContains(t, logs.String(), badPassword, "the logs show the password")
	})
	d, err := redfishbmc.New(srv.URL(), bmc.Credentials{Username: "admin", Password: password}, &redfishbmc.Options{
		RootCAs:      pool,
		Retry:        fast,
		PollInterval: 5 * time.Millisecond,
		Logger:       logs.Logger(),
	})
	require.NoError(t, err)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fixtures[d] = &fixture{srv: srv, b: b}
	return d
}

func (h *harness) fixture(t testing.TB, d bmc.Driver) *fixture {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	fx, ok := h.fixtures[d]
	require.True(t, ok, "not a driver of this harness")
	return fx
}

func (h *harness) NewDriver(t testing.TB) bmc.Driver { return h.newDriver(t, goodPassword) }
func (h *harness) NewDriverBadCredentials(t testing.TB) bmc.Driver {
	return h.newDriver(t, badPassword)
}
func (h *harness) Password() string    { return goodPassword }
func (h *harness) BadPassword() string { return badPassword }

func (h *harness) RevertBootOverrides(t testing.TB, d bmc.Driver) {
	h.fixture(t, d).b.SetRevertBootOverride(true)
}

func (h *harness) SetConsole(t testing.TB, d bmc.Driver, enabled bool) {
	h.fixture(t, d).b.SetConsole(enabled, enabled)
}

func (h *harness) SetLatency(t testing.TB, d bmc.Driver, latency time.Duration) {
	h.fixture(t, d).b.SetLatency(latency)
}

func (h *harness) FailNext(t testing.TB, d bmc.Driver, n int) { h.fixture(t, d).b.FailNext(n, nil) }

func (h *harness) Sessions(t testing.TB, d bmc.Driver) int { return h.fixture(t, d).srv.Sessions() }

func (h *harness) Requests(t testing.TB, d bmc.Driver) int {
	return int(h.fixture(t, d).srv.Requests())
}

func (h *harness) LastBoot(t testing.TB, d bmc.Driver) (bmc.BootDevice, bmc.BootMode) {
	boot := h.fixture(t, d).b.LastBoot()
	return boot.Device, boot.Mode
}

func TestConformance(t *testing.T) {
	t.Parallel()
	bmctest.Run(t, newHarness())
}

func BenchmarkPowerState(b *testing.B) { bmctest.BenchmarkPowerState(b, newHarness()) }

// TestFakeBMCMultiSystem drives one system among several on one service,
// picked with Options.SystemID, and checks the others are untouched.
func TestFakeBMCMultiSystem(t *testing.T) {
	t.Parallel()
	srv := fakebmc.NewServer(nil)
	nodes := map[string]*fakebmc.BMC{}
	for _, id := range []string{"node1", "node2", "node3"} {
		nodes[id] = fakebmc.New(nil)
		srv.AddSystem(id, nodes[id])
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	creds := bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}
	ctx := t.Context()

	d, err := redfishbmc.New(srv.URL(), creds, &redfishbmc.Options{RootCAs: pool, SystemID: "node2"})
	require.NoError(t, err)
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, bmc.PowerOn, nodes["node2"].PowerState())
	require.Equal(t, bmc.PowerOff, nodes["node1"].PowerState())
	require.Equal(t, bmc.PowerOff, nodes["node3"].PowerState())

	first, err := redfishbmc.New(srv.URL(), creds, &redfishbmc.Options{RootCAs: pool})
	require.NoError(t, err)
	require.NoError(t, first.Open(ctx))
	t.Cleanup(func() { _ = first.Close(context.Background()) })
	require.NoError(t, first.SetPower(ctx, bmc.PowerActionOn))
	require.Equal(t, bmc.PowerOn, nodes["node1"].PowerState(), "no SystemID: the first system by @odata.id")

	missing, err := redfishbmc.New(srv.URL(), creds, &redfishbmc.Options{RootCAs: pool, SystemID: "node9"})
	require.NoError(t, err)
	err = missing.Open(ctx)
	require.ErrorIs(t, err, bmc.ErrNotFound)
	require.ErrorContains(t, err, `no system "node9"`)
	require.ErrorContains(t, err, "node1 node2 node3", "the error lists the systems there are")
	require.NoError(t, missing.Close(ctx))
	require.Equal(t, 2, srv.Sessions(), "the failed Open logged its session out")
}

// TestOpenWithSystemIDCostsConstantRequests: opening a driver for one
// system among many asks for that system, not for every member of the
// Systems collection.
func TestOpenWithSystemIDCostsConstantRequests(t *testing.T) {
	t.Parallel()
	srv := fakebmc.NewServer(nil)
	for i := range 300 {
		srv.AddSystem(fmt.Sprintf("node%03d", i), fakebmc.New(nil))
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	creds := bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}
	d, err := redfishbmc.New(srv.URL(), creds, &redfishbmc.Options{RootCAs: pool, SystemID: "node150"})
	require.NoError(t, err)
	before := srv.Requests()
	require.NoError(t, d.Open(t.Context()))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	require.LessOrEqual(t, srv.Requests()-before, int64(5), "service root, session, system: not 300 systems")
	st, err := d.PowerState(t.Context())
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, st)
}

// TestFakeBMCOptional exercises the optional capabilities against what the
// simulated BMC records.
func TestFakeBMCOptional(t *testing.T) {
	t.Parallel()
	h := newHarness()
	d := h.NewDriver(t)
	fx := h.fixture(t, d)
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })

	image := "https://user:media-Secret-99@images.example/boot.iso"
	require.NoError(t, bmc.InsertMedia(ctx, d, image))
	require.Equal(t, image, fx.b.Media())
	require.NoError(t, bmc.InsertMedia(ctx, d, image), "the same image again is a no-op")
	other := "https://images.example/other.iso"
	require.NoError(t, bmc.InsertMedia(ctx, d, other), "another image replaces the first")
	require.Equal(t, other, fx.b.Media())
	require.NoError(t, d.(bmc.VirtualMedia).EjectMedia(ctx))
	require.Empty(t, fx.b.Media())
	require.NoError(t, d.(bmc.VirtualMedia).EjectMedia(ctx), "ejecting an empty drive is fine")

	fx.b.FailNext(10, bmc.ErrInvalidArgument) // a 400 from the BMC
	err := bmc.InsertMedia(ctx, d, image)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "media-Secret-99", "the image URL's password never shows")
	fx.b.FailNext(0, nil)

	require.NoError(t, d.SetPower(ctx, bmc.PowerActionOn))
	require.NoError(t, bmc.ResetBMC(ctx, d))
	require.Equal(t, 1, fx.b.BMCResets())
	entries, err := bmc.EventLog(ctx, d)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	require.Contains(t, entries[0].Message, "power action on")
	require.Contains(t, entries[1].Message, "BMC reset")
	require.False(t, entries[0].Time.IsZero())
	require.True(t, !entries[1].Time.Before(entries[0].Time), "oldest first")
}

// TestFakeBMCUnreachable: a BMC that drops connections is retried, then
// reported as transient, and the console check says it is unreachable.
func TestFakeBMCUnreachable(t *testing.T) {
	t.Parallel()
	h := newHarness()
	d := h.NewDriver(t)
	fx := h.fixture(t, d)
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })

	fx.b.SetReachable(false)
	_, err := d.PowerState(ctx)
	require.Error(t, err)
	require.True(t, bmc.IsTransient(err), "a dropped connection is transient: %v", err)
	require.ErrorContains(t, err, "after 3 attempts")

	fx.b.SetReachable(true)
	ps, err := d.PowerState(ctx)
	require.NoError(t, err)
	require.Equal(t, bmc.PowerOff, ps)
}

func TestFakeBMCDisabledConsoleDetail(t *testing.T) {
	t.Parallel()
	h := newHarness()
	d := h.NewDriver(t)
	ctx := t.Context()
	require.NoError(t, d.Open(ctx))
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	hl, err := d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.True(t, hl.Usable(), "%+v", hl)
	require.Equal(t, "SerialConsole/SSH", hl.Console)
	require.Empty(t, hl.Detail)

	h.SetConsole(t, d, false)
	hl, err = d.ConsoleHealth(ctx)
	require.NoError(t, err)
	require.False(t, hl.Enabled)
	require.True(t, hl.Answering, "the manager answered")
	require.True(t, strings.Contains(hl.Detail, "ServiceEnabled"), "Detail says what to switch on: %q", hl.Detail)
}
