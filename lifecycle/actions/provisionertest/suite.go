package provisionertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle/actions"
)

// Harness makes provisioners for the suite.
type Harness interface {
	// Setup returns a fresh provisioner with nothing prepared, whose
	// operations never fail on their own and end within a few seconds of
	// the host's network boot. It arranges its own cleanup with
	// t.Cleanup.
	Setup(t testing.TB) Fixture
}

// Fixture is one provisioner under test and what the suite needs to
// drive it.
type Fixture struct {
	Provisioner actions.Provisioner
	// Boot makes host network-boot now, as a power cycle after a one-time
	// PXE boot override does.
	Boot func(ctx context.Context, host string) error
	// Hosts are hosts the provisioner knows; at least two.
	Hosts []string
	// Snapshot is a snapshot it can deploy.
	Snapshot string
	// UnknownHost and UnknownSnapshot are a host and a snapshot it does
	// not know; empty skips the checks that need them.
	UnknownHost, UnknownSnapshot string
}

// Timeout bounds each wait of the suite for an operation to end.
const Timeout = 10 * time.Second

// pendingFor is how long the suite checks that an operation waits for its
// host's boot.
const pendingFor = 50 * time.Millisecond

// Run runs the conformance suite against the provisioners h makes.
func Run(t *testing.T, h Harness) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, f Fixture)
	}{
		{"StatusNone", testStatusNone},
		{"Deploy", testDeploy},
		{"Wipe", testWipe},
		{"WaitsForBoot", testWaitsForBoot},
		{"PrepareAgainRearms", testPrepareAgain},
		{"PrepareReplaces", testPrepareReplaces},
		{"InvalidRequest", testInvalidRequest},
		{"UnknownHost", testUnknownHost},
		{"UnknownSnapshot", testUnknownSnapshot},
		{"Release", testRelease},
		{"CancelledContext", testCancelled},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := h.Setup(t)
			require.GreaterOrEqual(t, len(f.Hosts), 2, "harness: Fixture.Hosts needs at least two hosts")
			require.NotEmpty(t, f.Snapshot, "harness: Fixture.Snapshot is empty")
			require.NotNil(t, f.Boot, "harness: Fixture.Boot is nil")
			tc.fn(t, f)
		})
	}
}

func ctxFor(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 3*Timeout)
	t.Cleanup(cancel)
	return ctx
}

func deployReq(f Fixture, host string) actions.Request {
	return actions.Request{Host: host, Operation: actions.OpDeploy, Snapshot: f.Snapshot}
}

// status reads host's status and checks it describes req.
func status(t testing.TB, ctx context.Context, f Fixture, req actions.Request) actions.Status {
	t.Helper()
	st, err := f.Provisioner.Status(ctx, req.Host)
	require.NoError(t, err, "Status(%s)", req.Host)
	require.Equal(t, req.Host, st.Host, "Status.Host")
	require.Equal(t, req.Operation, st.Operation, "Status.Operation")
	require.Equal(t, req.Snapshot, st.Snapshot, "Status.Snapshot")
	require.False(t, st.UpdatedAt.IsZero(), "Status.UpdatedAt is zero")
	return st
}

// waitDone polls until req's operation is done, failing on failed.
func waitDone(t testing.TB, ctx context.Context, f Fixture, req actions.Request) actions.Status {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		st := status(t, ctx, f, req)
		switch st.State {
		case actions.StateDone:
			return st
		case actions.StatePending, actions.StateRunning:
		default:
			t.Fatalf("%s of %s: state %s (%s), want pending, running or done", req.Operation, req.Host, st.State, st.Detail)
		}
		require.True(t, time.Now().Before(deadline), "%s of %s still %s after %s", req.Operation, req.Host, st.State, Timeout)
		time.Sleep(5 * time.Millisecond)
	}
}

// run prepares req, boots the host and waits for the end.
func run(t testing.TB, ctx context.Context, f Fixture, req actions.Request) {
	t.Helper()
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	require.NoError(t, f.Boot(ctx, req.Host))
	waitDone(t, ctx, f, req)
}

func testStatusNone(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	st, err := f.Provisioner.Status(ctx, f.Hosts[0])
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State)
}

func testDeploy(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	req := deployReq(f, f.Hosts[0])
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	st := status(t, ctx, f, req)
	require.Equal(t, actions.StatePending, st.State, "before the boot")
	require.NoError(t, f.Boot(ctx, req.Host))
	waitDone(t, ctx, f, req)
	// The other host was not touched.
	st, err := f.Provisioner.Status(ctx, f.Hosts[1])
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "another host")
}

func testWipe(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	req := actions.Request{Host: f.Hosts[0], Operation: actions.OpWipe}
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	require.Equal(t, actions.StatePending, status(t, ctx, f, req).State)
	require.NoError(t, f.Boot(ctx, req.Host))
	waitDone(t, ctx, f, req)
}

func testWaitsForBoot(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	req := deployReq(f, f.Hosts[0])
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	time.Sleep(pendingFor)
	require.Equal(t, actions.StatePending, status(t, ctx, f, req).State, "%s after Prepare and no boot", pendingFor)
}

func testPrepareAgain(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	req := deployReq(f, f.Hosts[0])
	run(t, ctx, f, req)
	// Preparing the same request again arms a new run, not the old result.
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	require.Equal(t, actions.StatePending, status(t, ctx, f, req).State, "after preparing a done deploy again")
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	require.NoError(t, f.Boot(ctx, req.Host))
	waitDone(t, ctx, f, req)
}

func testPrepareReplaces(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	deploy := deployReq(f, f.Hosts[0])
	require.NoError(t, f.Provisioner.Prepare(ctx, deploy))
	wipe := actions.Request{Host: f.Hosts[0], Operation: actions.OpWipe}
	require.NoError(t, f.Provisioner.Prepare(ctx, wipe))
	require.Equal(t, actions.StatePending, status(t, ctx, f, wipe).State)
	require.NoError(t, f.Boot(ctx, wipe.Host))
	waitDone(t, ctx, f, wipe)
}

func testInvalidRequest(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	good := deployReq(f, f.Hosts[0])
	require.NoError(t, f.Provisioner.Prepare(ctx, good))
	for name, req := range map[string]actions.Request{
		"DeployWithoutSnapshot": {Host: f.Hosts[0], Operation: actions.OpDeploy},
		"WipeWithSnapshot":      {Host: f.Hosts[0], Operation: actions.OpWipe, Snapshot: f.Snapshot},
		"UnknownOperation":      {Host: f.Hosts[0], Operation: "format", Snapshot: f.Snapshot},
		"NoHost":                {Operation: actions.OpDeploy, Snapshot: f.Snapshot},
	} {
		err := f.Provisioner.Prepare(ctx, req)
		require.ErrorIs(t, err, actions.ErrInvalidRequest, name)
		// Nothing changed.
		require.Equal(t, actions.StatePending, status(t, ctx, f, good).State, name)
	}
}

func testUnknownHost(t *testing.T, f Fixture) {
	if f.UnknownHost == "" {
		t.Skip("harness names no Fixture.UnknownHost")
	}
	ctx := ctxFor(t)
	err := f.Provisioner.Prepare(ctx, deployReq(f, f.UnknownHost))
	require.ErrorIs(t, err, actions.ErrUnknownHost)
	_, err = f.Provisioner.Status(ctx, f.UnknownHost)
	require.ErrorIs(t, err, actions.ErrUnknownHost)
	require.ErrorIs(t, f.Provisioner.Release(ctx, f.UnknownHost), actions.ErrUnknownHost)
}

func testUnknownSnapshot(t *testing.T, f Fixture) {
	if f.UnknownSnapshot == "" {
		t.Skip("harness names no Fixture.UnknownSnapshot")
	}
	ctx := ctxFor(t)
	req := actions.Request{Host: f.Hosts[0], Operation: actions.OpDeploy, Snapshot: f.UnknownSnapshot}
	require.ErrorIs(t, f.Provisioner.Prepare(ctx, req), actions.ErrUnknownSnapshot)
	st, err := f.Provisioner.Status(ctx, f.Hosts[0])
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "a failed Prepare changed the status")
}

func testRelease(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	require.NoError(t, f.Provisioner.Release(ctx, f.Hosts[1]), "release of a host with nothing prepared")
	req := deployReq(f, f.Hosts[0])
	require.NoError(t, f.Provisioner.Prepare(ctx, req))
	require.NoError(t, f.Provisioner.Release(ctx, req.Host))
	st, err := f.Provisioner.Status(ctx, req.Host)
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "after Release")
	require.NoError(t, f.Provisioner.Release(ctx, req.Host), "second Release")
	// A released host's boot starts nothing.
	require.NoError(t, f.Boot(ctx, req.Host))
	st, err = f.Provisioner.Status(ctx, req.Host)
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "boot after Release")
}

func testCancelled(t *testing.T, f Fixture) {
	ctx, cancel := context.WithCancel(ctxFor(t))
	cancel()
	req := deployReq(f, f.Hosts[0])
	require.ErrorIs(t, f.Provisioner.Prepare(ctx, req), context.Canceled, "Prepare")
	_, err := f.Provisioner.Status(ctx, req.Host)
	require.ErrorIs(t, err, context.Canceled, "Status")
	live := ctxFor(t)
	st, err := f.Provisioner.Status(live, req.Host)
	require.NoError(t, err)
	require.Equal(t, actions.StateNone, st.State, "a cancelled Prepare changed the status")
	require.NoError(t, f.Provisioner.Prepare(live, req))
	require.ErrorIs(t, f.Provisioner.Release(ctx, req.Host), context.Canceled, "Release")
	require.Equal(t, actions.StatePending, status(t, live, f, req).State, "a cancelled Release changed the status")
}

func testConcurrent(t *testing.T, f Fixture) {
	ctx := ctxFor(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(f.Hosts))
	for i, h := range f.Hosts {
		req := deployReq(f, h)
		if i%2 == 1 {
			req = actions.Request{Host: h, Operation: actions.OpWipe}
		}
		wg.Go(func() {
			if err := f.Provisioner.Prepare(ctx, req); err != nil {
				errs <- err
				return
			}
			if err := f.Boot(ctx, h); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i, h := range f.Hosts {
		req := deployReq(f, h)
		if i%2 == 1 {
			req = actions.Request{Host: h, Operation: actions.OpWipe}
		}
		waitDone(t, ctx, f, req)
	}
}
