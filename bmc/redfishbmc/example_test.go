package redfishbmc_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log"

	"github.com/stmcginnis/gofish"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
	"github.com/fleetkit/fleetkit/bmc/redfishbmc"
)

// PXE-boot a server once: set the boot override, power on, and check the
// console, against a simulated BMC served as Redfish over TLS.
func Example() {
	srv := fakebmc.NewServer(nil)
	node := fakebmc.New(nil) // powered off
	srv.AddSystem("System.Embedded.1", node)
	srv.StartTLS()
	defer srv.Close()

	// Trust the BMC's certificate; verification is never off by default.
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	creds := bmc.Credentials{Username: fakebmc.DefaultUsername, Password: fakebmc.DefaultPassword}
	d, err := redfishbmc.New(srv.URL(), creds, &redfishbmc.Options{RootCAs: roots})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Open(ctx); err != nil {
		log.Fatal(err)
	}
	defer d.Close(ctx)

	if err := d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}); err != nil {
		log.Fatal(err)
	}
	if err := d.SetPower(ctx, bmc.PowerActionOn); err != nil {
		log.Fatal(err)
	}
	power, err := d.PowerState(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("power:", power)
	fmt.Println("booted from:", node.LastBoot().Device)

	h, err := d.ConsoleHealth(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("console usable:", h.Usable(), h.Console)

	// Asking again for the state the system is in sends nothing.
	fmt.Println(d.SetPower(ctx, bmc.PowerActionOn))
	// Output:
	// power: on
	// booted from: pxe
	// console usable: true SerialConsole/SSH
	// <nil>
}

// Errors say what failed, wrap the sentinels of package bmc, and never
// show the password.
func Example_errors() {
	srv := fakebmc.NewServer(nil)
	srv.AddSystem("node1", fakebmc.New(nil))
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	d, err := redfishbmc.New(srv.URL(), bmc.Credentials{Username: "admin", Password: "not-the-password"},
		&redfishbmc.Options{RootCAs: roots})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	err = d.Open(ctx)
	fmt.Println("refused:", errors.Is(err, bmc.ErrAuth), "worth retrying:", bmc.IsTransient(err))
	fmt.Println(d.Close(ctx))

	_, err = d.PowerState(ctx)
	fmt.Println("not open:", errors.Is(err, bmc.ErrNotOpen))
	// Output:
	// refused: true worth retrying: false
	// <nil>
	// not open: true
}

// A driver over a gofish client the caller connected itself; the driver
// takes it over, and Close logs its session out.
func ExampleNewFromClient() {
	srv := fakebmc.NewServer(nil)
	srv.AddSystem("node1", fakebmc.New(nil))
	srv.StartTLS()
	defer srv.Close()

	ctx := context.Background()
	c, err := gofish.ConnectContext(ctx, gofish.ClientConfig{
		Endpoint:   srv.URL(),
		Username:   fakebmc.DefaultUsername,
		Password:   fakebmc.DefaultPassword,
		HTTPClient: srv.Client(), // trusts the server's certificate
	})
	if err != nil {
		log.Fatal(err)
	}
	d, err := redfishbmc.NewFromClient(c, &redfishbmc.Options{SystemID: "node1"})
	if err != nil {
		log.Fatal(err)
	}
	if err := d.Open(ctx); err != nil {
		log.Fatal(err)
	}
	power, err := d.PowerState(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(power, srv.Sessions())
	if err := d.Close(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(srv.Sessions())
	// Output:
	// off 1
	// 0
}
