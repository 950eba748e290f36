package yumrepo_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/fleetkit/fleetkit/snapshot/yumrepo"
	"github.com/fleetkit/fleetkit/snapshot/yumrepo/yumrepotest"
)

// writeExampleRepo writes a three-package repository laid out the way
// createrepo_c lays one out, with a gzip-compressed primary.xml.
func writeExampleRepo(dir string) error {
	_, err := yumrepotest.Write(context.Background(), dir, []yumrepotest.Package{
		{Name: "bash", Arch: "x86_64", EVR: "5.2.15-2.fc39", Location: "Packages/b/bash-5.2.15-2.fc39.x86_64.rpm"},
		{Name: "bash", Arch: "x86_64", EVR: "5.2.26-1.fc39", Location: "Packages/b/bash-5.2.26-1.fc39.x86_64.rpm"},
		{Name: "tzdata", Arch: "noarch", EVR: "2024a-1.fc39", Location: "Packages/t/tzdata-2024a-1.fc39.noarch.rpm"},
	}, nil)
	return err
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
