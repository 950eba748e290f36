package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/store/memstore"
)

func newService(t *testing.T, cfg *lifecycle.Config) (*lifecycle.Service, *memstore.Store) {
	t.Helper()
	st := memstore.New(nil)
	svc, err := lifecycle.New(st, cfg)
	require.NoError(t, err)
	return svc, st
}

// requireUnchanged checks that the store holds no batch and the hosts are ready.
func requireUnchanged(t *testing.T, svc *lifecycle.Service, hosts ...string) {
	t.Helper()
	p, err := svc.ListBatches(context.Background(), lifecycle.BatchFilter{})
	require.NoError(t, err)
	require.Empty(t, p.Batches)
	for _, h := range hosts {
		hs, err := svc.Host(context.Background(), h)
		require.NoError(t, err)
		require.Equal(t, lifecycle.HostReady, hs.State, h)
	}
}

func TestSubmitRejectsMalformed(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64) + ".example.com"
	tests := []struct {
		name string
		p    lifecycle.SubmitParams
		want []string
	}{
		{"no owner", lifecycle.SubmitParams{Action: lifecycle.ActionReboot, Hosts: []string{"a.example.com"}}, []string{"owner is empty"}},
		{"unknown action", lifecycle.SubmitParams{Owner: "a", Action: "explode", Hosts: []string{"a.example.com"}}, []string{`unknown action "explode"`}},
		{"no hosts", lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot}, []string{"no hosts"}},
		{"too many", lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot, Hosts: []string{"a.x", "b.x", "c.x", "d.x", "e.x"}}, []string{"5 hosts, more than the limit of 4"}},
		{"snapshot on reboot", lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot, Snapshot: "s1", Hosts: []string{"a.x"}}, []string{"only for reimage"}},
		{"bad and duplicate hosts", lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot,
			Hosts: []string{"ok.example.com", "under_score.example.com", "OK.example.com.", long}},
			[]string{"3 bad host(s)", "under_score", `"ok.example.com" is listed twice (entries 1 and 3)`, "longer than 63"}},
		{"several problems at once", lifecycle.SubmitParams{Action: "x"}, []string{"owner is empty", `unknown action "x"`, "no hosts"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &fleetkit.Recorder{}
			svc, _ := newService(t, &lifecycle.Config{MaxBatchSize: 4, Notifier: rec})
			_, err := svc.Submit(context.Background(), tc.p)
			require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
			requireUnchanged(t, svc, "ok.example.com", "a.x")
			require.Equal(t, []string{lifecycle.EventBatchRejected}, rec.Kinds())
			require.Equal(t, err.Error(), rec.Events()[0].Attrs["reason"])
		})
	}
}

func TestSubmitDuplicatesInLargeBatch(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	hosts := make([]string, 100)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%03d.example.com", i)
	}
	hosts[70] = "H005.example.com"
	_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "a", Action: lifecycle.ActionReboot, Hosts: hosts})
	require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
	require.ErrorContains(t, err, `"h005.example.com" is listed twice (entries 6 and 71)`)
}

func TestInUseCheckersChained(t *testing.T) {
	t.Parallel()
	checker := func(source string, busy ...string) lifecycle.InUseChecker {
		return lifecycle.InUseFunc(func(_ context.Context, hosts []string) ([]lifecycle.HostProblem, error) {
			var out []lifecycle.HostProblem
			for _, h := range hosts {
				for _, b := range busy {
					if h == b {
						out = append(out, lifecycle.HostProblem{Host: h, Reason: "busy per " + source, Source: source})
					}
				}
			}
			return out, nil
		})
	}
	svc, _ := newService(t, &lifecycle.Config{InUse: []lifecycle.InUseChecker{
		checker("allocator", "b.example.com"), checker("lb", "a.example.com", "b.example.com")}})
	_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage,
		Hosts: []string{"A.example.com", "b.example.com", "c.example.com"}})
	require.ErrorIs(t, err, lifecycle.ErrInUse)
	var he *lifecycle.HostsError
	require.ErrorAs(t, err, &he)
	require.Equal(t, []lifecycle.HostProblem{
		{Host: "a.example.com", Reason: "busy per lb", Source: "lb"},
		{Host: "b.example.com", Reason: "busy per allocator", Source: "allocator"},
		{Host: "b.example.com", Reason: "busy per lb", Source: "lb"},
	}, he.Problems, "every checker's reasons, checkers see normalised names")
	requireUnchanged(t, svc, "a.example.com", "c.example.com")

	// A checker that cannot answer refuses the batch.
	broken := lifecycle.InUseFunc(func(context.Context, []string) ([]lifecycle.HostProblem, error) {
		return nil, errors.New("allocator API: 503")
	})
	svc, _ = newService(t, &lifecycle.Config{InUse: []lifecycle.InUseChecker{broken}})
	_, err = svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReboot, Hosts: []string{"a.example.com"}})
	require.ErrorContains(t, err, "could not answer")
	require.ErrorContains(t, err, "503")
	requireUnchanged(t, svc, "a.example.com")
}

func TestConsolePrecheck(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	checked := map[string]bool{}
	console := lifecycle.ConsoleFunc(func(ctx context.Context, h string) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		mu.Lock()
		checked[h] = true
		mu.Unlock()
		if strings.HasPrefix(h, "hang") {
			<-ctx.Done() // the per-host timeout ends it
			return ctx.Err()
		}
		time.Sleep(time.Millisecond)
		if strings.HasPrefix(h, "bad") {
			return errors.New("IPMI console: connection refused")
		}
		return nil
	})
	cfg := &lifecycle.Config{Console: console, ConsoleConcurrency: 3, ConsoleTimeout: 20 * time.Millisecond}
	hosts := []string{"good1.x", "bad1.x", "good2.x", "hang1.x", "good3.x", "good4.x", "good5.x"}

	t.Run("reject", func(t *testing.T) {
		svc, _ := newService(t, cfg)
		_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage, Hosts: hosts, CheckConsoles: true})
		require.ErrorIs(t, err, lifecycle.ErrConsoleCheck)
		var he *lifecycle.HostsError
		require.ErrorAs(t, err, &he)
		require.Len(t, he.Problems, 2)
		require.Equal(t, "bad1.x", he.Problems[0].Host)
		require.Contains(t, he.Problems[0].Reason, "connection refused")
		require.Equal(t, "hang1.x", he.Problems[1].Host)
		require.Contains(t, he.Problems[1].Reason, "deadline exceeded")
		requireUnchanged(t, svc, hosts...)
		require.LessOrEqual(t, peak.Load(), int32(3), "console checks are bounded")
	})
	t.Run("skip failed", func(t *testing.T) {
		svc, _ := newService(t, cfg)
		res, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage, Hosts: hosts,
			CheckConsoles: true, SkipFailedConsoles: true})
		require.NoError(t, err)
		require.Equal(t, []string{"good1.x", "good2.x", "good3.x", "good4.x", "good5.x"}, res.Batch.Hosts)
		require.Len(t, res.Excluded, 2)
		h, err := svc.Host(context.Background(), "bad1.x")
		require.NoError(t, err)
		require.Equal(t, lifecycle.HostReady, h.State, "excluded hosts are not claimed")
	})
	t.Run("all failed", func(t *testing.T) {
		svc, _ := newService(t, cfg)
		_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage,
			Hosts: []string{"bad1.x", "bad2.x"}, CheckConsoles: true, SkipFailedConsoles: true})
		require.ErrorIs(t, err, lifecycle.ErrConsoleCheck, "a batch with no host left is rejected")
	})
	t.Run("not configured", func(t *testing.T) {
		svc, _ := newService(t, nil)
		_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReboot,
			Hosts: []string{"a.x"}, CheckConsoles: true})
		require.ErrorIs(t, err, lifecycle.ErrInvalidBatch)
		require.ErrorContains(t, err, "no ConsoleChecker")
	})
	t.Run("not asked", func(t *testing.T) {
		svc, _ := newService(t, cfg)
		_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReboot, Hosts: []string{"bad9.x"}})
		require.NoError(t, err)
		mu.Lock()
		defer mu.Unlock()
		require.False(t, checked["bad9.x"])
	})
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	rec := &fleetkit.Recorder{}
	now := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	svc, _ := newService(t, &lifecycle.Config{Notifier: rec, Now: func() time.Time { return now }})
	ctx := context.Background()
	res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReimage, Hosts: []string{"a.x", "b.x"}})
	require.NoError(t, err)
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "bob", Action: lifecycle.ActionReboot, Hosts: []string{"b.x"}})
	require.ErrorIs(t, err, lifecycle.ErrOverlap)
	_, err = svc.Cancel(ctx, res.Batch.ID)
	require.NoError(t, err)
	_, err = svc.Cancel(ctx, res.Batch.ID)
	require.NoError(t, err)

	ev := rec.Events()
	require.Equal(t, []string{lifecycle.EventBatchAccepted, lifecycle.EventBatchRejected, lifecycle.EventBatchCancelled}, rec.Kinds(),
		"the second cancel sends nothing")
	require.Equal(t, res.Batch.ID, ev[0].Subject)
	require.Equal(t, map[string]string{"owner": "alice", "action": "reimage", "hosts": "2", "priority": "100", "excluded": "0"}, ev[0].Attrs)
	require.True(t, ev[0].Time.Equal(now))
	require.Equal(t, "bob", ev[1].Subject)
	require.Contains(t, ev[1].Attrs["reason"], "b.x (batch "+res.Batch.ID+")")
	require.Equal(t, res.Batch.ID, ev[2].Subject)
	require.Equal(t, "2", ev[2].Attrs["cancelled"])

	// A failing notifier never undoes the operation.
	failing := &fleetkit.Recorder{Err: errors.New("chat is down")}
	svc, _ = newService(t, &lifecycle.Config{Notifier: failing})
	_, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "alice", Action: lifecycle.ActionReboot, Hosts: []string{"a.x"}})
	require.NoError(t, err)
}

func TestSubmitPriority(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, &lifecycle.Config{Priorities: map[lifecycle.Action]int{lifecycle.ActionReboot: 500}})
	ctx := context.Background()
	r, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReboot, Hosts: []string{"a.x"}})
	require.NoError(t, err)
	require.Equal(t, 500, r.Batch.Priority, "configured per action")
	r, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage, Hosts: []string{"b.x"}})
	require.NoError(t, err)
	require.Equal(t, 100, r.Batch.Priority, "default: reimage first")
	p := -5
	r, err = svc.Submit(ctx, lifecycle.SubmitParams{Owner: "o", Action: lifecycle.ActionReimage, Hosts: []string{"c.x"}, Priority: &p})
	require.NoError(t, err)
	require.Equal(t, -5, r.Batch.Priority, "per batch")
	require.Equal(t, -5, r.Batch.Jobs[0].Priority)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	st := memstore.New(nil)
	for _, cfg := range []*lifecycle.Config{
		{MaxBatchSize: -1},
		{ConsoleConcurrency: -2},
		{ConsoleTimeout: -time.Second},
		{Priorities: map[lifecycle.Action]int{"explode": 1}},
		{InUse: []lifecycle.InUseChecker{nil}},
	} {
		_, err := lifecycle.New(st, cfg)
		require.Error(t, err, "%+v", cfg)
	}
	_, err := lifecycle.New(nil, nil)
	require.Error(t, err)
}

func TestQueriesNormaliseHosts(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t, nil)
	ctx := context.Background()
	_, err := svc.Host(ctx, "bad_host")
	require.ErrorIs(t, err, fleetkit.ErrInvalidHostname)
	_, err = svc.ListBatches(ctx, lifecycle.BatchFilter{Host: "bad host"})
	require.ErrorIs(t, err, fleetkit.ErrInvalidHostname)
	_, err = svc.SetHostState(ctx, lifecycle.HostTransition{Host: "", To: lifecycle.HostMaintenance, Reason: "x"})
	require.ErrorIs(t, err, fleetkit.ErrInvalidHostname)
}
