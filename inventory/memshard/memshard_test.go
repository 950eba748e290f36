package memshard_test

import (
	"context"
	"testing"

	"github.com/fleetkit/fleetkit/inventory"
	"github.com/fleetkit/fleetkit/inventory/inventorytest"
	"github.com/fleetkit/fleetkit/inventory/memshard"
)

func TestConformance(t *testing.T) {
	inventorytest.Run(t, inventorytest.HarnessFunc(func(context.Context, testing.TB) inventory.Shard {
		return memshard.New(nil)
	}))
}

func BenchmarkScan(b *testing.B) {
	inventorytest.BenchmarkScan(b, inventorytest.HarnessFunc(func(context.Context, testing.TB) inventory.Shard {
		return memshard.New(nil)
	}), 2000)
}
