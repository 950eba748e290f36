package inventorytest_test

import (
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit/inventory/inventorytest"
)

// Obj and Write build the fixtures of the suite.
func ExampleWrite() {
	w := inventorytest.Write("web1", time.Hour, inventorytest.Obj("/etc/hostname", "web1\n"), inventorytest.Obj("uname-a", "Linux\n"))
	for _, o := range w.Objects {
		fmt.Printf("%s %x…\n", o.Name, o.MD5[:4])
	}
	// Output:
	// /etc/hostname 66ee606d…
	// uname-a 1b61f2a0…
}
