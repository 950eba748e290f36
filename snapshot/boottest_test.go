package snapshot_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/actions"
	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/snapshottest"
	"github.com/fleetkit/fleetkit/store/memstore"
)

// bootLab is a store holding a sealed snapshot, canaries with simulated
// BMCs, a simulated installer that serves only that snapshot, and a
// worker pool running reimages through them.
type bootLab struct {
	st    *memstore.Store
	svc   *lifecycle.Service
	prov  *fakeprov.Provisioner
	bmcs  map[string]*fakebmc.BMC
	hosts []string
}

func newBootLab(t *testing.T, id string) *bootLab {
	t.Helper()
	ctx := context.Background()
	lab := &bootLab{st: memstore.New(nil), bmcs: map[string]*fakebmc.BMC{}}
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	_, err := lab.st.CreateSnapshot(ctx, snapshot.NewSnapshot{ID: id, OSRelease: "rhel-9", By: "ci", At: at})
	require.NoError(t, err)
	m := snapshottest.TestManifest(id, "rhel-9", "", at, snapshot.BlobInfo{Digest: snapshot.DigestOf([]byte(id)), Size: 1})
	sealed, err := snapshottest.TestKeyRing().SealManifest(m)
	require.NoError(t, err)
	c, err := sealed.Canonical()
	require.NoError(t, err)
	_, err = lab.st.SealSnapshot(ctx, snapshot.SealParams{ID: id, Manifest: c, Seal: sealed.Seal, By: "ci", At: at})
	require.NoError(t, err)

	for i := range 3 {
		h := fmt.Sprintf("canary%d.dc1.example.com", i)
		lab.hosts = append(lab.hosts, h)
		lab.bmcs[h] = fakebmc.New(&fakebmc.Options{Host: h, InitialPower: bmc.PowerOn})
	}
	lab.prov = fakeprov.New(&fakeprov.Options{Snapshots: []string{id}, MinDuration: time.Millisecond, MaxDuration: 5 * time.Millisecond,
		Booted: fakeprov.PXEBoots(func(h string) (*fakebmc.BMC, bool) { b, ok := lab.bmcs[h]; return b, ok })})
	runner, err := actions.New(&actions.Config{
		Dial: func(_ context.Context, h string, _ bmc.Credentials) (bmc.Driver, error) {
			b, ok := lab.bmcs[h]
			if !ok {
				return nil, fmt.Errorf("no BMC for %s", h)
			}
			return b.Driver(), nil
		},
		Provisioner: lab.prov, PowerPollInterval: time.Millisecond, ProvisionerPollInterval: time.Millisecond,
	})
	require.NoError(t, err)
	lab.svc, err = lifecycle.New(lab.st, nil)
	require.NoError(t, err)
	pool, err := lifecycle.NewPool(lab.st, &lifecycle.PoolConfig{Runner: runner, PollInterval: 5 * time.Millisecond,
		LeaseTTL: 300 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond,
		Retry: lifecycle.RetryPolicy{MaxAttempts: 2, InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond}})
	require.NoError(t, err)
	pctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- pool.Run(pctx) }()
	t.Cleanup(func() { stop(); require.NoError(t, <-done) })
	return lab
}

func (lab *bootLab) params(id string) snapshot.BootTestParams {
	return snapshot.BootTestParams{Catalogue: lab.st, Lifecycle: lab.svc, ID: id, Canaries: lab.hosts,
		Keys: snapshottest.TestKeyRing(), By: "release-bot", PollInterval: 5 * time.Millisecond}
}

func TestBootTestPasses(t *testing.T) {
	lab := newBootLab(t, "rhel-9-a")
	res, err := snapshot.BootTest(context.Background(), lab.params("rhel-9-a"))
	require.NoError(t, err)
	require.True(t, res.Passed)
	require.Empty(t, res.Failed)
	require.Equal(t, snapshot.StateValidated, res.Snapshot.State)
	require.Equal(t, lifecycle.BatchSucceeded, res.Batch.State)
	require.Equal(t, "rhel-9-a", res.Batch.Snapshot)
	require.Equal(t, "release-bot", res.Batch.Owner)
	last := res.Snapshot.History[len(res.Snapshot.History)-1]
	require.Equal(t, "release-bot", last.By)
	require.Contains(t, last.Reason, res.Batch.ID)
	for _, h := range lab.hosts {
		got, ok := lab.prov.Installed(h)
		require.True(t, ok)
		require.Equal(t, "rhel-9-a", got, "the canary runs the snapshot")
	}
	// A validated snapshot is not boot-tested again.
	_, err = snapshot.BootTest(context.Background(), lab.params("rhel-9-a"))
	require.ErrorIs(t, err, snapshot.ErrInvalidTransition)
}

func TestBootTestFails(t *testing.T) {
	lab := newBootLab(t, "rhel-9-b")
	lab.bmcs[lab.hosts[1]].SetRevertBootOverride(true) // its firmware drops the PXE boot
	res, err := snapshot.BootTest(context.Background(), lab.params("rhel-9-b"))
	require.NoError(t, err)
	require.False(t, res.Passed)
	require.Len(t, res.Failed, 1)
	require.Equal(t, lab.hosts[1], res.Failed[0].Host)
	require.Equal(t, snapshot.StateValidationFailed, res.Snapshot.State)
	last := res.Snapshot.History[len(res.Snapshot.History)-1]
	require.Contains(t, last.Reason, lab.hosts[1])
	require.Contains(t, last.Reason, "1 of 3 canaries failed")
}

func TestBootTestRefusals(t *testing.T) {
	lab := newBootLab(t, "rhel-9-c")
	ctx := context.Background()
	p := lab.params("rhel-9-c")
	p.Canaries = nil
	_, err := snapshot.BootTest(ctx, p)
	require.ErrorIs(t, err, snapshot.ErrInvalidSnapshot)

	// A seal the keys cannot vouch for: nothing is installed.
	p = lab.params("rhel-9-c")
	other, err := snapshot.NewKeyRing("other", map[string][]byte{"other": []byte("another key, also of 32 bytes or more")})
	require.NoError(t, err)
	p.Keys = other
	_, err = snapshot.BootTest(ctx, p)
	require.ErrorIs(t, err, snapshot.ErrUnknownKey)
	page, err := lab.svc.ListBatches(ctx, lifecycle.BatchFilter{})
	require.NoError(t, err)
	require.Empty(t, page.Batches, "no canary was touched")

	// A canary in maintenance: lifecycle refuses the batch.
	_, err = lab.svc.SetHostState(ctx, lifecycle.HostTransition{Host: lab.hosts[0], To: lifecycle.HostMaintenance, Reason: "disk"})
	require.NoError(t, err)
	_, err = snapshot.BootTest(ctx, lab.params("rhel-9-c"))
	require.ErrorIs(t, err, lifecycle.ErrHostUnavailable)
	s, err := lab.st.Snapshot(ctx, "rhel-9-c")
	require.NoError(t, err)
	require.Equal(t, snapshot.StateSealed, s.State, "no verdict")
}

func TestBootTestAborted(t *testing.T) {
	lab := newBootLab(t, "rhel-9-d")
	for _, b := range lab.bmcs {
		b.SetLatency(time.Hour) // the BMCs hang: the caller gives up waiting
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := snapshot.BootTest(ctx, lab.params("rhel-9-d"))
	require.ErrorIs(t, err, snapshot.ErrBootTestAborted)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	s, err := lab.st.Snapshot(context.Background(), "rhel-9-d")
	require.NoError(t, err)
	require.Equal(t, snapshot.StateSealed, s.State, "no verdict")
	// The canaries' batch was cancelled, so they are not held for nothing.
	page, err := lab.svc.ListBatches(context.Background(), lifecycle.BatchFilter{})
	require.NoError(t, err)
	require.Len(t, page.Batches, 1)
	require.False(t, page.Batches[0].CancelledAt.IsZero())
}
