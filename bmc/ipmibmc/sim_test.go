package ipmibmc_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	gobmc "github.com/bougou/go-ipmi/pkg/bmc"
	"github.com/bougou/go-ipmi/pkg/hal"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	"github.com/bougou/go-ipmi/pkg/handlers"
	"github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
	"github.com/stretchr/testify/require"

	"github.com/fleetkit/fleetkit/bmc"
)

// goSimPassword is the password of go-ipmi simulators: distinctive, so
// that searching for it in errors and logs means something.
const goSimPassword = "pw-Gopher-4471"

// goSim is go-ipmi's reference BMC (pkg/server over pkg/bmc and the mock
// HAL of pkg/hal/mock), served in process on a random UDP port of
// loopback, with the knobs the tests need: a chassis that boots (see
// simChassis), a registry middleware that counts requests, adds latency
// and fails requests on demand, a count of the sessions in use, and a BMC
// Cold Reset that drops every session as a real BMC's restart does.
type goSim struct {
	host    string
	port    int
	creds   bmc.Credentials
	chassis *simChassis
	b       *gobmc.BMC

	mu        sync.Mutex
	requests  int
	latency   time.Duration
	failNext  int
	active    map[uint32]bool // sessions that sent a command and are not closed
	bmcResets int
}

// goSimConfig changes the simulator of startGoSim.
type goSimConfig struct {
	addr         string // listen address; default 127.0.0.1:0
	cipherSuites []types.CipherSuiteID
}

// startGoSim starts a simulator for the test, powered off, with one
// administrator; it stops when the test ends.
func startGoSim(t testing.TB, cfg *goSimConfig) *goSim {
	t.Helper()
	s, stop, err := serveGoSim(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// serveGoSim starts a simulator and returns it with the function that
// stops it.
func serveGoSim(cfg *goSimConfig) (*goSim, func() error, error) {
	if cfg == nil {
		cfg = &goSimConfig{}
	}
	if cfg.addr == "" {
		cfg.addr = "127.0.0.1:0"
	}
	s := &goSim{
		creds:   bmc.Credentials{Username: "admin", Password: goSimPassword},
		chassis: &simChassis{Chassis: &mock.Chassis{}},
		active:  map[uint32]bool{},
	}
	h := &simHAL{HAL: mock.New(), chassis: s.chassis}
	var guid [16]byte
	copy(guid[:], "fleetkit-test-01")
	s.b = gobmc.New(gobmc.DeviceInfo{
		DeviceID: 0x20, DeviceRevision: 1, FirmwareMajor: 1, IPMIVersion: 0x20,
		ManufacturerID: 0x000157, ProductID: 1,
	}, guid, h)
	u, err := s.b.Users.Add(2, s.creds.Username)
	if err != nil {
		return nil, nil, err
	}
	u.SetPassword([]byte(s.creds.Password))
	u.Enabled = true
	u.ChannelAccess[1] = gobmc.UserChannelAccess{MaxPrivilege: gobmc.PrivilegeLevelAdministrator, Enabled: true}
	// Session removal already deactivates SOL (gobmc.New); keep that and
	// forget the session.
	s.b.Sessions.SetOnRemove(func(id uint32) {
		s.b.SOL.DeactivateBySession(id)
		s.mu.Lock()
		delete(s.active, id)
		s.mu.Unlock()
	})

	reg := handlers.NewRegistry()
	reg.Use(s.middleware)
	handlers.RegisterAllHandlers(reg)
	reg.RegisterFunc(types.CommandColdReset, s.coldReset)

	conn, err := udp.Listen(cfg.addr)
	if err != nil {
		return nil, nil, err
	}
	opts := []server.ServerOption{server.WithHandlerRegistry(reg)}
	if cfg.cipherSuites != nil {
		opts = append(opts, server.WithCipherSuites(cfg.cipherSuites))
	}
	srv := server.NewServer(s.b, conn, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx)
	}()
	stop := func() error {
		cancel()
		_ = srv.Close()
		select {
		case <-done:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("go-ipmi server did not stop")
		}
	}
	ua := conn.LocalAddr().(*net.UDPAddr)
	s.host, s.port = ua.IP.String(), ua.Port
	return s, stop, nil
}

// middleware counts the requests, notes the sessions in use, and applies
// latency and injected failures (node busy) to in-session requests.
func (s *goSim) middleware(next handlers.Handler) handlers.Handler {
	return handlers.HandlerFunc(func(ctx context.Context, hc *handlers.HandlerContext, req []byte) ([]byte, types.CompletionCode, error) {
		s.mu.Lock()
		s.requests++
		latency, fail := s.latency, false
		if hc != nil && hc.Session != nil {
			s.active[hc.Session.BMCID] = true
			if s.failNext > 0 {
				s.failNext--
				fail = true
			}
		}
		s.mu.Unlock()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		if fail {
			return nil, types.CodeNodeBusy, nil
		}
		return next.Handle(ctx, hc, req)
	})
}

// coldReset answers the BMC's Cold Reset, then, as a restarting BMC
// would, forgets every session it had.
func (s *goSim) coldReset(_ context.Context, _ *handlers.HandlerContext, _ []byte) ([]byte, types.CompletionCode, error) {
	s.mu.Lock()
	s.bmcResets++
	var ids []uint32
	for id := range s.active {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	time.AfterFunc(20*time.Millisecond, func() { // after the answer went out
		for _, id := range ids {
			_ = s.b.Sessions.Close(id)
		}
	})
	return nil, types.CodeOK, nil
}

// forgetSessions drops every session, as a BMC that restarts does.
func (s *goSim) forgetSessions() {
	s.mu.Lock()
	var ids []uint32
	for id := range s.active {
		ids = append(ids, id)
	}
	s.mu.Unlock()
	for _, id := range ids {
		_ = s.b.Sessions.Close(id)
	}
}

func (s *goSim) setLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

func (s *goSim) setFailNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

func (s *goSim) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *goSim) sessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.active)
}

func (s *goSim) resetCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bmcResets
}

// setSOL enables or disables serial over LAN (SOL configuration parameter
// 1).
func (s *goSim) setSOL(t testing.TB, enabled bool) {
	t.Helper()
	v := byte(0)
	if enabled {
		v = 1
	}
	require.Equal(t, types.CodeOK, s.b.SOL.Config().SetParam(1, []byte{v}))
}

// simHAL is go-ipmi's mock HAL with our chassis.
type simHAL struct {
	*mock.HAL
	chassis *simChassis
}

func (h *simHAL) Chassis() hal.ChassisHAL { return h.chassis }

// simChassis is go-ipmi's mock chassis, which only counts power cycles,
// resets and soft shutdowns, with the behaviour of a machine:
//
//   - soft shutdown (Chassis Control 5, which go-ipmi's server hands to
//     WarmReset) powers the system off, as a cooperative OS would;
//   - power on (from off), power cycle and hard reset boot the system: the
//     boot flags, when valid, choose the device and mode, and a one-time
//     override is cleared (not valid) once used; without one it boots
//     from disk, legacy;
//   - with revert set, the BMC accepts boot flags and forgets the device,
//     as some BMCs do.
//
// It counts under a mutex of its own (the mock's is not reachable), so
// that tests read the counts without a data race.
type simChassis struct {
	*mock.Chassis

	mu                   sync.Mutex
	revert               bool
	cycles, resets, soft int
	boots                int
	lastDevice           bmc.BootDevice
	lastMode             bmc.BootMode
}

func (c *simChassis) SetPower(ctx context.Context, on bool) error {
	was, _ := c.Chassis.PowerState(ctx)
	if err := c.Chassis.SetPower(ctx, on); err != nil {
		return err
	}
	if on && !was {
		c.boot(ctx)
	}
	return nil
}

func (c *simChassis) PowerCycle(ctx context.Context) error {
	c.count(&c.cycles)
	if err := c.Chassis.PowerCycle(ctx); err != nil {
		return err
	}
	c.boot(ctx)
	return nil
}

// ColdReset is Chassis Control hard reset (the BMC's own Cold Reset has a
// handler of goSim's).
func (c *simChassis) ColdReset(ctx context.Context) error {
	c.count(&c.resets)
	if err := c.Chassis.ColdReset(ctx); err != nil {
		return err
	}
	c.boot(ctx)
	return nil
}

func (c *simChassis) WarmReset(ctx context.Context) error {
	c.count(&c.soft)
	if err := c.Chassis.WarmReset(ctx); err != nil {
		return err
	}
	return c.Chassis.SetPower(ctx, false)
}

func (c *simChassis) SetBootFlags(ctx context.Context, f *types.BootOptionParam_BootFlags) error {
	c.mu.Lock()
	revert := c.revert
	c.mu.Unlock()
	if revert && f != nil {
		g := *f
		g.BootDeviceSelector = types.BootDeviceSelectorNoOverride
		f = &g
	}
	return c.Chassis.SetBootFlags(ctx, f)
}

// boot starts the system from the boot flags' device, or the disk.
func (c *simChassis) boot(ctx context.Context) {
	dev, mode := bmc.BootDisk, bmc.BootLegacy
	if f, err := c.Chassis.GetBootFlags(ctx); err == nil && f.BootFlagsValid {
		switch f.BootDeviceSelector {
		case types.BootDeviceSelectorForcePXE:
			dev = bmc.BootPXE
		case types.BootDeviceSelectorForceCDROM:
			dev = bmc.BootCD
		}
		if f.BIOSBootType == types.BIOSBootTypeEFI {
			mode = bmc.BootUEFI
		}
		if !f.Persist {
			f.BootFlagsValid = false
			_ = c.Chassis.SetBootFlags(ctx, f)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.boots++
	c.lastDevice, c.lastMode = dev, mode
}

func (c *simChassis) count(n *int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
}

func (c *simChassis) setRevert(v bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revert = v
}

// counts returns the power cycles, hard resets and soft shutdowns the
// chassis saw.
func (c *simChassis) counts() (cycles, resets, soft int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cycles, c.resets, c.soft
}

// lastBoot returns the device and mode of the last boot.
func (c *simChassis) lastBoot() (bmc.BootDevice, bmc.BootMode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastDevice, c.lastMode
}

// bootFlags returns the boot flags the chassis holds, nil when none.
func (c *simChassis) bootFlags() *types.BootOptionParam_BootFlags {
	f, err := c.Chassis.GetBootFlags(context.Background())
	if err != nil {
		return nil
	}
	return f
}

// powered reports whether the system is on.
func (c *simChassis) powered() bool {
	on, _ := c.Chassis.PowerState(context.Background())
	return on
}
