package fakebmc_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"testing"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
	"github.com/fleetkit/fleetkit/bmc/fakebmc"
)

// TestGofish drives the server with the real gofish client, as
// bmc/redfishbmc does: it proves the server speaks enough Redfish.
func TestGofish(t *testing.T) {
	t.Parallel()
	s := fakebmc.NewServer(&fakebmc.ServerOptions{Credentials: testCreds})
	web01, web02 := fakebmc.New(nil), fakebmc.New(&fakebmc.Options{InitialPower: bmc.PowerOn})
	s.AddSystem("web01", web01)
	s.AddSystem("web02", web02)
	s.StartTLS()
	t.Cleanup(s.Close)

	for _, tc := range []struct {
		name string
		cfg  gofish.ClientConfig
	}{
		{"TrustedCertificate", gofish.ClientConfig{Endpoint: s.URL(), Username: "admin", Password: testPassword, HTTPClient: s.Client()}},
		{"Insecure", gofish.ClientConfig{Endpoint: s.URL(), Username: "admin", Password: testPassword, Insecure: true,
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}}},
		{"BasicAuth", gofish.ClientConfig{Endpoint: s.URL(), Username: "admin", Password: testPassword, BasicAuth: true, HTTPClient: s.Client()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gofish.ConnectContext(t.Context(), tc.cfg)
			require.NoError(t, err)
			if !tc.cfg.BasicAuth {
				require.Equal(t, 1, s.Sessions())
			}
			require.Equal(t, "1.15.0", c.Service.RedfishVersion)

			systems, err := c.Service.Systems()
			require.NoError(t, err)
			require.Len(t, systems, 2)
			byID := map[string]*schemas.ComputerSystem{}
			for _, sys := range systems {
				byID[sys.ID] = sys
			}
			require.Equal(t, schemas.OnPowerState, byID["web02"].PowerState)

			sys := byID["web01"]
			if web01.PowerState() == bmc.PowerOn { // an earlier subtest powered it on
				_, err = sys.Reset(schemas.ForceOffResetType)
				require.NoError(t, err)
			}
			sys, err = schemas.GetComputerSystem(c, sys.ODataID)
			require.NoError(t, err)
			require.Equal(t, schemas.OffPowerState, sys.PowerState)
			types, err := sys.GetSupportedResetTypes()
			require.NoError(t, err)
			require.Contains(t, types, schemas.PowerCycleResetType)

			// A one-time PXE boot, then power on.
			require.NoError(t, sys.SetBoot(&schemas.Boot{
				BootSourceOverrideTarget:  schemas.PxeBootSource,
				BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled,
				BootSourceOverrideMode:    schemas.UEFIBootSourceOverrideMode,
			}))
			sys, err = schemas.GetComputerSystem(c, sys.ODataID)
			require.NoError(t, err)
			require.Equal(t, schemas.PxeBootSource, sys.Boot.BootSourceOverrideTarget)
			require.Equal(t, schemas.OnceBootSourceOverrideEnabled, sys.Boot.BootSourceOverrideEnabled)
			require.Contains(t, sys.Boot.AllowableBootSourceOverrideTargetValues, schemas.PxeBootSource)

			_, err = sys.Reset(schemas.OnResetType)
			require.NoError(t, err)
			require.Equal(t, bmc.PowerOn, web01.PowerState())
			require.Equal(t, fakebmc.Boot{Device: bmc.BootPXE, Mode: bmc.BootUEFI, Override: true, Time: web01.LastBoot().Time}, web01.LastBoot())
			sys, err = schemas.GetComputerSystem(c, sys.ODataID)
			require.NoError(t, err)
			require.Equal(t, schemas.OnPowerState, sys.PowerState)
			require.Equal(t, schemas.NoneBootSource, sys.Boot.BootSourceOverrideTarget, "the override was consumed")

			// An unknown reset type is refused by the server.
			_, err = c.Post(sys.ODataID+"/Actions/ComputerSystem.Reset", map[string]string{"ResetType": "Explode"})
			var rerr *schemas.Error
			require.True(t, errors.As(err, &rerr), "%v", err)
			require.Equal(t, http.StatusBadRequest, rerr.HTTPReturnedStatusCode)

			// The manager and its console.
			mgrs, err := c.Service.Managers()
			require.NoError(t, err)
			require.Len(t, mgrs, 2)
			mgr, err := schemas.GetManager(c, "/redfish/v1/Managers/web01")
			require.NoError(t, err)
			require.True(t, sys.SerialConsole.SSH.ServiceEnabled)
			//lint:ignore SA1019 deprecated, but what most BMCs in service report
			serial := mgr.SerialConsole
			require.True(t, serial.ServiceEnabled)
			require.Contains(t, serial.ConnectTypesSupported, schemas.SSHSerialConnectTypesSupported)
			require.Equal(t, schemas.EnabledState, mgr.Status.State)
			require.True(t, mgr.CommandShell.ServiceEnabled)
			_, err = mgr.Reset(schemas.GracefulRestartResetType)
			require.NoError(t, err)

			// The event log.
			logs, err := sys.LogServices()
			require.NoError(t, err)
			require.Len(t, logs, 1)
			entries, err := logs[0].Entries()
			require.NoError(t, err)
			require.NotEmpty(t, entries)

			c.Logout()
			require.Zero(t, s.Sessions(), "Logout deletes the session")
		})
	}

	_, err := gofish.ConnectContext(t.Context(), gofish.ClientConfig{Endpoint: s.URL(), Username: "admin", Password: "wrong", HTTPClient: s.Client()})
	var rerr *schemas.Error
	require.True(t, errors.As(err, &rerr), "%v", err)
	require.Equal(t, http.StatusUnauthorized, rerr.HTTPReturnedStatusCode)
	require.Zero(t, s.Sessions())
}

// TestGofishTransient checks that an injected failure reaches gofish as a
// 503.
func TestGofishTransient(t *testing.T) {
	t.Parallel()
	s := fakebmc.NewServer(nil)
	b := fakebmc.New(nil)
	s.AddSystem("web01", b)
	s.Start()
	t.Cleanup(s.Close)
	c, err := gofish.ConnectContext(t.Context(), gofish.ClientConfig{Endpoint: s.URL(), Username: "admin", Password: "password"})
	require.NoError(t, err)
	defer c.Logout()
	b.FailNext(1, nil)
	_, err = schemas.GetComputerSystem(c, "/redfish/v1/Systems/web01")
	var rerr *schemas.Error
	require.True(t, errors.As(err, &rerr), "%v", err)
	require.Equal(t, http.StatusServiceUnavailable, rerr.HTTPReturnedStatusCode)
	sys, err := schemas.GetComputerSystem(c, "/redfish/v1/Systems/web01")
	require.NoError(t, err)
	require.Equal(t, schemas.OffPowerState, sys.PowerState)
}
