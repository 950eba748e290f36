package memblob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fleetkit/fleetkit/snapshot"
	"github.com/fleetkit/fleetkit/snapshot/memblob"
)

// Put a blob under its digest, then read it back.
func ExampleStore() {
	ctx := context.Background()
	s := memblob.New(nil)

	content := "name=fleetkit-agent\nversion=1.4.2\n"
	d := snapshot.DigestOf([]byte(content))
	info, err := s.Put(ctx, d, int64(len(content)), strings.NewReader(content))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("stored", info.Size, "bytes")

	rc, _, err := s.Open(ctx, d)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	fmt.Print(string(b))

	// Content that does not match its digest is refused, and nothing is stored.
	want := snapshot.DigestOf([]byte("version=1.4.3\n"))
	_, err = s.Put(ctx, want, -1, strings.NewReader("tampered\n"))
	fmt.Println(errors.Is(err, snapshot.ErrDigestMismatch))
	_, err = s.Stat(ctx, want)
	fmt.Println(errors.Is(err, snapshot.ErrBlobNotFound))
	// Output:
	// stored 34 bytes
	// name=fleetkit-agent
	// version=1.4.2
	// true
	// true
}
