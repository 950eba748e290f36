package inventorytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
)

// Harness makes shards for the suite.
type Harness interface {
	// NewShard returns a new, empty shard that shares no records with
	// any shard returned before. It registers its cleanup with t.
	NewShard(ctx context.Context, t testing.TB) inventory.Shard
}

// HarnessFunc adapts a function to Harness.
type HarnessFunc func(ctx context.Context, t testing.TB) inventory.Shard

// NewShard calls f.
func (f HarnessFunc) NewShard(ctx context.Context, t testing.TB) inventory.Shard { return f(ctx, t) }

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Obj builds an object with its digest and counts, collected at a fixed
// time, with file metadata for file names (those starting with /).
func Obj(name, contents string) inventory.Object {
	if len(name) > 0 && name[0] == '/' {
		st := &inventory.FileStat{Mode: 0o644, Size: int64(len(contents)), UID: 0, GID: 0, ModTime: epoch.Add(-time.Hour)}
		return inventory.NewObject(name, inventory.KindFile, []byte(contents), st, epoch)
	}
	return inventory.NewObject(name, inventory.KindCommand, []byte(contents), nil, epoch)
}

// Write encodes objs as one host's publish with the given TTL.
func Write(host string, ttl time.Duration, objs ...inventory.Object) *inventory.HostWrite {
	w := &inventory.HostWrite{Host: host, TTL: ttl}
	for i := range objs {
		o := objs[i]
		w.Objects = append(w.Objects, inventory.EncodedObject{Name: o.Name, MD5: o.MD5, Record: inventory.EncodeRecord(nil, &o)})
	}
	return w
}

// WriteDict is Write compressing every object against d, as a Publisher
// does once an object name has a dictionary.
func WriteDict(host string, ttl time.Duration, d *inventory.Dict, objs ...inventory.Object) *inventory.HostWrite {
	w := &inventory.HostWrite{Host: host, TTL: ttl}
	for i := range objs {
		o := objs[i]
		w.Objects = append(w.Objects, inventory.EncodedObject{Name: o.Name, MD5: o.MD5, Record: inventory.EncodeRecordDict(nil, &o, d), Dict: d})
	}
	return w
}

// ScanAll collects a whole scan, checking that batches respect the
// batch size and that keys come in (name, host) order without repeats.
func ScanAll(ctx context.Context, t testing.TB, s inventory.Shard, p *inventory.ScanParams) []inventory.RawRecord {
	t.Helper()
	var out []inventory.RawRecord
	err := s.Scan(ctx, p, func(b []inventory.RawRecord) error {
		if p.BatchSize > 0 && len(b) > p.BatchSize {
			return fmt.Errorf("batch of %d records, BatchSize is %d", len(b), p.BatchSize)
		}
		if len(b) == 0 {
			return errors.New("empty batch")
		}
		out = append(out, b...)
		return nil
	})
	require.NoError(t, err)
	for i := 1; i < len(out); i++ {
		require.Truef(t, out[i-1].Key.Less(out[i].Key), "scan order: %s then %s", out[i-1].Key, out[i].Key)
	}
	return out
}

func keys(recs []inventory.RawRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key.String()
	}
	return out
}

func decode(t testing.TB, r inventory.RawRecord, headerOnly bool) inventory.Object {
	t.Helper()
	var o inventory.Object
	require.NoError(t, inventory.DecodeRecordDict(r.Key, r.Value, r.Dict, headerOnly, true, &o), "decode %s", r.Key)
	return o
}

const ttl = time.Hour

// Run runs the conformance suite against shards made by h.
func Run(t *testing.T, h Harness) {
	t.Run("PublishThenScan", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		require.NoError(t, s.Ping(ctx))
		require.NotEmpty(t, s.String())
		a := []inventory.Object{Obj("sysctl-a", "net.core.netdev_budget = 300\nvm.swappiness = 60\n"), Obj("/etc/sysctl.conf", "vm.swappiness=10\n")}
		b := []inventory.Object{Obj("sysctl-a", "net.core.netdev_budget = 600\nvm.swappiness = 60\n"), Obj("uname-a", "Linux b 6.1.0 x86_64\n")}
		res, err := s.Publish(ctx, Write("b.example.com", ttl, b...))
		require.NoError(t, err)
		require.Equal(t, 2, res.Written)
		require.Positive(t, res.Bytes)
		_, err = s.Publish(ctx, Write("a.example.com", ttl, a...))
		require.NoError(t, err)

		got := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})
		require.Equal(t, []string{"a.example.com#/etc/sysctl.conf", "a.example.com#sysctl-a", "b.example.com#sysctl-a", "b.example.com#uname-a"}, keys(got))
		want := map[string]inventory.Object{}
		for _, o := range a {
			o.Host = "a.example.com"
			want[o.Host+"#"+o.Name] = o
		}
		for _, o := range b {
			o.Host = "b.example.com"
			want[o.Host+"#"+o.Name] = o
		}
		for _, r := range got {
			o := decode(t, r, false)
			require.Equal(t, want[r.Key.String()], o, "record %s", r.Key)
		}
	})

	t.Run("FetchLevels", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		big := Obj("/var/log/big", string(make([]byte, 5000)))
		_, err := s.Publish(ctx, Write("h1", ttl, big))
		require.NoError(t, err)
		none := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchNone})
		require.Len(t, none, 1)
		require.Nil(t, none[0].Value)
		hdr := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchHeader})
		require.Len(t, hdr, 1)
		var o inventory.Object
		require.NoError(t, inventory.DecodeRecord(hdr[0].Key, hdr[0].Value, true, false, &o))
		require.Equal(t, big.MD5, o.MD5)
		require.Equal(t, big.Stat, o.Stat)
		require.Equal(t, big.Counts, o.Counts)
		require.Equal(t, int64(5000), o.Size)
		require.Nil(t, o.Contents)
	})

	t.Run("RenewChangeRemove", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		x, y, z := Obj("x", "1\n"), Obj("y", "2\n"), Obj("z", "3\n")
		res, err := s.Publish(ctx, Write("h1", ttl, x, y, z))
		require.NoError(t, err)
		require.Equal(t, inventory.WriteResult{Written: 3, Bytes: res.Bytes}, *res)

		y2 := Obj("y", "22\n")
		res, err = s.Publish(ctx, Write("h1", ttl, x, y2))
		require.NoError(t, err)
		require.Equal(t, 1, res.Renewed, "x is unchanged")
		require.Equal(t, 1, res.Written, "y changed")
		require.Equal(t, 1, res.Removed, "z vanished")

		got := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})
		require.Equal(t, []string{"h1#x", "h1#y"}, keys(got))
		require.Equal(t, "22\n", string(decode(t, got[1], false).Contents))

		res, err = s.Publish(ctx, Write("h1", ttl))
		require.NoError(t, err)
		require.Equal(t, 2, res.Removed)
		require.Empty(t, ScanAll(ctx, t, s, &inventory.ScanParams{}))
	})

	t.Run("Patterns", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		for _, host := range []string{"web1.dc1", "web2.dc1", "db1.dc1", "web1.dc2"} {
			_, err := s.Publish(ctx, Write(host, ttl, Obj("sysctl-a", host+"\n"), Obj("/etc/hosts", "127.0.0.1 localhost\n")))
			require.NoError(t, err)
		}
		cases := []struct {
			names, hosts string
			want         []string
		}{
			{"sysctl-*", "web*", []string{"web1.dc1#sysctl-a", "web1.dc2#sysctl-a", "web2.dc1#sysctl-a"}},
			{"/etc/*", "*.dc2", []string{"web1.dc2#/etc/hosts"}},
			{"*", "db?.dc1", []string{"db1.dc1#/etc/hosts", "db1.dc1#sysctl-a"}},
			{"*host*", "web[12].dc1", []string{"web1.dc1#/etc/hosts", "web2.dc1#/etc/hosts"}},
			{"nothing", "", nil},
			{"", "web1.dc1", []string{"web1.dc1#/etc/hosts", "web1.dc1#sysctl-a"}},
		}
		for _, c := range cases {
			got := ScanAll(ctx, t, s, &inventory.ScanParams{Names: inventory.MustCompilePattern(c.names), Hosts: inventory.MustCompilePattern(c.hosts)})
			if c.want == nil {
				require.Empty(t, got, "names %q hosts %q", c.names, c.hosts)
				continue
			}
			require.Equal(t, c.want, keys(got), "names %q hosts %q", c.names, c.hosts)
		}
	})

	t.Run("BatchesAndResume", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		var all []string
		for i := range 7 {
			host := fmt.Sprintf("h%02d", i)
			_, err := s.Publish(ctx, Write(host, ttl, Obj("a", "x\n"), Obj("b", "y\n")))
			require.NoError(t, err)
		}
		for _, n := range []string{"a", "b"} {
			for i := range 7 {
				all = append(all, fmt.Sprintf("h%02d#%s", i, n))
			}
		}
		got := ScanAll(ctx, t, s, &inventory.ScanParams{BatchSize: 3, Fetch: inventory.FetchAll})
		require.Equal(t, all, keys(got))
		for i := range got {
			rest := ScanAll(ctx, t, s, &inventory.ScanParams{BatchSize: 2, After: got[i].Key})
			require.Equal(t, all[i+1:], append([]string{}, keys(rest)...), "resume after %s", got[i].Key)
		}
		stop := errors.New("stop here")
		calls := 0
		err := s.Scan(ctx, &inventory.ScanParams{BatchSize: 2}, func([]inventory.RawRecord) error {
			calls++
			return stop
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 1, calls, "scan goes on after fn failed")
	})

	t.Run("Expiry", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		_, err := s.Publish(ctx, Write("short", 300*time.Millisecond, Obj("a", "1\n")))
		require.NoError(t, err)
		_, err = s.Publish(ctx, Write("long", ttl, Obj("a", "2\n")))
		require.NoError(t, err)
		require.Len(t, ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll}), 2)
		require.Eventually(t, func() bool {
			return slices.Equal(keys(ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})), []string{"long#a"}) &&
				slices.Equal(keys(ScanAll(ctx, t, s, &inventory.ScanParams{})), []string{"long#a"})
		}, 5*time.Second, 50*time.Millisecond, "the short-lived record never expired")
		// Publishing again after expiry stores the record anew.
		res, err := s.Publish(ctx, Write("short", ttl, Obj("a", "1\n")))
		require.NoError(t, err)
		require.Equal(t, 1, res.Written+res.Renewed)
		require.Len(t, ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll}), 2)
	})

	t.Run("BadTTLChangesNothing", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		_, err := s.Publish(ctx, Write("h", ttl, Obj("a", "1\n")))
		require.NoError(t, err)
		_, err = s.Publish(ctx, Write("h", 0, Obj("b", "1\n")))
		require.ErrorIs(t, err, inventory.ErrInvalid)
		require.Equal(t, []string{"h#a"}, keys(ScanAll(ctx, t, s, &inventory.ScanParams{})))
	})

	t.Run("ConcurrentPublishers", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for round := range 3 {
					host := fmt.Sprintf("host%02d", i)
					if _, err := s.Publish(ctx, Write(host, ttl, Obj("a", fmt.Sprint(round)), Obj("b", host))); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})
		require.Len(t, got, 32)
		for _, r := range got {
			if r.Key.Name == "a" {
				require.Equal(t, "2", string(decode(t, r, false).Contents))
			}
		}
	})

	t.Run("PublishBatch", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		bs, ok := s.(inventory.BatchShard)
		if !ok {
			t.Skipf("%s does not implement inventory.BatchShard", s)
		}
		_, err := s.Publish(ctx, Write("h2", ttl, Obj("a", "old\n"), Obj("gone", "x\n")))
		require.NoError(t, err)
		res, err := bs.PublishBatch(ctx, []*inventory.HostWrite{
			Write("h1", ttl, Obj("a", "1\n"), Obj("b", "2\n")),
			Write("h2", ttl, Obj("a", "old\n")),
			Write("h3", ttl, Obj("b", "3\n")),
		})
		require.NoError(t, err)
		require.Len(t, res, 3)
		require.Equal(t, 2, res[0].Written)
		require.Equal(t, inventory.WriteResult{Renewed: 1, Removed: 1}, *res[1])
		require.Equal(t, 1, res[2].Written)
		got := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})
		require.Equal(t, []string{"h1#a", "h2#a", "h1#b", "h3#b"}, keys(got))
		require.Equal(t, "3\n", string(decode(t, got[3], false).Contents))
		_, err = bs.PublishBatch(ctx, []*inventory.HostWrite{Write("h4", ttl, Obj("c", "1")), Write("h5", 0, Obj("c", "1"))})
		require.ErrorIs(t, err, inventory.ErrInvalid)
		require.Len(t, ScanAll(ctx, t, s, &inventory.ScanParams{}), 4, "a bad batch changes nothing")
	})

	t.Run("Dictionaries", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		ds, isDictShard := s.(inventory.DictShard)
		if isDictShard {
			d, err := ds.CurrentDict(ctx, "sysctl-a")
			require.NoError(t, err)
			require.Nil(t, d, "no dictionary before any publish")
		}
		base := strings.Repeat("net.ipv4.conf.eth0.rp_filter = 1\n", 100)
		d1 := inventory.NewDict([]byte(base + "kernel.hostname = h1\n"))
		d2 := inventory.NewDict([]byte(base + "kernel.hostname = h2\n"))
		_, err := s.Publish(ctx, WriteDict("h1", ttl, d1, Obj("sysctl-a", base+"kernel.hostname = h1\n")))
		require.NoError(t, err)
		_, err = s.Publish(ctx, WriteDict("h2", ttl, d1, Obj("sysctl-a", base+"kernel.hostname = h2\n")))
		require.NoError(t, err)
		// A publisher that raced to another dictionary.
		_, err = s.Publish(ctx, WriteDict("h3", ttl, d2, Obj("sysctl-a", base+"kernel.hostname = h3\n")))
		require.NoError(t, err)
		if isDictShard {
			d, err := ds.CurrentDict(ctx, "sysctl-a")
			require.NoError(t, err)
			require.NotNil(t, d)
			require.Equal(t, d1.ID, d.ID, "the first dictionary stays current")
			require.Equal(t, d1.Data, d.Data)
		}
		got := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchAll})
		require.Len(t, got, 3)
		for i, r := range got {
			require.NotNil(t, r.Dict, "record %s comes with its dictionary", r.Key)
			require.NoError(t, r.Dict.Check())
			o := decode(t, r, false)
			require.Equal(t, fmt.Sprintf("%skernel.hostname = h%d\n", base, i+1), string(o.Contents))
			require.Less(t, len(r.Value), 200, "compressed against the dictionary")
		}
		require.Equal(t, d2.ID, got[2].Dict.ID)
		hdr := ScanAll(ctx, t, s, &inventory.ScanParams{Fetch: inventory.FetchHeader})
		require.Len(t, hdr, 3)
		var o inventory.Object
		require.NoError(t, inventory.DecodeRecord(hdr[0].Key, hdr[0].Value, true, false, &o))
		require.Equal(t, int64(len(base)+21), o.Size)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		s := h.NewShard(ctx, t)
		_, err := s.Publish(ctx, Write("h", ttl, Obj("a", "1\n")))
		require.NoError(t, err)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = s.Scan(cctx, &inventory.ScanParams{}, func([]inventory.RawRecord) error { return nil })
		require.ErrorIs(t, err, context.Canceled)
	})
}

// BenchmarkScan measures a full scan with contents of hosts records of
// about 50 KB each, reporting records/s and MB/s of stored records.
func BenchmarkScan(b *testing.B, h Harness, hosts int) {
	ctx := b.Context()
	s := h.NewShard(ctx, b)
	var body strings.Builder
	for i := range 1300 {
		fmt.Fprintf(&body, "net.ipv4.conf.eth%d.param_%d = %d\n", i%8, i, i%3)
	}
	for i := range hosts {
		_, err := s.Publish(ctx, Write(fmt.Sprintf("host%05d", i), ttl, Obj("sysctl-a", fmt.Sprintf("kernel.hostname = host%05d\n%s", i, body.String()))))
		require.NoError(b, err)
	}
	b.ResetTimer()
	var n, bytes int64
	for b.Loop() {
		err := s.Scan(ctx, &inventory.ScanParams{Fetch: inventory.FetchAll}, func(batch []inventory.RawRecord) error {
			n += int64(len(batch))
			for _, r := range batch {
				bytes += int64(len(r.Value))
			}
			return nil
		})
		require.NoError(b, err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/1e6/b.Elapsed().Seconds(), "MB/s")
}
