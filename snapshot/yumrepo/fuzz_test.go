package yumrepo

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzParsePrimary feeds arbitrary bytes to the primary.xml parser: it
// must not panic, must return either packages or an error wrapping one of
// the package's sentinels, and every package it returns must be complete
// with a safe location.
func FuzzParsePrimary(f *testing.F) {
	f.Add([]byte(`<metadata><package type="rpm"><name>a</name><arch>noarch</arch><version epoch="1" ver="1.0" rel="1"/><checksum type="sha256" pkgid="YES">ab</checksum><size package="5"/><time file="1" build="2"/><location href="a.rpm"/></package></metadata>`))
	f.Add([]byte(`<metadata><package type="rpm"><name>a</name></package></metadata>`))
	f.Add([]byte(`<metadata><package type="rpm"><location href="../x"/></package>`))
	f.Add([]byte(`<?xml version="1.0"?><metadata/>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		n := 0
		err := parsePrimary(context.Background(), bytes.NewReader(data), "primary.xml", func(p Package) error {
			n++
			if p.Name == "" || p.Arch == "" || p.EVR.Version == "" || p.EVR.Epoch < 0 || p.Size < 0 {
				t.Fatalf("incomplete package %+v", p)
			}
			if err := checkHref(p.Location); err != nil {
				t.Fatalf("unsafe location accepted: %v", err)
			}
			return nil
		})
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsafeHref) {
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		if n > len(data) {
			t.Fatalf("%d packages from %d bytes", n, len(data))
		}
	})
}

// FuzzParseRepomd feeds arbitrary bytes to the repomd.xml parser: it must
// not panic, and a primary entry it accepts has a safe href and a
// supported checksum.
func FuzzParseRepomd(f *testing.F) {
	f.Add([]byte(`<repomd><data type="primary"><checksum type="sha256">ab</checksum><location href="repodata/p.xml.gz"/></data></repomd>`))
	f.Add([]byte(`<repomd><data type="primary"><checksum type="md5">ab</checksum><location href="/x"/></data></repomd>`))
	f.Add([]byte(`<repomd><revision>1</revision><data type="filelists"/></repomd>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		md, err := parseRepomd(data, "repomd.xml")
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsafeHref) && !errors.Is(err, ErrNotRepo) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if err := checkHref(md.primary.Href); err != nil {
			t.Fatalf("unsafe href accepted: %v", err)
		}
		if _, err := newHash(md.primary.Checksum.Type); err != nil || md.primary.Checksum.Value == "" {
			t.Fatalf("bad checksum accepted: %+v", md.primary.Checksum)
		}
	})
}
