package yumrepo_test

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
)

// writeExampleRepo writes a one-file repository the way createrepo_c would
// lay it out, with a gzip-compressed primary.xml.
func writeExampleRepo(dir string) error {
	primary := `<?xml version="1.0" encoding="UTF-8"?>
<metadata xmlns="http://linux.duke.edu/metadata/common" packages="3">
<package type="rpm"><name>bash</name><arch>x86_64</arch><version epoch="0" ver="5.2.15" rel="2.fc39"/>
  <checksum type="sha256" pkgid="YES">aa</checksum><time file="1" build="1"/><size package="1"/>
  <location href="Packages/b/bash-5.2.15-2.fc39.x86_64.rpm"/></package>
<package type="rpm"><name>bash</name><arch>x86_64</arch><version epoch="0" ver="5.2.26" rel="1.fc39"/>
  <checksum type="sha256" pkgid="YES">bb</checksum><time file="2" build="2"/><size package="2"/>
  <location href="Packages/b/bash-5.2.26-1.fc39.x86_64.rpm"/></package>
<package type="rpm"><name>tzdata</name><arch>noarch</arch><version epoch="0" ver="2024a" rel="1.fc39"/>
  <checksum type="sha256" pkgid="YES">cc</checksum><time file="3" build="3"/><size package="3"/>
  <location href="Packages/t/tzdata-2024a-1.fc39.noarch.rpm"/></package>
</metadata>
`
	if err := os.MkdirAll(filepath.Join(dir, "repodata"), 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "repodata", "primary.xml.gz"))
	if err != nil {
		return err
	}
	h := sha256.New()
	zw := gzip.NewWriter(io.MultiWriter(f, h))
	if _, err := zw.Write([]byte(primary)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	repomd := fmt.Sprintf(`<repomd xmlns="http://linux.duke.edu/metadata/repo">
  <data type="primary">
    <checksum type="sha256">%x</checksum>
    <location href="repodata/primary.xml.gz"/>
  </data>
</repomd>`, h.Sum(nil))
	return os.WriteFile(filepath.Join(dir, "repodata", "repomd.xml"), []byte(repomd), 0o644)
}

func Example() {
	dir, err := os.MkdirTemp("", "yumrepo-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := writeExampleRepo(dir); err != nil {
		log.Fatal(err)
	}

	repo, err := yumrepo.Open(context.Background(), dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("packages:", repo.Len())
	for _, p := range yumrepo.Newest(repo.Packages()) {
		fmt.Printf("%s.%s %s %s\n", p.Name, p.Arch, p.EVR, p.Location)
	}
	// Output:
	// packages: 3
	// bash.x86_64 5.2.26-1.fc39 Packages/b/bash-5.2.26-1.fc39.x86_64.rpm
	// tzdata.noarch 2024a-1.fc39 Packages/t/tzdata-2024a-1.fc39.noarch.rpm
}
