package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetkit/fleetkit"
)

// InUseChecker tells whether hosts are in use by something fleetkit does
// not own: an allocation system, a load balancer, an on-call override. A
// batch with any host in use is rejected with the checkers' reasons.
//
// CheckInUse returns one HostProblem per host in use (hosts not listed are
// free). An error means the checker could not answer; the submission is
// then refused (fail closed), since paving a host in use is worse than a
// retry.
type InUseChecker interface {
	CheckInUse(ctx context.Context, hosts []string) ([]HostProblem, error)
}

// InUseFunc adapts a function to InUseChecker.
type InUseFunc func(ctx context.Context, hosts []string) ([]HostProblem, error)

// CheckInUse calls f.
func (f InUseFunc) CheckInUse(ctx context.Context, hosts []string) ([]HostProblem, error) {
	return f(ctx, hosts)
}

// ConsoleChecker answers whether a host's remote console (its BMC) is
// usable. The bmc package's clients satisfy it. CheckConsole returns nil
// when the console is usable and an error saying why not otherwise; it must
// never put credentials in that error.
type ConsoleChecker interface {
	CheckConsole(ctx context.Context, host string) error
}

// ConsoleFunc adapts a function to ConsoleChecker.
type ConsoleFunc func(ctx context.Context, host string) error

// CheckConsole calls f.
func (f ConsoleFunc) CheckConsole(ctx context.Context, host string) error { return f(ctx, host) }

// HostInfo is what a HostDirectory knows of a host.
type HostInfo struct {
	Datacenter string
	// SKU is the hardware model, used to break statistics down.
	SKU string
}

// HostDirectory maps hosts to their datacenter and hardware SKU (a CMDB, a
// naming convention). Hosts it does not know are left out of the map.
type HostDirectory interface {
	LookupHosts(ctx context.Context, hosts []string) (map[string]HostInfo, error)
}

// StaticDirectory is a HostDirectory backed by a map, for tests and small
// fleets. Keys are normalised hostnames.
type StaticDirectory map[string]HostInfo

// LookupHosts returns the entries of hosts found in d.
func (d StaticDirectory) LookupHosts(_ context.Context, hosts []string) (map[string]HostInfo, error) {
	out := make(map[string]HostInfo, len(hosts))
	for _, h := range hosts {
		if info, ok := d[h]; ok {
			out[h] = info
		}
	}
	return out, nil
}

// Config configures a Service. The zero value is usable: see WithDefaults.
type Config struct {
	// MaxBatchSize is the most hosts one batch may hold (default 10,000).
	MaxBatchSize int
	// Priorities gives each action's default priority; higher runs first.
	// Actions not listed get DefaultPriorities' value.
	Priorities map[Action]int
	// Ageing is how long a job waits in the queue to gain one priority
	// point (default 10s; see Batch.QueueAt): with the default priorities
	// a decommission submitted before a flood of reimages waits at most
	// 15 minutes behind them.
	Ageing time.Duration
	// InUse checkers are consulted, all of them, before admission.
	InUse []InUseChecker
	// Console, when set, is the BMC console precheck that submissions may
	// ask for (SubmitParams.CheckConsoles).
	Console ConsoleChecker
	// ConsoleConcurrency bounds parallel console checks (default 32), and
	// ConsoleTimeout bounds each (default 10s).
	ConsoleConcurrency int
	ConsoleTimeout     time.Duration
	// Directory maps hosts to datacenter and SKU; nil leaves them empty.
	Directory HostDirectory
	// Notifier receives batch.accepted, batch.rejected and
	// batch.cancelled events; nil sends none.
	Notifier fleetkit.Notifier
	// Logger logs notification failures; nil discards.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MaxPriority bounds priorities: a priority lies in [-MaxPriority,
// MaxPriority].
const MaxPriority = 10_000

// DefaultPriorities returns the default priority of each action: reimages
// first, then the actions that bring hosts back, then the rest.
func DefaultPriorities() map[Action]int {
	return map[Action]int{
		ActionReimage:      100,
		ActionPowerOn:      80,
		ActionReboot:       60,
		ActionPowerCycle:   60,
		ActionPowerOff:     40,
		ActionWipeDisks:    20,
		ActionDecommission: 10,
	}
}

// WithDefaults returns a copy of c with unset fields set to their defaults.
func (c *Config) WithDefaults() *Config {
	out := Config{}
	if c != nil {
		out = *c
	}
	if out.MaxBatchSize == 0 {
		out.MaxBatchSize = 10_000
	}
	prio := DefaultPriorities()
	for a, p := range out.Priorities {
		prio[a] = p
	}
	out.Priorities = prio
	if out.Ageing == 0 {
		out.Ageing = 10 * time.Second
	}
	if out.ConsoleConcurrency == 0 {
		out.ConsoleConcurrency = 32
	}
	if out.ConsoleTimeout == 0 {
		out.ConsoleTimeout = 10 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return &out
}

// Validate reports a configuration error.
func (c *Config) Validate() error {
	switch {
	case c.MaxBatchSize < 1:
		return fmt.Errorf("lifecycle: config: MaxBatchSize %d is less than 1", c.MaxBatchSize)
	case c.ConsoleConcurrency < 1:
		return fmt.Errorf("lifecycle: config: ConsoleConcurrency %d is less than 1", c.ConsoleConcurrency)
	case c.Ageing < 0 || c.Ageing > 24*time.Hour:
		return fmt.Errorf("lifecycle: config: Ageing %s is out of range [0, 24h]", c.Ageing)
	case c.ConsoleTimeout < 0:
		return fmt.Errorf("lifecycle: config: ConsoleTimeout %s is negative", c.ConsoleTimeout)
	}
	for a, p := range c.Priorities {
		if !a.Valid() {
			return fmt.Errorf("lifecycle: config: priority for unknown action %q", a)
		}
		if p < -MaxPriority || p > MaxPriority {
			return fmt.Errorf("lifecycle: config: priority %d of %s is out of range [-%d, %d]", p, a, MaxPriority, MaxPriority)
		}
	}
	for i, ch := range c.InUse {
		if ch == nil {
			return fmt.Errorf("lifecycle: config: InUse[%d] is nil", i)
		}
	}
	return nil
}
