package memshard_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/memshard"
)

// A shard publishes and scans like a cache server.
func ExampleNew() {
	ctx := context.Background()
	s := memshard.New(&memshard.Options{Name: "cache1"})
	o := inventory.NewObject("uname-a", inventory.KindCommand, []byte("Linux web1 6.1.0\n"), nil, time.Time{})
	w := &inventory.HostWrite{Host: "web1", TTL: time.Hour, Objects: []inventory.EncodedObject{
		{Name: o.Name, MD5: o.MD5, Record: inventory.EncodeRecord(nil, &o)},
	}}
	res, _ := s.Publish(ctx, w)
	fmt.Println("written:", res.Written)
	res, _ = s.Publish(ctx, w)
	fmt.Println("renewed:", res.Renewed)
	_ = s.Scan(ctx, &inventory.ScanParams{Fetch: inventory.FetchAll}, func(b []inventory.RawRecord) error {
		for _, r := range b {
			var got inventory.Object
			_ = inventory.DecodeRecord(r.Key, r.Value, false, true, &got)
			fmt.Printf("%s: %q\n", r.Key, got.Contents)
		}
		return nil
	})
	// Output:
	// written: 1
	// renewed: 1
	// web1#uname-a: "Linux web1 6.1.0\n"
}
