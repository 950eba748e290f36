package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
	"github.com/fleetkit/fleetkit/lifecycle/lifecycletest"
	"github.com/fleetkit/fleetkit/store"
	"github.com/fleetkit/fleetkit/store/memstore"
	"github.com/fleetkit/fleetkit/store/storetest"
)

func newStore(testing.TB) lifecycle.Store { return memstore.New(nil) }

func TestLifecycleConformance(t *testing.T) {
	t.Parallel()
	lifecycletest.Run(t, newStore)
}

func TestLockerConformance(t *testing.T) {
	t.Parallel()
	storetest.RunLocker(t, func(_ testing.TB, now func() time.Time) store.Locker {
		return memstore.New(&memstore.Options{Now: now})
	})
}

func BenchmarkAdmission(b *testing.B) { lifecycletest.BenchmarkAdmission(b, newStore) }

func BenchmarkQueue(b *testing.B) { lifecycletest.BenchmarkQueueThroughput(b, newStore) }

// newBatch returns a well-formed batch of hosts, created at at, for
// CreateBatch.
func newBatch(at time.Time, hosts ...string) *lifecycle.Batch {
	b := &lifecycle.Batch{ID: lifecycle.NewID(at), Owner: "test", Action: lifecycle.ActionReboot,
		Hosts: hosts, CreatedAt: at, Counts: lifecycle.JobCounts{Pending: len(hosts)}}
	for _, h := range hosts {
		b.Jobs = append(b.Jobs, lifecycle.Job{BatchID: b.ID, Host: h, Action: b.Action,
			State: lifecycle.JobPending, CreatedAt: at, UpdatedAt: at})
	}
	return b
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestCopies(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	b := newBatch(t0, "a.example.com", "b.example.com")
	b.Params = map[string]string{"k": "v"}
	require.NoError(t, st.CreateBatch(ctx, b))
	b.Params["k"], b.Hosts[0], b.Jobs[0].Host = "changed", "changed", "changed"

	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, got.Params)
	require.Equal(t, []string{"a.example.com", "b.example.com"}, got.Hosts)
	got.Params["k"], got.Hosts[1], got.Jobs[1].Host = "changed", "changed", "changed"
	page, err := st.ListBatches(ctx, lifecycle.BatchFilter{})
	require.NoError(t, err)
	page.Batches[0].Params["k"], page.Batches[0].Hosts[0] = "changed", "changed"

	again, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"k": "v"}, again.Params)
	require.Equal(t, []string{"a.example.com", "b.example.com"}, again.Hosts)
	require.Equal(t, "b.example.com", again.Jobs[1].Host)
}

func TestMalformedBatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		spoil func(b *lifecycle.Batch)
	}{
		{"missing job", func(b *lifecycle.Batch) { b.Jobs = b.Jobs[:1] }},
		{"job of another host", func(b *lifecycle.Batch) { b.Jobs[1].Host = "other.example.com" }},
		{"job of another batch", func(b *lifecycle.Batch) { b.Jobs[1].BatchID = lifecycle.NewID(t0) }},
		{"job with another action", func(b *lifecycle.Batch) { b.Jobs[1].Action = lifecycle.ActionReimage }},
		{"job not pending", func(b *lifecycle.Batch) { b.Jobs[1].State = lifecycle.JobRunning }},
		{"unknown job state", func(b *lifecycle.Batch) { b.Jobs[1].State = "exploded" }},
		{"finished job", func(b *lifecycle.Batch) { b.Jobs[1].FinishedAt = t0 }},
		{"miscounted", func(b *lifecycle.Batch) { b.Counts = lifecycle.JobCounts{Pending: 1, Running: 1} }},
		{"cancelled", func(b *lifecycle.Batch) { b.CancelledAt = t0 }},
		{"host name too long", func(b *lifecycle.Batch) {
			long := strings.Repeat("x", 1<<16)
			b.Hosts[1], b.Jobs[1].Host = long, long
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := memstore.New(nil)
			b := newBatch(t0, "a.example.com", "b.example.com")
			tc.spoil(b)
			require.ErrorIs(t, st.CreateBatch(ctx, b), lifecycle.ErrInvalidBatch)
			h, err := st.Host(ctx, "a.example.com")
			require.NoError(t, err)
			require.Equal(t, lifecycle.Host{Name: "a.example.com", State: lifecycle.HostReady}, h, "nothing changed")
			_, err = st.Batch(ctx, b.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	}
	_, err := memstore.New(nil).SetHostState(t.Context(), lifecycle.HostTransition{Host: strings.Repeat("x", 1<<16),
		To: lifecycle.HostMaintenance, Reason: "r", At: t0})
	require.ErrorIs(t, err, store.ErrInvalid)
}

// TestHostListedTwice: the Service never sends a host twice, but a direct
// caller may; the host is claimed once and its history lists the batch
// once.
func TestHostListedTwice(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	b := newBatch(t0, "a.example.com", "b.example.com", "a.example.com")
	require.NoError(t, st.CreateBatch(ctx, b))
	h, err := st.Host(ctx, "a.example.com")
	require.NoError(t, err)
	require.Equal(t, lifecycle.HostClaimed, h.State)
	require.Equal(t, b.ID, h.BatchID)
	page, err := st.ListBatches(ctx, lifecycle.BatchFilter{Host: "a.example.com"})
	require.NoError(t, err)
	require.Len(t, page.Batches, 1)
	jobs, err := st.ListJobs(ctx, lifecycle.JobFilter{Host: "a.example.com"})
	require.NoError(t, err)
	require.Len(t, jobs.Jobs, 2)
	j, err := st.UpdateJob(ctx, lifecycle.JobUpdate{BatchID: b.ID, Host: "a.example.com",
		From: lifecycle.JobPending, To: lifecycle.JobRunning, At: t0.Add(time.Second)})
	require.NoError(t, err)
	require.Equal(t, 1, j.Attempts)
	got, err := st.Batch(ctx, b.ID)
	require.NoError(t, err)
	require.Equal(t, lifecycle.JobRunning, got.Jobs[0].State, "the first job of the host moved")
	require.Equal(t, lifecycle.JobPending, got.Jobs[2].State)
	require.ErrorIs(t, st.CreateBatch(ctx, newBatch(t0.Add(time.Second), "a.example.com")), lifecycle.ErrOverlap)
}

// TestRefusalLeavesNoTrace: hosts first seen in a refused batch stay
// never seen.
func TestRefusalLeavesNoTrace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	require.NoError(t, st.CreateBatch(ctx, newBatch(t0, "held.example.com")))
	refused := newBatch(t0.Add(time.Second), "new.example.com", "held.example.com", "new2.example.com")
	require.ErrorIs(t, st.CreateBatch(ctx, refused), lifecycle.ErrOverlap)
	for _, name := range []string{"new.example.com", "new2.example.com"} {
		h, err := st.Host(ctx, name)
		require.NoError(t, err)
		require.Equal(t, lifecycle.Host{Name: name, State: lifecycle.HostReady}, h)
		page, err := st.ListBatches(ctx, lifecycle.BatchFilter{Host: name})
		require.NoError(t, err)
		require.Empty(t, page.Batches)
	}
	// The refused ID is free.
	ok := newBatch(t0.Add(time.Second), "new.example.com")
	ok.ID = refused.ID
	for i := range ok.Jobs {
		ok.Jobs[i].BatchID = ok.ID
	}
	require.NoError(t, st.CreateBatch(ctx, ok))
}

// TestIDsOutOfOrder admits batches whose IDs do not come in order, as when
// submitters race, and checks every ordering the contract promises.
func TestIDsOutOfOrder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	const n = 300
	batches := make([]*lifecycle.Batch, n)
	for i := range batches {
		batches[i] = newBatch(t0.Add(time.Duration(i)*time.Millisecond), fmt.Sprintf("h%03d.example.com", i), "shared.example.com")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, i := range rng.Perm(n) {
		b := batches[i]
		require.NoError(t, st.CreateBatch(ctx, b))
		_, _, err := st.CancelBatch(ctx, b.ID, b.CreatedAt) // free shared.example.com
		require.NoError(t, err)
	}
	var want []string
	for i := n - 1; i >= 0; i-- {
		want = append(want, batches[i].ID)
	}
	for _, f := range []lifecycle.BatchFilter{{Limit: 7}, {Host: "shared.example.com", Limit: 7}} {
		var got []string
		for {
			page, err := st.ListBatches(ctx, f)
			require.NoError(t, err)
			for _, b := range page.Batches {
				got = append(got, b.ID)
			}
			if page.Next == "" {
				break
			}
			f.Cursor = page.Next
		}
		require.Equal(t, want, got, "newest first, host %q", f.Host)
	}
	var got []string
	f := lifecycle.JobFilter{Limit: 13}
	for {
		page, err := st.ListJobs(ctx, f)
		require.NoError(t, err)
		for _, j := range page.Jobs {
			got = append(got, j.BatchID+"/"+j.Host)
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	require.Len(t, got, 2*n)
	require.True(t, slices.IsSorted(got), "jobs by batch ID, then host")
	for _, b := range batches {
		got, err := st.Batch(ctx, b.ID)
		require.NoError(t, err)
		require.Equal(t, b.Hosts, got.Hosts)
		require.Equal(t, lifecycle.BatchCancelled, got.State)
	}
	require.ErrorIs(t, st.CreateBatch(ctx, batches[n/2]), lifecycle.ErrInvalidBatch, "an ID is used once")
}

// TestGrowth admits enough hosts for the store to grow every table many
// times, reusing some hosts, and reads everything back.
func TestGrowth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := memstore.New(nil)
	svc, err := lifecycle.New(st, &lifecycle.Config{Directory: lifecycle.StaticDirectory{
		"r7.example.com": {Datacenter: "dc7", SKU: "s7"}}})
	require.NoError(t, err)
	const batches, size = 3000, 10
	ids := make([]string, batches)
	for i := range ids {
		hosts := make([]string, size)
		for k := range hosts {
			hosts[k] = fmt.Sprintf("h%d.example.com", i*size+k)
		}
		hosts[size-1] = fmt.Sprintf("r%d.example.com", i%size) // r0…r9 again and again
		res, err := svc.Submit(ctx, lifecycle.SubmitParams{Owner: "t", Action: lifecycle.ActionReboot, Hosts: hosts})
		require.NoError(t, err, "batch %d", i)
		ids[i] = res.Batch.ID
		_, err = svc.Cancel(ctx, ids[i]) // release r0…r9
		require.NoError(t, err)
	}
	for i := 0; i < batches; i += 97 {
		b, err := st.Batch(ctx, ids[i])
		require.NoError(t, err)
		require.Len(t, b.Jobs, size)
		require.Equal(t, fmt.Sprintf("h%d.example.com", i*size), b.Jobs[0].Host)
		require.Equal(t, lifecycle.JobCancelled, b.Jobs[0].State)
		h, err := st.Host(ctx, b.Hosts[3])
		require.NoError(t, err)
		require.Equal(t, lifecycle.HostReady, h.State)
		require.False(t, h.UpdatedAt.IsZero())
	}
	page, err := st.ListBatches(ctx, lifecycle.BatchFilter{Host: "r7.example.com", Limit: lifecycle.MaxPageSize})
	require.NoError(t, err)
	require.Len(t, page.Batches, batches/size)
	jobs, err := st.ListJobs(ctx, lifecycle.JobFilter{Host: "r7.example.com", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, "dc7", jobs.Jobs[0].Datacenter)
	require.Equal(t, "s7", jobs.Jobs[0].SKU)
	h, err := st.Host(ctx, "never.example.com")
	require.NoError(t, err)
	require.True(t, h.UpdatedAt.IsZero())
}

// TestClose checks that Close while submitters are running stops them
// cleanly with store.ErrClosed.
func TestClose(t *testing.T) {
	t.Parallel()
	st := memstore.New(nil)
	svc, err := lifecycle.New(st, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := svc.Submit(context.Background(), lifecycle.SubmitParams{Owner: "t", Action: lifecycle.ActionReboot,
					Hosts: []string{fmt.Sprintf("g%d-%d.example.com", g, i)}})
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if !assert.NoError(t, err) {
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	ctx := t.Context()
	require.NoError(t, st.Close(ctx))
	wg.Wait()

	// Every method after Close: lifecycletest's Closed check.
	require.ErrorIs(t, st.CreateBatch(ctx, newBatch(t0, "late.example.com")), store.ErrClosed)
}
