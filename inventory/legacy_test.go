package inventory_test

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/internal/testenv"
	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
)

func TestLegacyRoundTrip(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "bzip2", "bzip2")
	objs := []inventory.Object{
		inventorytest.Obj("/etc/sysctl.conf", "vm.swappiness=10\nnet.core.somaxconn = 1024\n"),
		inventorytest.Obj("sysctl-a", strings.Repeat("kernel.pid_max = 4194304\n", 100)),
		inventorytest.Obj("empty", ""),
	}
	for _, o := range objs {
		o.Host = "web1.dc1"
		fields, err := inventorytest.EncodeLegacy(&o)
		require.NoError(t, err)
		key := inventory.LegacyKey(inventory.Key{Host: o.Host, Name: o.Name}, o.Kind)
		k, kind, ok := inventory.ParseLegacyKey(key)
		require.True(t, ok)
		require.Equal(t, o.Kind, kind)
		fast, ok, slow := inventory.BunzipFieldsForTest(fields)
		require.True(t, ok, "one reader decodes the five fields")
		for i := range slow {
			require.Equal(t, string(slow[i]), string(fast[i]), "field %d", i)
		}
		var got inventory.Object
		require.NoError(t, inventory.DecodeLegacy(k, kind, fields, true, &got))
		// sysops-api keeps the time to 1/100 s, and no nanoseconds of mtime.
		require.WithinDuration(t, o.Collected, got.Collected, 10*time.Millisecond)
		got.Collected = o.Collected
		if len(o.Contents) == 0 {
			got.Contents = o.Contents
		}
		require.Equal(t, o, got, "key %s", key)
	}
}

func TestLegacyBatchDecode(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "bzip2", "bzip2")
	var all [][][]byte
	var want [][inventory.LegacyFields][]byte
	for i := range 6 {
		o := inventorytest.Obj(fmt.Sprintf("cmd%d", i), strings.Repeat(fmt.Sprintf("line %d\n", i), i*500))
		fields, err := inventorytest.EncodeLegacy(&o)
		require.NoError(t, err)
		all = append(all, fields)
		want = append(want, inventorytest.LegacyTexts(&o))
	}
	got, ok := inventory.DecodeLegacyBatchForTest(all)
	require.True(t, ok)
	require.Len(t, got, len(want))
	for i := range want {
		for j := range want[i] {
			require.Equal(t, string(want[i][j]), string(got[i][j]), "record %d field %d", i, j)
		}
	}
	// One bad stream anywhere sends the whole batch to the slow path.
	all[3] = append([][]byte(nil), all[3]...)
	all[3][2] = []byte("BZh91AY&SY garbage garbage")
	_, ok = inventory.DecodeLegacyBatchForTest(all)
	require.False(t, ok)
}

func TestLegacyKeys(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key  string
		want inventory.Key
		kind inventory.Kind
		ok   bool
	}{
		{"web1.dc1#/etc/sysctl.conf", inventory.Key{Host: "web1.dc1", Name: "/etc/sysctl.conf"}, inventory.KindFile, true},
		{"web1.dc1#/etc/hardware_identification.json@sysctl-a", inventory.Key{Host: "web1.dc1", Name: "sysctl-a"}, inventory.KindCommand, true},
		{"web1.dc1#/etc/hardware_identification.json", inventory.Key{Host: "web1.dc1", Name: "/etc/hardware_identification.json"}, inventory.KindFile, true},
		{"web1.dc1$6f1c2b9e-1111-2222-3333-444455556666", inventory.Key{}, 0, false},
		{"#/etc/x", inventory.Key{}, 0, false},
		{"web1#", inventory.Key{}, 0, false},
	}
	for _, c := range cases {
		k, kind, ok := inventory.ParseLegacyKey(c.key)
		require.Equal(t, c.ok, ok, c.key)
		require.Equal(t, c.want, k, c.key)
		require.Equal(t, c.kind, kind, c.key)
		if ok {
			require.Equal(t, c.key, inventory.LegacyKey(k, kind))
		}
	}
}

func TestParseLegacyStat(t *testing.T) {
	t.Parallel()
	named := "posix.stat_result(st_mode=33261, st_ino=1, st_dev=2, st_nlink=1, st_uid=1000, st_gid=100, st_size=42, st_atime=1385000000, st_mtime=1385000001, st_ctime=1385000002)"
	tuple := "(16877, 1L, 2L, 3, 0, 0, 4096L, 1385000000, 1385000001, 1385000002)"
	st := inventory.ParseLegacyStat(named)
	require.Equal(t, &inventory.FileStat{Mode: 0o755, Size: 42, UID: 1000, GID: 100, ModTime: time.Unix(1385000001, 0).UTC()}, st)
	st = inventory.ParseLegacyStat(tuple)
	require.Equal(t, &inventory.FileStat{Mode: fs.ModeDir | 0o755, Size: 4096, ModTime: time.Unix(1385000001, 0).UTC()}, st)
	require.Nil(t, inventory.ParseLegacyStat(inventorytest.LegacyCommandStat))
	require.Nil(t, inventory.ParseLegacyStat("(1, 2)"))
}

func TestDecodeLegacyRejects(t *testing.T) {
	t.Parallel()
	testenv.Tool(t, "bzip2", "bzip2")
	o := inventorytest.Obj("/etc/motd", "hi\n")
	good, err := inventorytest.EncodeLegacy(&o)
	require.NoError(t, err)
	bz := func(s string) []byte {
		b, err := inventorytest.Bzip2([]byte(s))
		require.NoError(t, err)
		return b
	}
	with := func(i int, v []byte) [][]byte {
		f := append([][]byte(nil), good...)
		f[i] = v
		return f
	}
	cases := map[string][][]byte{
		"four fields":    good[:4],
		"six fields":     append(append([][]byte(nil), good...), good[0]),
		"not bz2":        with(0, []byte("plain text")),
		"truncated bz2":  with(0, good[0][:len(good[0])-4]),
		"md5 not hex":    with(1, bz(strings.Repeat("z", 32))),
		"md5 too short":  with(1, bz("abc")),
		"counts not int": with(3, bz("(a, b, c)")),
		"counts two":     with(3, bz("(1, 2)")),
		"time garbage":   with(4, bz("yesterday")),
		"empty fields":   {},
	}
	k := inventory.Key{Host: "h", Name: o.Name}
	for name, f := range cases {
		var got inventory.Object
		require.ErrorIs(t, inventory.DecodeLegacy(k, inventory.KindFile, f, true, &got), inventory.ErrMalformed, name)
	}
}

func FuzzDecodeLegacy(f *testing.F) {
	// More seeds, real records, are in testdata/fuzz/FuzzDecodeLegacy.
	f.Add([]byte("BZh"), []byte("BZh"), []byte("BZh"), []byte("BZh"), []byte("BZh"))
	f.Fuzz(func(t *testing.T, a, b, c, d, e []byte) {
		fast, ok, slow := inventory.BunzipFieldsForTest([][]byte{a, b, c, d, e})
		if ok {
			for i := range slow {
				require.NotNil(t, slow[i], "field %d: the fast path decoded what the slow one cannot", i)
				require.Equal(t, string(slow[i]), string(fast[i]), "field %d", i)
			}
		}
		var o inventory.Object
		err := inventory.DecodeLegacy(inventory.Key{Host: "h", Name: "/x"}, inventory.KindFile, [][]byte{a, b, c, d, e}, true, &o)
		if err != nil {
			require.ErrorIs(t, err, inventory.ErrMalformed)
			return
		}
		require.Equal(t, int64(len(o.Contents)), o.Size)
	})
}
