package bmc_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/fleetkit/fleetkit/bmc"
)

func ExampleCheckPowerAction() {
	noop, err := bmc.CheckPowerAction(bmc.PowerOn, bmc.PowerActionOn)
	fmt.Println(noop, err)
	_, err = bmc.CheckPowerAction(bmc.PowerOff, bmc.PowerActionCycle)
	fmt.Println(errors.Is(err, bmc.ErrInvalidPowerAction), err)
	// Output:
	// true <nil>
	// true invalid power action: cycle while the system is off (power it on instead)
}

func ExampleStaticCredentials() {
	racks := map[string]string{"web01.dc1": "dc1-r12"}
	src := &bmc.StaticCredentials{
		Default: bmc.Credentials{Username: "admin", Password: "fleet-default"},
		ByRack:  map[string]bmc.Credentials{"dc1-r12": {Username: "r12admin", Password: "rack-secret"}},
		Rack:    func(h string) string { return racks[h] },
	}
	c, _ := src.Credentials(context.Background(), "web01.dc1")
	fmt.Println(c) // never prints the password
	c, _ = src.Credentials(context.Background(), "web99.dc1")
	fmt.Printf("%+v\n", c)
	// Output:
	// user "r12admin" (password redacted)
	// user "admin" (password redacted)
}

func ExampleConsoleHealth_Err() {
	h := bmc.ConsoleHealth{Reachable: true, Authenticated: true, Enabled: true, Detail: "SOL payload not answering"}
	fmt.Println(h.Usable())
	fmt.Println(h.Err())
	// Output:
	// false
	// remote console unusable: console service not answering: SOL payload not answering
}
