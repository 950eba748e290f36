package snapshot_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// Digests of the golden manifest, spelt out.
const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	hexC = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
	hexD = "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
	hexE = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
)

// goldenJSON is the canonical encoding of goldenManifest, written by hand
// from the rules in Manifest.Canonical's doc comment (one line, split
// here only with string concatenation for review). Points to check:
// "format" first; packages by name, then EVR with rpm's order (release
// "9.el9" before "10.el9", although "10" < "9" byte-wise); boot files and
// metadata keys by name; nine fractional digits; '"' as \" and TAB as
// \u0009.
const goldenJSON = `{"format":1,"id":"snap-1","os_release":"rhel-9.4","arch":"x86_64",` +
	`"created_at":"2026-01-02T03:04:05.000000006Z","parent":"snap-0",` +
	`"packages":[` +
	`{"name":"bash","arch":"x86_64","evr":{"epoch":0,"version":"5.1.8","release":"9.el9"},"size":1234,` +
	`"digest":"sha256:` + hexA + `","location":"Packages/b/bash-5.1.8-9.el9.x86_64.rpm"},` +
	`{"name":"bash","arch":"x86_64","evr":{"epoch":0,"version":"5.1.8","release":"10.el9"},"size":1240,` +
	`"digest":"sha256:` + hexB + `","location":"Packages/b/bash-5.1.8-10.el9.x86_64.rpm"},` +
	`{"name":"kernel","arch":"x86_64","evr":{"epoch":1,"version":"5.14.0","release":"427.el9"},"size":99,` +
	`"digest":"sha256:` + hexC + `","location":"Packages/k/kernel.rpm"}` +
	`],"boot_files":[` +
	`{"name":"initrd.img","size":7,"digest":"sha256:` + hexD + `"},` +
	`{"name":"vmlinuz","size":8,"digest":"sha256:` + hexE + `"}` +
	`],"metadata":{"note":"a \"quoted\"\u0009tab","source":"https://cdn.example/rhel9"}}`

func mustDigest(t testing.TB, s string) snapshot.Digest {
	t.Helper()
	d, err := snapshot.ParseDigest(s)
	require.NoError(t, err)
	return d
}

// goldenManifest returns the manifest of goldenJSON with its slices out of
// order and its time in another zone.
func goldenManifest(t testing.TB) *snapshot.Manifest {
	t.Helper()
	return &snapshot.Manifest{
		ID:        "snap-1",
		OSRelease: "rhel-9.4",
		Arch:      "x86_64",
		CreatedAt: time.Date(2026, 1, 2, 4, 4, 5, 6, time.FixedZone("CET", 3600)),
		Parent:    "snap-0",
		Packages: []snapshot.PackageEntry{
			{Name: "kernel", Arch: "x86_64", EVR: rpmver.EVR{Epoch: 1, Version: "5.14.0", Release: "427.el9"},
				Size: 99, Digest: mustDigest(t, hexC), Location: "Packages/k/kernel.rpm"},
			{Name: "bash", Arch: "x86_64", EVR: rpmver.EVR{Version: "5.1.8", Release: "10.el9"},
				Size: 1240, Digest: mustDigest(t, hexB), Location: "Packages/b/bash-5.1.8-10.el9.x86_64.rpm"},
			{Name: "bash", Arch: "x86_64", EVR: rpmver.EVR{Version: "5.1.8", Release: "9.el9"},
				Size: 1234, Digest: mustDigest(t, hexA), Location: "Packages/b/bash-5.1.8-9.el9.x86_64.rpm"},
		},
		BootFiles: []snapshot.BootFile{
			{Name: "vmlinuz", Size: 8, Digest: mustDigest(t, hexE)},
			{Name: "initrd.img", Size: 7, Digest: mustDigest(t, hexD)},
		},
		Metadata: map[string]string{
			"source": "https://cdn.example/rhel9",
			"note":   "a \"quoted\"\ttab",
		},
	}
}

// cloneManifest returns a deep copy of m.
func cloneManifest(m *snapshot.Manifest) *snapshot.Manifest {
	c := *m
	c.Packages = slices.Clone(m.Packages)
	c.BootFiles = slices.Clone(m.BootFiles)
	c.Metadata = maps.Clone(m.Metadata)
	return &c
}

func TestCanonicalGolden(t *testing.T) {
	t.Parallel()
	got, err := goldenManifest(t).Canonical()
	require.NoError(t, err)
	require.Equal(t, goldenJSON, string(got))
	require.True(t, json.Valid(got))
}

func TestDecodeManifestRoundTrip(t *testing.T) {
	t.Parallel()
	m, err := snapshot.DecodeManifest([]byte(goldenJSON))
	require.NoError(t, err)
	require.Equal(t, time.UTC, m.CreatedAt.Location())
	require.True(t, m.CreatedAt.Equal(goldenManifest(t).CreatedAt))
	require.Equal(t, "kernel", m.Packages[2].Name)
	require.Equal(t, "a \"quoted\"\ttab", m.Metadata["note"])
	again, err := m.Canonical()
	require.NoError(t, err)
	require.Equal(t, goldenJSON, string(again))

	// A minimal manifest: empty collections decode as nil.
	minimal := &snapshot.Manifest{ID: "s", OSRelease: "r"}
	b, err := minimal.Canonical()
	require.NoError(t, err)
	require.Equal(t, `{"format":1,"id":"s","os_release":"r","arch":"",`+
		`"created_at":"0001-01-01T00:00:00.000000000Z","parent":"",`+
		`"packages":[],"boot_files":[],"metadata":{}}`, string(b))
	m, err = snapshot.DecodeManifest(b)
	require.NoError(t, err)
	require.Equal(t, minimal, m)
}

func TestDecodeManifestRejectsNonCanonical(t *testing.T) {
	t.Parallel()
	indented := func() string {
		var buf bytes.Buffer
		require.NoError(t, json.Indent(&buf, []byte(goldenJSON), "", "  "))
		return buf.String()
	}
	tests := []struct {
		name    string
		input   string
		errText string // a substring of the error, if set
	}{
		{"empty", ``, ""},
		{"not JSON", `hello`, ""},
		{"null", `null`, "no format"},
		{"no format", strings.Replace(goldenJSON, `"format":1,`, ``, 1), "no format"},
		{"format 2", strings.Replace(goldenJSON, `"format":1`, `"format":2`, 1), "unsupported format 2"},
		{"format 0", strings.Replace(goldenJSON, `"format":1`, `"format":0`, 1), "unsupported format 0"},
		{"format as string", strings.Replace(goldenJSON, `"format":1`, `"format":"1"`, 1), ""},
		{"trailing newline", goldenJSON + "\n", "not canonical"},
		{"leading space", " " + goldenJSON, "not canonical"},
		{"space after colon", strings.Replace(goldenJSON, `"id":"snap-1"`, `"id": "snap-1"`, 1), "not canonical"},
		{"indented", indented(), "not canonical"},
		{"keys reordered", strings.Replace(goldenJSON, `"id":"snap-1","os_release":"rhel-9.4"`, `"os_release":"rhel-9.4","id":"snap-1"`, 1), "not canonical"},
		{"format not first", `{"id":"snap-1","format":1` + strings.TrimPrefix(goldenJSON, `{"format":1,"id":"snap-1"`), "not canonical"},
		{"unknown field", strings.Replace(goldenJSON, `"format":1,`, `"format":1,"extra":true,`, 1), "unknown field"},
		{"unknown package field", strings.Replace(goldenJSON, `"size":99,`, `"size":99,"epoch":0,`, 1), "unknown field"},
		{"key in upper case", strings.Replace(goldenJSON, `"id":`, `"ID":`, 1), "not canonical"},
		{"duplicate key", strings.Replace(goldenJSON, `"parent":"snap-0"`, `"parent":"x","parent":"snap-0"`, 1), "not canonical"},
		{"trailing data", goldenJSON + `{}`, ""},
		{"packages unsorted", strings.Replace(goldenJSON, `"release":"9.el9"`, `"release":"99.el9"`, 1), "not canonical"},
		{"time without nanoseconds", strings.Replace(goldenJSON, `05.000000006Z`, `05Z`, 1), ""},
		{"time with offset", strings.Replace(goldenJSON, `03:04:05.000000006Z`, `04:04:05.000000006+01:00`, 1), ""},
		{"digest without prefix", strings.Replace(goldenJSON, `"sha256:`+hexA, `"`+hexA, 1), "not canonical"},
		{"digest in upper case", strings.Replace(goldenJSON, hexA, strings.ToUpper(hexA), 1), "invalid digest"},
		{"escape spelt \\t", strings.Replace(goldenJSON, `\u0009`, `\t`, 1), "not canonical"},
		{"escape in upper case", strings.Replace(goldenJSON, `\u0009`, `\u000A`, 1), "not canonical"}, // \u000a is canonical
		{"slash escaped", strings.Replace(goldenJSON, `https://`, `https:\/\/`, 1), "not canonical"},
		{"letter escaped", strings.Replace(goldenJSON, `"snap-0"`, `"\u0073nap-0"`, 1), "not canonical"},
		{"size as float", strings.Replace(goldenJSON, `"size":99`, `"size":99.0`, 1), ""},
		{"size with exponent", strings.Replace(goldenJSON, `"size":99`, `"size":9.9e1`, 1), ""},
		{"null packages", strings.Replace(goldenJSON, `"boot_files":[`, `"boot_files":null,"x":[`, 1), ""},
		{"invalid UTF-8", strings.Replace(goldenJSON, `"snap-0"`, "\"snap-\xff\"", 1), "not canonical"},
		{"invalid manifest", strings.Replace(goldenJSON, `"id":"snap-1"`, `"id":""`, 1), "empty ID"},
		{"negative size", strings.Replace(goldenJSON, `"size":99`, `"size":-99`, 1), "negative size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.NotEqual(t, goldenJSON, tt.input, "the test case changes nothing")
			m, err := snapshot.DecodeManifest([]byte(tt.input))
			require.ErrorIs(t, err, snapshot.ErrInvalidManifest)
			require.Nil(t, m)
			if tt.errText != "" {
				require.ErrorContains(t, err, tt.errText)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(m *snapshot.Manifest)
		errText string
	}{
		{"empty ID", func(m *snapshot.Manifest) { m.ID = "" }, "empty ID"},
		{"empty OSRelease", func(m *snapshot.Manifest) { m.OSRelease = "" }, "empty OSRelease"},
		{"invalid UTF-8", func(m *snapshot.Manifest) { m.Arch = "\xff" }, "Arch is not valid UTF-8"},
		{"year 10000", func(m *snapshot.Manifest) { m.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "outside 0-9999"},
		{"package without name", func(m *snapshot.Manifest) { m.Packages[0].Name = "" }, "empty name"},
		{"package without arch", func(m *snapshot.Manifest) { m.Packages[0].Arch = "" }, "empty arch"},
		{"package without version", func(m *snapshot.Manifest) { m.Packages[0].EVR.Version = "" }, "empty version"},
		{"negative epoch", func(m *snapshot.Manifest) { m.Packages[0].EVR.Epoch = -1 }, "negative epoch"},
		{"negative package size", func(m *snapshot.Manifest) { m.Packages[1].Size = -1 }, "negative size -1"},
		{"duplicate package", func(m *snapshot.Manifest) {
			p := m.Packages[1]
			p.Location, p.Size = "elsewhere.rpm", 1
			m.Packages = append(m.Packages, p)
		}, `duplicate package "bash".x86_64 5.1.8-10.el9`},
		{"duplicate package, EVR spelt differently", func(m *snapshot.Manifest) {
			p := m.Packages[0]
			p.EVR.Version = "05.014.0" // rpm: equal to 5.14.0
			m.Packages = append(m.Packages, p)
		}, `duplicate package "kernel"`},
		{"boot file without name", func(m *snapshot.Manifest) { m.BootFiles[0].Name = "" }, "empty name"},
		{"negative boot file size", func(m *snapshot.Manifest) { m.BootFiles[0].Size = -5 }, "negative size -5"},
		{"duplicate boot file", func(m *snapshot.Manifest) {
			m.BootFiles = append(m.BootFiles, snapshot.BootFile{Name: "vmlinuz"})
		}, `duplicate boot file "vmlinuz"`},
		{"empty metadata key", func(m *snapshot.Manifest) { m.Metadata[""] = "x" }, "empty metadata key"},
		{"invalid metadata value", func(m *snapshot.Manifest) { m.Metadata["k"] = "\xc3" }, "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := goldenManifest(t)
			tt.mutate(m)
			err := m.Validate()
			require.ErrorIs(t, err, snapshot.ErrInvalidManifest)
			require.ErrorContains(t, err, tt.errText)
			_, err = m.Canonical()
			require.ErrorIs(t, err, snapshot.ErrInvalidManifest)
		})
	}

	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, goldenManifest(t).Validate())
		// Same name and EVR on two arches, and zero sizes, are fine.
		m := goldenManifest(t)
		p := m.Packages[0]
		p.Arch, p.Size = "aarch64", 0
		m.Packages = append(m.Packages, p)
		require.NoError(t, m.Validate())
	})
	t.Run("nil", func(t *testing.T) {
		t.Parallel()
		var m *snapshot.Manifest
		require.ErrorIs(t, m.Validate(), snapshot.ErrInvalidManifest)
	})
}

// randomManifest returns a valid manifest with random content, including
// strings that need escaping and packages that differ only in EVR or
// arch.
func randomManifest(r *rand.Rand) *snapshot.Manifest {
	alphabet := []string{"a", "b", "z", "0", "9", ".", "-", "_", "~", "^", "\"", "\\", "\t", "\n", "\x00", "é", "ß", "日", "/", "<", "&", "\u2028"}
	str := func(minLen, maxLen int) string {
		var b strings.Builder
		for range minLen + r.IntN(maxLen-minLen+1) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	digest := func() snapshot.Digest {
		var d snapshot.Digest
		for i := range d {
			d[i] = byte(r.Uint32())
		}
		return d
	}
	m := &snapshot.Manifest{
		ID:        "id-" + str(0, 6),
		OSRelease: "rel-" + str(0, 4),
		Arch:      str(0, 6),
		CreatedAt: time.Unix(r.Int64N(1<<34), r.Int64N(1e9)).In(time.FixedZone("", 60*(r.IntN(1440)-720))),
		Parent:    str(0, 8),
		Metadata:  map[string]string{},
	}
	names := []string{"bash", "glibc", "kernel", "zlib", "bash-devel"}
	arches := []string{"x86_64", "noarch", "aarch64"}
	seen := map[string]bool{}
	for range r.IntN(30) {
		p := snapshot.PackageEntry{
			Name: names[r.IntN(len(names))],
			Arch: arches[r.IntN(len(arches))],
			EVR: rpmver.EVR{
				Epoch:   r.IntN(3),
				Version: fmt.Sprintf("%d.%d", r.IntN(4), r.IntN(12)),
				Release: []string{"", "1", "2.el9", "10.el9", "1.fc40"}[r.IntN(5)],
			},
			Size:     r.Int64N(1 << 40),
			Digest:   digest(),
			Location: str(0, 10),
		}
		key := p.Name + "|" + p.Arch + "|" + p.EVR.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		m.Packages = append(m.Packages, p)
	}
	for i := range r.IntN(6) {
		m.BootFiles = append(m.BootFiles, snapshot.BootFile{Name: fmt.Sprintf("f%d%s", i, str(0, 4)), Size: r.Int64N(1 << 30), Digest: digest()})
	}
	for range r.IntN(8) {
		m.Metadata["k"+str(0, 5)] = str(0, 12)
	}
	return m
}

// shuffled returns a deep copy of m with its slices shuffled and its map
// rebuilt in random insertion order.
func shuffled(r *rand.Rand, m *snapshot.Manifest) *snapshot.Manifest {
	c := cloneManifest(m)
	r.Shuffle(len(c.Packages), func(i, j int) { c.Packages[i], c.Packages[j] = c.Packages[j], c.Packages[i] })
	r.Shuffle(len(c.BootFiles), func(i, j int) { c.BootFiles[i], c.BootFiles[j] = c.BootFiles[j], c.BootFiles[i] })
	keys := slices.Collect(maps.Keys(m.Metadata))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	c.Metadata = make(map[string]string, len(keys))
	for _, k := range keys {
		c.Metadata[k] = m.Metadata[k]
	}
	c.CreatedAt = m.CreatedAt.In(time.FixedZone("", 60*(r.IntN(1440)-720)))
	return c
}

func TestCanonicalStableUnderShuffling(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := range 300 {
		m := randomManifest(r)
		want, err := m.Canonical()
		require.NoError(t, err, "manifest %d", i)
		require.True(t, json.Valid(want), "manifest %d: %s", i, want)
		for range 5 {
			got, err := shuffled(r, m).Canonical()
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "manifest %d (seed %d)", i, seed)
		}
		d, err := snapshot.DecodeManifest(want)
		require.NoError(t, err, "manifest %d (seed %d): %s", i, seed, want)
		again, err := d.Canonical()
		require.NoError(t, err)
		require.Equal(t, string(want), string(again))
	}
}

// TestCanonicalMatchesEncodingJSON checks that the hand-written encoder
// produces JSON whose values encoding/json reads back unchanged.
func TestCanonicalMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		m := randomManifest(r)
		b, err := m.Canonical()
		require.NoError(t, err)
		var v struct {
			Parent   string            `json:"parent"`
			Metadata map[string]string `json:"metadata"`
		}
		require.NoError(t, json.Unmarshal(b, &v))
		require.Equal(t, m.Parent, v.Parent)
		require.Equal(t, len(m.Metadata), len(v.Metadata))
		for k, val := range m.Metadata {
			require.Equal(t, val, v.Metadata[k])
		}
	}
}

// FuzzDecodeManifest checks that DecodeManifest never panics, that its
// errors wrap ErrInvalidManifest, and that whatever it accepts is
// canonical: it encodes back to exactly the input.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(goldenJSON))
	f.Add([]byte(`{"format":1,"id":"s","os_release":"r","arch":"","created_at":"0001-01-01T00:00:00.000000000Z","parent":"","packages":[],"boot_files":[],"metadata":{}}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := snapshot.DecodeManifest(data)
		if err != nil {
			require.ErrorIs(t, err, snapshot.ErrInvalidManifest)
			require.Nil(t, m)
			return
		}
		require.NoError(t, m.Validate())
		again, err := m.Canonical()
		require.NoError(t, err)
		require.Equal(t, string(data), string(again))
	})
}

// TestFuzzSeedsCanonical checks that the checked-in seeds named
// canonical_* do decode, so that the fuzzer starts from accepted input.
func TestFuzzSeedsCanonical(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzDecodeManifest", "canonical_*"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		header, body, ok := strings.Cut(string(b), "\n")
		require.True(t, ok)
		require.Equal(t, "go test fuzz v1", header)
		body = strings.TrimSpace(body)
		require.True(t, strings.HasPrefix(body, "[]byte(") && strings.HasSuffix(body, ")"), p)
		data, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(body, "[]byte("), ")"))
		require.NoError(t, err, p)
		_, err = snapshot.DecodeManifest([]byte(data))
		require.NoError(t, err, p)
	}
}
