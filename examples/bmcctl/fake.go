package main

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// fakeHostName names the i-th (from 1) of n simulated systems: host0001…,
// with more digits when n needs them.
func fakeHostName(i, n int) string {
	width := max(4, len(strconv.Itoa(n)))
	return fmt.Sprintf("host%0*d", width, i)
}

// serveFake serves n simulated BMCs, powered on, as one Redfish endpoint
// over TLS on a loopback port until ctx is done. It writes the CA
// certificate and a hosts file to a temporary directory, removed at the
// end, and prints where everything is and how to try it.
func serveFake(ctx context.Context, n int, latency time.Duration, stdout io.Writer) error {
	s := fakebmc.NewServer(nil)
	hosts := make([]string, n)
	for i := range n {
		hosts[i] = fakeHostName(i+1, n)
		s.AddSystem(hosts[i], fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn, Latency: latency, OpHistory: -1}))
	}
	s.StartTLS()
	defer s.Close()

	dir, err := os.MkdirTemp("", "bmcctl-fake-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	caFile := filepath.Join(dir, "ca.pem")
	hostsFile := filepath.Join(dir, "hosts.txt")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(hostsFile, []byte(strings.Join(hosts, "\n")+"\n"), 0o644); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "fakebmc: %d simulated BMCs (%s … %s, powered on) at %s\n", n, hosts[0], hosts[n-1], s.URL())
	fmt.Fprintf(stdout, "CA certificate: %s\n", caFile)
	fmt.Fprintf(stdout, "hosts file:     %s\n", hostsFile)
	fmt.Fprintf(stdout, "credentials:    user %s, password %s (the simulator's own)\n", fakebmc.DefaultUsername, fakebmc.DefaultPassword)
	fmt.Fprintf(stdout, "\nTry, in another terminal:\n\n")
	fmt.Fprintf(stdout, "  export %s=%s\n", passwordEnv, fakebmc.DefaultPassword)
	fmt.Fprintf(stdout, "  bmcctl -redfish %s -ca %s -user %s -host %s power status\n", s.URL(), caFile, fakebmc.DefaultUsername, hosts[0])
	fmt.Fprintf(stdout, "  bmcctl -redfish %s -ca %s -user %s -hosts %s power cycle\n", s.URL(), caFile, fakebmc.DefaultUsername, hostsFile)
	fmt.Fprintf(stdout, "\nServing until interrupted (ctrl-C).\n")
	<-ctx.Done()
	fmt.Fprintf(stdout, "fakebmc: stopped after %d requests\n", s.Requests())
	return nil
}
