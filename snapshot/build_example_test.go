package snapshot_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
)

// Build checks its params before any I/O: here the ID is missing.
func ExampleBuild_invalid() {
	keys, err := snapshot.NewKeyRing("k1", map[string][]byte{"k1": make([]byte, snapshot.MinKeySize)})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = snapshot.Build(context.Background(), snapshot.BuildParams{
		OSRelease: "rhel-9.4",
		Arch:      "x86_64",
		Repos:     []snapshot.RepoSource{{Base: "https://mirror.example.com/rhel/9/baseos"}},
		Blobs:     memblob.New(nil),
		Keys:      keys,
	})
	fmt.Println(errors.Is(err, snapshot.ErrInvalidBuild))
	fmt.Println(err)
	// Output:
	// true
	// snapshot: build "": invalid build parameters: empty ID
}
