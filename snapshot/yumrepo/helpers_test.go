package yumrepo_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"github.com/ulikunitz/xz"
)

// pkgXML returns one <package> element of primary.xml.
func pkgXML(name, arch, epoch, ver, rel, href string) string {
	return fmt.Sprintf(`<package type="rpm">
  <name>%s</name>
  <arch>%s</arch>
  <version epoch="%s" ver="%s" rel="%s"/>
  <checksum type="sha256" pkgid="YES">%x</checksum>
  <summary>test package</summary>
  <description>a &lt;test&gt; package</description>
  <packager>nobody</packager>
  <url>https://example.com</url>
  <time file="1700000001" build="1690000000"/>
  <size package="1234" installed="5678" archive="6000"/>
  <location href="%s"/>
  <format>
    <rpm:license>MIT</rpm:license>
    <rpm:provides><rpm:entry name="%s" flags="EQ" epoch="%s" ver="%s" rel="%s"/></rpm:provides>
    <file>/usr/bin/%s</file>
  </format>
</package>
`, name, arch, epoch, ver, rel, sha256.Sum256([]byte(name+ver+rel)), href, name, epoch, ver, rel, name)
}

// primaryXML wraps package elements in a primary.xml document.
func primaryXML(pkgs ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="%d">
`, len(pkgs))
	for _, p := range pkgs {
		b.WriteString(p)
	}
	b.WriteString("</metadata>\n")
	return []byte(b.String())
}

// samplePrimary has three packages, two of them builds of bash.
func samplePrimary() []byte {
	return primaryXML(
		pkgXML("bash", "x86_64", "0", "5.2.15", "2.fc39", "Packages/b/bash-5.2.15-2.fc39.x86_64.rpm"),
		pkgXML("bash", "x86_64", "0", "5.2.26", "1.fc39", "Packages/b/bash-5.2.26-1.fc39.x86_64.rpm"),
		pkgXML("tzdata", "noarch", "1", "2024a", "1.fc39", "Packages/t/tzdata-2024a-1.fc39.noarch.rpm"),
	)
}

// repoSpec describes a repository for writeRepo.
type repoSpec struct {
	primary      []byte // uncompressed primary.xml
	comp         string // "gz", "xz", "zst" or "" for plain .xml
	href         string // location href of primary; default repodata/<sum>-primary.xml[.comp]
	checksum     string // overrides the computed checksum when set
	openChecksum string // "auto" computes it; other non-empty values are used as is
	noPrimary    bool   // repomd.xml without a primary entry
}

func compress(t testing.TB, comp string, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch comp {
	case "gz":
		w := gzip.NewWriter(&buf)
		_, err := w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case "xz":
		w, err := xz.NewWriter(&buf)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case "zst":
		w, err := zstd.NewWriter(&buf)
		require.NoError(t, err)
		_, err = w.Write(data)
		require.NoError(t, err)
		require.NoError(t, w.Close())
	case "":
		buf.Write(data)
	default:
		t.Fatalf("unknown compression %q", comp)
	}
	return buf.Bytes()
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeRepo writes a repository into a new temporary directory and
// returns the directory.
func writeRepo(t testing.TB, spec repoSpec) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "repodata"), 0o755))
	data := compress(t, spec.comp, spec.primary)
	sum := sha256hex(data)
	ext := ".xml"
	if spec.comp != "" {
		ext = ".xml." + spec.comp
	}
	href := spec.href
	if href == "" {
		href = "repodata/" + sum + "-primary" + ext
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.FromSlash(href)), data, 0o644))
	}
	if spec.checksum != "" {
		sum = spec.checksum
	}
	open := ""
	switch spec.openChecksum {
	case "":
	case "auto":
		open = fmt.Sprintf(`<open-checksum type="sha256">%s</open-checksum>`, sha256hex(spec.primary))
	default:
		open = fmt.Sprintf(`<open-checksum type="sha256">%s</open-checksum>`, spec.openChecksum)
	}
	typ := "primary"
	if spec.noPrimary {
		typ = "filelists"
	}
	repomd := fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?>
<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
  <revision>1700000000</revision>
  <data type="%s">
    <checksum type="sha256">%s</checksum>
    %s
    <location href="%s"/>
    <timestamp>1700000000</timestamp>
    <size>%d</size>
    <open-size>%d</open-size>
  </data>
</repomd>
`, typ, sum, open, href, len(data), len(spec.primary))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte(repomd), 0o644))
	return dir
}
