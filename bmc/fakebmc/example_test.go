package fakebmc_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// A simulated BMC driven in process: a one-time PXE boot, then power on.
func Example() {
	ctx := context.Background()
	b := fakebmc.New(&fakebmc.Options{Host: "web01"})
	d := b.Driver()
	if err := d.Open(ctx); err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	if err := d.SetBootOverride(ctx, bmc.BootOverride{Device: bmc.BootPXE, Mode: bmc.BootUEFI}); err != nil {
		panic(err)
	}
	if err := d.SetPower(ctx, bmc.PowerActionOn); err != nil {
		panic(err)
	}
	state, _ := d.PowerState(ctx)
	boot := b.LastBoot()
	fmt.Println("power:", state)
	fmt.Println("booted from:", boot.Device, boot.Mode, "override:", boot.Override)
	fmt.Println("cycle while off:", d.SetPower(ctx, bmc.PowerActionOff) == nil, d.SetPower(ctx, bmc.PowerActionCycle) != nil)
	for _, op := range b.Ops() {
		fmt.Println(strings.TrimSpace(fmt.Sprint(op.Seq, " ", op.Host, " ", op.Kind, " ", op.Detail)))
	}
	// Output:
	// power: on
	// booted from: pxe uefi override: true
	// cycle while off: true true
	// 1 web01 open
	// 2 web01 set-boot pxe/uefi
	// 3 web01 get-boot
	// 4 web01 power-state
	// 5 web01 set-power on
	// 6 web01 power-state
	// 7 web01 power-state
	// 8 web01 set-power off
	// 9 web01 power-state
}

// Injected failures: the driver retries transient ones, like a real
// driver retries a 503, and gives up after Options.Retry's attempts.
func ExampleBMC_FailNext() {
	ctx := context.Background()
	b := fakebmc.New(nil)
	d := b.Driver()
	_ = d.Open(ctx)
	defer d.Close(ctx)

	b.FailNext(2, nil) // retried: the default policy makes 3 attempts
	_, err := d.PowerState(ctx)
	fmt.Println("two failures:", err)

	b.FailNext(3, nil)
	_, err = d.PowerState(ctx)
	fmt.Println("three failures:", err)
	fmt.Println("transient:", bmc.IsTransient(err))
	// Output:
	// two failures: <nil>
	// three failures: fakebmc: read power state: after 3 attempts: fakebmc: injected failure
	// transient: true
}

// A Server serves BMCs as one Redfish service; any HTTP client (gofish,
// bmc/redfishbmc, curl) can drive it.
func ExampleServer() {
	s := fakebmc.NewServer(nil)
	s.AddSystem("web01", fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn}))
	s.Start()
	defer s.Close()

	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+path, nil)
		if auth {
			req.SetBasicAuth(fakebmc.DefaultUsername, fakebmc.DefaultPassword)
		}
		resp, err := s.Client().Do(req)
		if err != nil {
			panic(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	status, _ := get("/redfish/v1/Systems/web01", false)
	fmt.Println("without credentials:", status)
	status, body := get("/redfish/v1/Systems/web01", true)
	fmt.Println("with credentials:", status, strings.Contains(body, `"PowerState":"On"`))
	status, _ = get("/redfish/v1/Systems/web99", true)
	fmt.Println("unknown system:", status)
	// Output:
	// without credentials: 401
	// with credentials: 200 true
	// unknown system: 404
}
