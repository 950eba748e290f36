// Package inventorytest is the conformance suite of inventory.Shard. Every
// implementation's tests run it:
//
//	func TestConformance(t *testing.T) {
//		inventorytest.Run(t, inventorytest.HarnessFunc(func(ctx context.Context, t testing.TB) inventory.Shard {
//			return memshard.New(nil)
//		}))
//	}
//
// A new shard is correct when it passes the suite. The suite uses real
// time with short TTLs (a few hundred milliseconds) to check expiry.
package inventorytest
