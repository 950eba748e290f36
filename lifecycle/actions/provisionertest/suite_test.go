package provisionertest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetkit/fleetkit/lifecycle/actions/fakeprov"
	"github.com/fleetkit/fleetkit/lifecycle/actions/provisionertest"
)

type harness struct{}

func (harness) Setup(testing.TB) provisionertest.Fixture {
	var mu sync.Mutex
	boots := map[string]time.Time{}
	p := fakeprov.New(&fakeprov.Options{
		Hosts: []string{"a", "b", "c"}, Snapshots: []string{"s1"},
		Booted: func(h string) (time.Time, bool) { mu.Lock(); defer mu.Unlock(); bt, ok := boots[h]; return bt, ok },
	})
	return provisionertest.Fixture{
		Provisioner: p,
		Boot: func(_ context.Context, h string) error {
			mu.Lock()
			defer mu.Unlock()
			boots[h] = time.Now()
			return nil
		},
		Hosts: []string{"a", "b", "c"}, Snapshot: "s1", UnknownHost: "z", UnknownSnapshot: "s9",
	}
}

// The suite runs here on the in-memory provisioner, so that it is checked
// with the package; fakeprov's tests run it in more configurations.
func TestRun(t *testing.T) { provisionertest.Run(t, harness{}) }
