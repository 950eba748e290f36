package inventory_test

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
)

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("net.ipv4.conf.all.rp_filter = 1\n", 2000)
	oversize := inventorytest.Obj("/var/log/huge", "")
	oversize.Oversize, oversize.Size, oversize.Contents = true, 1<<30, nil
	cases := map[string]inventory.Object{
		"empty command":  inventorytest.Obj("true", ""),
		"small file":     inventorytest.Obj("/etc/hostname", "web1\n"),
		"large command":  inventorytest.Obj("sysctl-a", big),
		"binary file":    inventorytest.Obj("/bin/x", "\x00\x01\xff"+strings.Repeat("\x00", 300)),
		"oversize file":  oversize,
		"zero times":     {Name: "x", Kind: inventory.KindCommand},
		"stat with mode": {Name: "/tmp", Kind: inventory.KindFile, Stat: &inventory.FileStat{Mode: 0o1777 | 1<<31, UID: 4294967295, GID: 7, ModTime: time.Unix(-5, 3).UTC()}},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			k := inventory.Key{Host: "h.example.com", Name: o.Name}
			o.Host = k.Host
			o.Size = max(o.Size, int64(len(o.Contents)))
			rec := inventory.EncodeRecord([]byte("prefix"), &o)
			require.Equal(t, "prefix", string(rec[:6]), "EncodeRecord appends")
			rec = rec[6:]
			var got inventory.Object
			require.NoError(t, inventory.DecodeRecord(k, rec, false, true, &got))
			if len(o.Contents) == 0 {
				require.Empty(t, got.Contents)
				got.Contents = o.Contents
			}
			require.Equal(t, o, got)

			var hdr inventory.Object
			require.NoError(t, inventory.DecodeRecord(k, rec[:min(len(rec), inventory.HeaderFetchSize)], true, true, &hdr))
			require.Nil(t, hdr.Contents)
			hdr.Contents = o.Contents
			require.Equal(t, o, hdr)
		})
	}
	t.Run("compressed", func(t *testing.T) {
		o := inventorytest.Obj("sysctl-a", big)
		rec := inventory.EncodeRecord(nil, &o)
		require.Less(t, len(rec), len(big)/10, "repetitive contents are compressed")
	})
}

func TestDecodeRecordRejects(t *testing.T) {
	t.Parallel()
	o := inventorytest.Obj("/etc/motd", strings.Repeat("hello\n", 100))
	good := inventory.EncodeRecord(nil, &o)
	k := inventory.Key{Host: "h", Name: o.Name}
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string][]byte{
		"empty":         nil,
		"not ours":      []byte("BZh91AY&SY"),
		"version 2":     mut(func(b []byte) []byte { b[2] = 2; return b }),
		"unknown flag":  mut(func(b []byte) []byte { b[3] |= 0x80; return b }),
		"truncated":     good[:len(good)-3],
		"short header":  good[:10],
		"extra bytes":   append(bytes.Clone(good), 0),
		"bad contents":  mut(func(b []byte) []byte { b[len(b)-1] ^= 0xff; b[len(b)-5] ^= 0xff; return b }),
		"header length": mut(func(b []byte) []byte { b[4] = 0xff; return b }),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			var got inventory.Object
			err := inventory.DecodeRecord(k, b, false, true, &got)
			require.ErrorIs(t, err, inventory.ErrMalformed)
		})
	}
	var got inventory.Object
	err := inventory.DecodeRecord(k, good[:10], true, false, &got)
	require.True(t, inventory.IsShortHeader(err), "a short prefix asks for the whole record: %v", err)
}

func FuzzDecodeRecord(f *testing.F) {
	for _, o := range []inventory.Object{
		inventorytest.Obj("sysctl-a", strings.Repeat("vm.swappiness = 60\n", 50)),
		inventorytest.Obj("/etc/hostname", "web1\n"),
		inventorytest.Obj("true", ""),
	} {
		f.Add(inventory.EncodeRecord(nil, &o))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		k := inventory.Key{Host: "h", Name: "n"}
		var o inventory.Object
		err := inventory.DecodeRecord(k, b, false, true, &o)
		if err != nil {
			require.ErrorIs(t, err, inventory.ErrMalformed)
			return
		}
		require.Equal(t, o.Size, int64(len(o.Contents))+map[bool]int64{true: o.Size, false: 0}[o.Oversize])
		// What decodes re-encodes to a record that decodes the same.
		again := inventory.EncodeRecord(nil, &o)
		var o2 inventory.Object
		require.NoError(t, inventory.DecodeRecord(k, again, false, true, &o2))
		if len(o.Contents) == 0 {
			o2.Contents = o.Contents
		}
		require.Equal(t, o, o2)
		var h inventory.Object
		require.NoError(t, inventory.DecodeRecord(k, b, true, false, &h))
	})
}

func TestCountText(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want inventory.Counts
	}{
		{"", inventory.Counts{}},
		{"a b\n", inventory.Counts{Lines: 1, Words: 2, Chars: 4}},
		{"  héllo\twörld  \nx", inventory.Counts{Lines: 1, Words: 3, Chars: 17}},
		{"\n\n", inventory.Counts{Lines: 2, Chars: 2}},
	}
	for _, c := range cases {
		require.Equal(t, c.want, inventory.CountText([]byte(c.in)), "%q", c.in)
	}
}

func FuzzCountText(f *testing.F) {
	f.Add([]byte("a b\n"))
	f.Add([]byte("  héllo\u00a0wörld\u2028x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// The reference: a rune at a time, as wc does.
		var want inventory.Counts
		in := false
		for _, r := range string(b) {
			want.Chars++
			if r == '\n' {
				want.Lines++
			}
			if unicode.IsSpace(r) {
				in = false
			} else if !in {
				in = true
				want.Words++
			}
		}
		require.Equal(t, want, inventory.CountText(b))
	})
}

// BenchmarkDecodeGrep decodes a 57 KB sysctl -a record and looks for one
// line in it: the per-record work of `--grep --count`.
func BenchmarkDecodeGrep(b *testing.B) {
	var body strings.Builder
	for i := range 1300 {
		body.WriteString("net.ipv4.conf.eth" + strings.Repeat("x", i%7) + ".rp_filter = 1\n")
	}
	body.WriteString("net.core.netdev_budget = 300\n")
	o := inventorytest.Obj("sysctl-a", body.String())
	rec := inventory.EncodeRecord(nil, &o)
	k := inventory.Key{Host: "h", Name: o.Name}
	var got inventory.Object
	b.SetBytes(int64(len(o.Contents)))
	for b.Loop() {
		if err := inventory.DecodeRecord(k, rec, false, true, &got); err != nil {
			b.Fatal(err)
		}
		if !bytes.Contains(got.Contents, []byte("net.core.netdev_budget")) {
			b.Fatal("line not found")
		}
	}
}
