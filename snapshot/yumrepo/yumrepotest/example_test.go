package yumrepotest_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// Write a repository in Go, with a zstd-compressed primary.xml, and read
// it back.
func ExampleWrite() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "yumrepotest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	repo, err := yumrepotest.Write(ctx, dir, []yumrepotest.Package{
		{Name: "kernel", Arch: "x86_64", EVR: "5.14.0-427.el9"},
		{Name: "kernel", Arch: "x86_64", EVR: "5.14.0-503.el9"},
		{Name: "openssl", Arch: "x86_64", EVR: "1:3.0.7-27.el9", Content: []byte("openssl payload")},
	}, &yumrepotest.Options{Compression: yumrepotest.Zstd})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(repo.Packages), "packages,", len(repo.Packages[2].Content), "bytes of openssl")

	r, err := yumrepo.Open(ctx, dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range yumrepo.Newest(r.Packages()) {
		fmt.Println(p.Name, p.EVR, p.Location)
	}
	// Output:
	// 3 packages, 15 bytes of openssl
	// kernel 5.14.0-503.el9 Packages/kernel-5.14.0-503.el9.x86_64.rpm
	// openssl 1:3.0.7-27.el9 Packages/openssl-3.0.7-27.el9.x86_64.rpm
}

// Build real rpms and index them with createrepo_c (needs Debian's rpm and
// createrepo-c packages).
func ExampleSampleCache() {
	ctx := context.Background()
	var cache yumrepotest.SampleCache
	defer cache.Close(ctx)
	dir, err := os.MkdirTemp("", "yumrepotest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if _, err := cache.WriteRepo(ctx, dir, yumrepotest.XZ); err != nil {
		log.Fatal(err)
	}
	r, err := yumrepo.Open(ctx, dir, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range yumrepo.Newest(r.Packages()) {
		fmt.Println(p.Name, p.EVR, p.EVR.String() == yumrepotest.SampleNewest[p.Name])
	}
}
