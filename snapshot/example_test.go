package snapshot_test

import (
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/snapshot"
)

func ExampleParseDigest() {
	d, err := snapshot.ParseDigest("sha256:5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d == snapshot.DigestOf([]byte("hello\n")))
	fmt.Println(d.Hex()[:12])

	_, err = snapshot.ParseDigest("sha256:5891B5")
	fmt.Println(errors.Is(err, snapshot.ErrInvalidDigest))
	fmt.Println(err)
	// Output:
	// true
	// 5891b5b522d5
	// true
	// snapshot: parse digest "sha256:5891B5": invalid digest: want 64 hex digits, got 6 characters
}
