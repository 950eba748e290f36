// Package lifecycletest is the conformance suite for lifecycle.Store. Every
// implementation's tests run it:
//
//	func TestConformance(t *testing.T) {
//		lifecycletest.Run(t, func(t testing.TB) lifecycle.Store { return newStore(t) })
//	}
//
// A store is correct when it passes. The suite checks each method's
// contract as its doc comment states it, with errors.Is for the sentinel
// errors, and runs a concurrency property test: many goroutines submitting
// random overlapping batches, cancelling and finishing jobs, after which no
// host may be held by two active batches and no batch may have been admitted
// while another definitely held one of its hosts.
//
// BenchmarkAdmission measures admission throughput the same way on every
// store, and BenchmarkQueueThroughput the job queue's (claim and finish,
// QueueWorkers concurrent workers) on every lifecycle.QueueStore.
package lifecycletest
