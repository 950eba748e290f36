package memstore

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/lifecycle"
)

// lookup returns the values stored under h.
func (x *hashIndex) lookup(h uint64) []int32 {
	var out []int32
	for q := x.probe(h); ; {
		v, ok := q.next()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

func TestHashIndexGrows(t *testing.T) {
	t.Parallel()
	var x hashIndex
	var sp spares
	seed := maphash.MakeSeed()
	key := func(i int) uint64 { return maphash.String(seed, fmt.Sprint("key", i)) }
	const n = 50 * pageSlots // many splits and directory doublings
	for i := range n {
		x.insert(key(i), int32(i), &sp)
	}
	for i := range n {
		require.Contains(t, x.lookup(key(i)), int32(i), "key %d", i)
	}
	require.Empty(t, x.lookup(maphash.String(seed, "absent")))
	total := 0
	for _, p := range x.pages {
		require.LessOrEqual(t, p.n, int32(pageMaxLoad))
		total += int(p.n)
	}
	require.Equal(t, n, total)
	d := x.dir.Load()
	for k := range d.pages {
		require.LessOrEqual(t, x.pages[d.ids[k]].depth, d.depth)
	}
}

func TestHashIndexSharedHash(t *testing.T) {
	t.Parallel()
	var x hashIndex
	var sp spares
	const h = 0xdeadbeef_00c0ffee
	x.insert(h, 1, &sp)
	x.insert(h, 2, &sp)
	x.insert(h^1, 3, &sp) // same tag, other hash: the caller tells them apart
	require.ElementsMatch(t, []int32{1, 2, 3}, x.lookup(h))
	require.Empty(t, x.lookup(h+1<<32))
}

// TestHashIndexTouchRaces runs touch, which takes no lock, against inserts
// that split pages and double the directory; run it with -race.
func TestHashIndexTouchRaces(t *testing.T) {
	t.Parallel()
	var x hashIndex
	var sp spares
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sink uint64
			for i := uint64(g); ; i += 0x9e3779b97f4a7c15 {
				select {
				case <-stop:
					_ = sink
					return
				default:
					sink += x.touch(i)
				}
			}
		}()
	}
	for i := range 20 * pageSlots {
		x.insert(uint64(i)*0x9e3779b97f4a7c15, int32(i), &sp)
	}
	close(stop)
	wg.Wait()
}

func TestStamp(t *testing.T) {
	t.Parallel()
	zone := time.FixedZone("UTC+2", 2*3600)
	now := time.Now()
	for _, tc := range []struct {
		name string
		in   time.Time
		want time.Time // zero: in itself
	}{
		{"zero", time.Time{}, time.Time{}},
		{"UTC", time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), time.Time{}},
		{"local", time.Date(2026, 1, 2, 3, 4, 5, 6, time.Local), time.Time{}},
		{"before 1970", time.Date(1901, 12, 13, 20, 45, 52, 1, time.UTC), time.Time{}},
		{"far future", time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Time{}},
		{"other zone", time.Date(2026, 1, 2, 3, 4, 5, 0, zone), time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC)},
		{"monotonic reading dropped", now, now.Round(0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if want.IsZero() {
				want = tc.in
			}
			got := stampOf(tc.in).time()
			require.Equal(t, want, got) // the same representation, not only the same instant
			require.Equal(t, tc.in.IsZero(), stampOf(tc.in).isZero())
		})
	}
	require.Equal(t, stamp{}, stampOf(time.Time{}), "the zero stamp is the zero time")
}

func TestStateCodes(t *testing.T) {
	t.Parallel()
	for i, s := range jobStates {
		c, ok := jobStateOf(s)
		require.True(t, ok)
		require.Equal(t, jobState(i), c)
		require.Equal(t, s, c.public())
	}
	_, ok := jobStateOf("exploded")
	require.False(t, ok)
	for i, s := range hostStates {
		require.Equal(t, hostState(i), hostStateOf(s))
		require.Equal(t, s, hostState(i).public())
	}
	require.Equal(t, lifecycle.HostReady, hostState(0).public(), "the zero host state is ready")
}

// TestSpares checks that CreateBatch asks for spares, that a caller
// allocates them, and that the store then grows without allocating under
// the lock.
func TestSpares(t *testing.T) {
	t.Parallel()
	s := New(nil)
	svc, err := lifecycle.New(s, nil)
	require.NoError(t, err)
	for i := range 3 * hostChunkLen / 10 {
		hosts := make([]string, 10)
		for k := range hosts {
			hosts[k] = fmt.Sprintf("h%d-%d.example.com", i, k)
		}
		_, err := svc.Submit(t.Context(), lifecycle.SubmitParams{Owner: "t", Action: lifecycle.ActionReboot, Hosts: hosts})
		require.NoError(t, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotNil(t, s.spares.hosts, "a spare host chunk is ready")
	require.NotNil(t, s.spares.text)
	require.GreaterOrEqual(t, len(s.spares.pages), 2)
	require.Zero(t, s.low.Load()&^lowPending)
	require.Equal(t, int32(3*hostChunkLen/10*10), s.hosts.n)
}
