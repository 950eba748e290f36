package yumrepo_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// pkgXML returns one <package> element of primary.xml, as
// yumrepotest.PackageXML lays it out (name on the element's second line,
// version on its fourth); its content is yumrepotest.Fill's.
func pkgXML(name, arch, epoch, ver, rel, href string) string {
	evr := ver
	if rel != "" {
		evr += "-" + rel
	}
	if epoch != "" {
		evr = epoch + ":" + evr
	}
	s, err := yumrepotest.PackageXML(yumrepotest.Package{
		Name: name, Arch: arch, EVR: evr, Location: href,
		BuildTime: 1690000000, FileTime: 1700000001,
	})
	if err != nil {
		panic(err)
	}
	return s
}

// primaryXML wraps package elements in a primary.xml document.
func primaryXML(pkgs ...string) []byte { return yumrepotest.PrimaryXML(pkgs...) }

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
	href         string // location href of primary, pointing at no file; default repodata/<sum>-primary.xml[.comp], written
	checksum     string // overrides the computed checksum when set
	openChecksum string // "auto" computes it; other non-empty values are used as is
	noPrimary    bool   // repomd.xml without a primary entry
}

func compression(comp string) yumrepotest.Compression {
	if comp == "" {
		return yumrepotest.Uncompressed
	}
	return yumrepotest.Compression(comp)
}

func compress(t testing.TB, comp string, data []byte) []byte {
	t.Helper()
	b, err := yumrepotest.Compress(data, compression(comp))
	require.NoError(t, err)
	return b
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeRepo writes a repository into a new temporary directory with
// yumrepotest.WriteMetadata and returns the directory.
func writeRepo(t testing.TB, spec repoSpec) string {
	t.Helper()
	dir := t.TempDir()
	md := yumrepotest.Metadata{
		Primary:         spec.primary,
		Compression:     compression(spec.comp),
		Href:            spec.href,
		OmitPrimaryFile: spec.href != "",
		Checksum:        spec.checksum,
		Revision:        "1700000000",
	}
	switch spec.openChecksum {
	case "":
	case "auto":
		md.OpenChecksum = true
	default:
		md.OpenChecksumValue = spec.openChecksum
	}
	if spec.noPrimary {
		md.DataType = "filelists"
	}
	_, err := yumrepotest.WriteMetadata(context.Background(), dir, md)
	require.NoError(t, err)
	return dir
}
