package yumrepotest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/fleetkit/fleetkit/snapshot/rpmver"
)

// SourceDateEpoch is the build time (seconds since the Unix epoch) that
// [BuildRPMs] gives every rpm, and the revision [Createrepo] gives every
// repository, so fixtures are the same on every run.
const SourceDateEpoch = 1700000000

// RPM is a small real noarch rpm for [BuildRPMs]: it holds one file,
// /usr/share/<name>/VERSION, whose content is its EVR.
type RPM struct {
	// Name is the package name.
	Name string
	// EVR is "[epoch:]version-release"; the release is required, and the
	// version and release may hold '~' and '^'. An epoch of 0 is written
	// as no Epoch tag.
	EVR string
}

// FileName returns the file BuildRPMs writes for r:
// "<name>-<version>-<release>.noarch.rpm".
func (r RPM) FileName() (string, error) {
	e, err := rpmver.Parse(r.EVR)
	if err != nil {
		return "", fmt.Errorf("yumrepotest: rpm %s: %w", r.Name, err)
	}
	if e.Release == "" {
		return "", fmt.Errorf("yumrepotest: rpm %s %q: rpmbuild needs a release", r.Name, r.EVR)
	}
	return r.Name + "-" + e.Version + "-" + e.Release + ".noarch.rpm", nil
}

// SampleRPMs returns rpms whose newest builds, by rpm's ordering, are
// SampleNewest's: each name has several builds that differ in one way
// rpm orders (epoch, numeric segments, leading zeros, '~', '^', release).
func SampleRPMs() []RPM {
	return []RPM{
		// An epoch beats any version.
		{"fx-epoch", "2.0-1"}, {"fx-epoch", "1:1.0-1"}, {"fx-epoch", "1.9-3"},
		// Segments compare as numbers: 10 > 9; a longer release is newer.
		{"fx-numeric", "1.9-1"}, {"fx-numeric", "1.10-1"}, {"fx-numeric", "1.10-1.1"},
		// Leading zeros are ignored: 010 is 10, newer than 9.
		{"fx-zeros", "1.010-1"}, {"fx-zeros", "1.9-1"},
		// '~' sorts before the end: release candidates come before 2.0.
		{"fx-tilde", "2.0~rc1-1"}, {"fx-tilde", "2.0~rc2-1"}, {"fx-tilde", "2.0-1"}, {"fx-tilde", "1.99-1"},
		// '^' sorts after the end: snapshots of 3.0 come after it.
		{"fx-caret", "3.0-1"}, {"fx-caret", "3.0^20240101git1-1"}, {"fx-caret", "3.0^20240102git2-1"},
		// '~' in the release, and a release bump beats it.
		{"fx-release", "1.0-1~beta"}, {"fx-release", "1.0-1"}, {"fx-release", "1.0-2.el9"},
		// A single build.
		{"fx-single", "0.1-1"},
	}
}

// SampleNewest is the newest build of each name in [SampleRPMs], by rpm's
// ordering. The yumrepotest tests check it against rpm itself.
var SampleNewest = map[string]string{
	"fx-epoch":   "1:1.0-1",
	"fx-numeric": "1.10-1.1",
	"fx-zeros":   "1.010-1",
	"fx-tilde":   "2.0-1",
	"fx-caret":   "3.0^20240102git2-1",
	"fx-release": "1.0-2.el9",
	"fx-single":  "0.1-1",
}

// BuildRPMs builds rpms with one rpmbuild run into dir (created if
// needed), each as [RPM.FileName], and returns their paths in order. The
// rpms are built with a fixed build time ([SourceDateEpoch]) and host.
func BuildRPMs(ctx context.Context, dir string, rpms []RPM) ([]string, error) {
	if len(rpms) == 0 {
		return nil, errors.New("yumrepotest: build rpms: none given")
	}
	specs := make([]string, len(rpms))
	paths := make([]string, len(rpms))
	for i, r := range rpms {
		name, err := r.FileName()
		if err != nil {
			return nil, err
		}
		paths[i] = filepath.Join(dir, name)
		if specs[i], err = specFile(r); err != nil {
			return nil, err
		}
	}
	rpmbuild, err := exec.LookPath("rpmbuild")
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: build rpms: %w", err)
	}
	top, err := os.MkdirTemp("", "yumrepotest-rpmbuild-")
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: build rpms: %w", err)
	}
	defer os.RemoveAll(top)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("yumrepotest: build rpms: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: build rpms: %w", err)
	}
	args := []string{
		"-bb", "--nodeps", "--quiet",
		"--define", "_topdir " + top,
		"--define", "_tmppath " + filepath.Join(top, "tmp"),
		"--define", "_rpmdir " + abs,
		"--define", "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
		"--define", "_buildhost yumrepotest.example",
		"--define", "use_source_date_epoch_as_buildtime 1",
		"--define", "clamp_mtime_to_source_date_epoch 1",
		"--define", "debug_package %{nil}",
		"--define", "__os_install_post %{nil}", // no brp scripts: nothing to strip or compile
	}
	for i, r := range rpms {
		p := filepath.Join(top, fmt.Sprintf("%03d-%s.spec", i, r.Name))
		if err := os.WriteFile(p, []byte(specs[i]), 0o644); err != nil {
			return nil, fmt.Errorf("yumrepotest: build rpms: %w", err)
		}
		args = append(args, p)
	}
	cmd := exec.CommandContext(ctx, rpmbuild, args...)
	cmd.Dir = top
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.Itoa(SourceDateEpoch), "LC_ALL=C")
	if err := run(cmd); err != nil {
		return nil, fmt.Errorf("yumrepotest: build %d rpms: %w", len(rpms), err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("yumrepotest: rpmbuild did not write %s: %w", p, err)
		}
	}
	return paths, nil
}

// The bytes a spec's name, and its version or release, may hold here.
var (
	nameChars = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
	specChars = regexp.MustCompile(`^[A-Za-z0-9._+~^]+$`)
)

func specFile(r RPM) (string, error) {
	e, err := rpmver.Parse(r.EVR)
	if err != nil {
		return "", fmt.Errorf("yumrepotest: rpm %s: %w", r.Name, err)
	}
	if !nameChars.MatchString(r.Name) {
		return "", fmt.Errorf("yumrepotest: rpm %q: name is empty or has a byte rpmbuild refuses", r.Name)
	}
	for _, s := range []string{e.Version, e.Release} {
		if !specChars.MatchString(s) {
			return "", fmt.Errorf("yumrepotest: rpm %s %q: %q is empty or has a byte rpmbuild refuses", r.Name, r.EVR, s)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Name: %s\n", r.Name)
	if e.Epoch > 0 {
		fmt.Fprintf(&b, "Epoch: %d\n", e.Epoch)
	}
	fmt.Fprintf(&b, `Version: %s
Release: %s
Summary: yumrepotest fixture %s
License: MIT
BuildArch: noarch

%%description
A fixture package built by fleetkit's yumrepotest.

%%install
mkdir -p %%{buildroot}/usr/share/%s
printf '%%s\n' '%s' > %%{buildroot}/usr/share/%s/VERSION

%%files
/usr/share/%s/VERSION
`, e.Version, e.Release, r.Name, r.Name, e.String(), r.Name, r.Name)
	return b.String(), nil
}

// Createrepo indexes the rpms under dir with createrepo_c (no sqlite
// databases; revision [SourceDateEpoch]), compressing primary.xml with c:
// createrepo_c itself writes gzip and xz; for zstd and uncompressed it
// writes gzip, which [Recompress] then rewrites.
func Createrepo(ctx context.Context, dir string, c Compression) error {
	c = c.orDefault()
	createrepo, err := exec.LookPath("createrepo_c")
	if err != nil {
		return fmt.Errorf("yumrepotest: createrepo %s: %w", dir, err)
	}
	native := Gzip
	if c == XZ {
		native = XZ
	}
	cmd := exec.CommandContext(ctx, createrepo, "--no-database", "--workers", "2",
		"--general-compress-type", string(native),
		"--revision", strconv.Itoa(SourceDateEpoch), "--set-timestamp-to-revision", dir)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if err := run(cmd); err != nil {
		return fmt.Errorf("yumrepotest: createrepo_c %s: %w", dir, err)
	}
	if c != native {
		return Recompress(ctx, dir, c)
	}
	return nil
}

// run runs cmd, returning an error with the last lines of its output when
// it fails.
func run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, tail(out.String(), 15))
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// repomd.xml pieces Recompress rewrites, inside the primary data element.
var (
	primaryData  = regexp.MustCompile(`(?s)<data type="primary">.*?</data>`)
	locationHref = regexp.MustCompile(`<location href="([^"]*)"\s*/>`)
	checksumElem = regexp.MustCompile(`<checksum type="sha256">[0-9a-fA-F]+</checksum>`)
	sizeElem     = regexp.MustCompile(`<size>[0-9]+</size>`)
)

// Recompress rewrites the primary metadata of the repository at dir with
// compression c: it decompresses the current primary file (gzip, xz, zstd
// or plain, by its magic bytes), compresses it with c under a new name
// "repodata/<sha256>-primary<ext>", points repomd.xml's primary entry at
// it (its checksum, location and size; the open-checksum stays right, as
// the content is unchanged), replaces repomd.xml by rename and removes
// the old file. It expects a repomd.xml with sha256 checksums, as
// createrepo_c writes by default.
func Recompress(ctx context.Context, dir string, c Compression) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	mdPath := filepath.Join(dir, "repodata", "repomd.xml")
	md, err := os.ReadFile(mdPath)
	if err != nil {
		return fmt.Errorf("yumrepotest: recompress: %w", err)
	}
	loc := primaryData.FindIndex(md)
	if loc == nil {
		return fmt.Errorf("yumrepotest: recompress: %s has no primary entry", mdPath)
	}
	block := md[loc[0]:loc[1]]
	m := locationHref.FindSubmatch(block)
	if m == nil || checksumElem.Find(block) == nil || sizeElem.Find(block) == nil {
		return fmt.Errorf("yumrepotest: recompress: %s: primary entry without location, sha256 checksum or size", mdPath)
	}
	oldHref := string(m[1])
	if err := checkRel(oldHref); err != nil {
		return fmt.Errorf("yumrepotest: recompress: primary location: %w", err)
	}
	oldPath := filepath.Join(dir, filepath.FromSlash(oldHref))
	raw, err := os.ReadFile(oldPath)
	if err != nil {
		return fmt.Errorf("yumrepotest: recompress: %w", err)
	}
	plain, err := decompress(raw)
	if err != nil {
		return fmt.Errorf("yumrepotest: recompress %s: %w", oldPath, err)
	}
	data, err := Compress(plain, c)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	newHref := "repodata/" + hex.EncodeToString(sum[:]) + "-primary" + c.Ext()
	if err := writeFile(dir, newHref, data); err != nil {
		return err
	}
	block = locationHref.ReplaceAllLiteral(block, []byte(`<location href="`+newHref+`"/>`))
	block = checksumElem.ReplaceAllLiteral(block, []byte(`<checksum type="sha256">`+hex.EncodeToString(sum[:])+`</checksum>`))
	block = sizeElem.ReplaceAllLiteral(block, []byte(`<size>`+strconv.Itoa(len(data))+`</size>`))
	out := append(append(append([]byte(nil), md[:loc[0]]...), block...), md[loc[1]:]...)
	tmp := mdPath + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return fmt.Errorf("yumrepotest: recompress: %w", err)
	}
	if err := os.Rename(tmp, mdPath); err != nil {
		return fmt.Errorf("yumrepotest: recompress: %w", err)
	}
	if newHref != oldHref {
		if err := os.Remove(oldPath); err != nil {
			return fmt.Errorf("yumrepotest: recompress: %w", err)
		}
	}
	return nil
}

// decompress returns data decompressed by its magic bytes (plain data as
// it is).
func decompress(data []byte) ([]byte, error) {
	var r io.Reader
	switch {
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(data, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		zr, err := xz.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		r = zr
	case bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(bytes.NewReader(data), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return data, nil
	}
	return io.ReadAll(r)
}

// RPMVercmp asks rpm how each pair of EVR strings compares, with rpm's
// Lua rpm.vercmp, all pairs in one rpm run; it returns -1, 0 or 1 for each
// pair. The strings must be EVRs rpm accepts, without newlines or NUL;
// rpm's error for the first it refuses is returned.
func RPMVercmp(ctx context.Context, pairs [][2]string) ([]int, error) {
	rpm, err := exec.LookPath("rpm")
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %w", err)
	}
	var in strings.Builder
	for i, p := range pairs {
		for _, s := range p {
			if strings.ContainsAny(s, "\n\r\x00") {
				return nil, fmt.Errorf("yumrepotest: rpm vercmp: pair %d: %q has a newline or NUL", i, s)
			}
			in.WriteString(s)
			in.WriteByte('\n')
		}
	}
	f, err := os.CreateTemp("", "yumrepotest-vercmp-")
	if err != nil {
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(in.String()); err != nil {
		f.Close()
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %w", err)
	}
	// Reads the file two lines at a time; one result a line. pcall keeps
	// going past a refused version and reports it.
	script := `%{lua:
local out, a, n = {}, nil, 0
for line in io.lines(` + luaString(f.Name()) + `) do
  if a == nil then a = line else
    n = n + 1
    local ok, r = pcall(rpm.vercmp, a, line)
    if ok then out[n] = tostring(r) else out[n] = "E " .. tostring(r) end
    a = nil
  end
end
print(table.concat(out, "\n"))
}`
	cmd := exec.CommandContext(ctx, rpm, "--eval", script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %w: %s", err, tail(stderr.String(), 5))
	}
	res := make([]int, 0, len(pairs))
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" && len(res) == len(pairs) {
			continue
		}
		if len(res) >= len(pairs) {
			return nil, fmt.Errorf("yumrepotest: rpm vercmp: more results than the %d pairs: %q", len(pairs), line)
		}
		if msg, bad := strings.CutPrefix(line, "E "); bad {
			p := pairs[len(res)]
			return nil, fmt.Errorf("yumrepotest: rpm vercmp(%q, %q): %s", p[0], p[1], msg)
		}
		n, err := strconv.Atoi(line)
		if err != nil {
			return nil, fmt.Errorf("yumrepotest: rpm vercmp: result %d: %q is not a number", len(res), line)
		}
		res = append(res, max(-1, min(1, n)))
	}
	if len(res) != len(pairs) {
		return nil, fmt.Errorf("yumrepotest: rpm vercmp: %d results for %d pairs: %s", len(res), len(pairs), tail(stderr.String(), 5))
	}
	return res, nil
}

// luaString quotes s as a Lua string literal of decimal escapes, which
// holds any byte and no character rpm's macro expansion acts on.
func luaString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\%03d`, s[i])
	}
	b.WriteByte('"')
	return b.String()
}

// WriteSampleRepo builds [SampleRPMs] with rpmbuild into dir/Packages and
// indexes dir with [Createrepo] using compression c. It returns the rpms'
// paths. Use a [SampleCache] to build them once for many repositories.
func WriteSampleRepo(ctx context.Context, dir string, c Compression) ([]string, error) {
	paths, err := BuildRPMs(ctx, filepath.Join(dir, "Packages"), SampleRPMs())
	if err != nil {
		return nil, err
	}
	if err := Createrepo(ctx, dir, c); err != nil {
		return nil, err
	}
	return paths, nil
}

// SampleCache builds [SampleRPMs] once, on first use, into a temporary
// directory, and copies them into each repository it writes; rpmbuild
// takes about a second for them, createrepo_c a few milliseconds. The zero
// value is ready to use; [SampleCache.Close] removes the built rpms. A
// SampleCache is safe for concurrent use.
type SampleCache struct {
	once sync.Once
	mu   sync.Mutex
	dir  string
	err  error
}

func (s *SampleCache) build(ctx context.Context) (string, error) {
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "yumrepotest-samples-")
		if err == nil {
			_, err = BuildRPMs(ctx, dir, SampleRPMs())
		}
		s.mu.Lock()
		s.dir, s.err = dir, err
		s.mu.Unlock()
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dir, s.err
}

// WriteRepo writes a repository of the sample rpms into dir: the rpms
// under dir/Packages, indexed by [Createrepo] with compression c. It
// returns the rpms' paths. The first call's ctx bounds the build; a
// failed build fails every call.
func (s *SampleCache) WriteRepo(ctx context.Context, dir string, c Compression) ([]string, error) {
	src, err := s.build(ctx)
	if err != nil {
		return nil, err
	}
	pkgs := filepath.Join(dir, "Packages")
	if err := os.MkdirAll(pkgs, 0o755); err != nil {
		return nil, fmt.Errorf("yumrepotest: %w", err)
	}
	var paths []string
	for _, r := range SampleRPMs() {
		name, err := r.FileName()
		if err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return nil, fmt.Errorf("yumrepotest: %w", err)
		}
		p := filepath.Join(pkgs, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return nil, fmt.Errorf("yumrepotest: %w", err)
		}
		paths = append(paths, p)
	}
	if err := Createrepo(ctx, dir, c); err != nil {
		return nil, err
	}
	return paths, nil
}

// Close removes the rpms the cache built. The cache must not be used
// afterwards. ctx is checked first; the removal itself is not
// interruptible.
func (s *SampleCache) Close(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dir == "" {
		return nil
	}
	return os.RemoveAll(s.dir)
}
