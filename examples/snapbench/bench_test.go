package main

import (
	"context"
	"io"
	"sync"
	"testing"
)

// benchOnce is a 256 MiB store of 256 blobs, filled once for the
// benchmarks and removed by TestMain.
var benchOnce = sync.OnceValues(func() (*bench, error) {
	b, err := newBench(context.Background(), config{Size: 256 << 20, Blobs: 256, Rounds: 1, OpenSSL: "openssl"}, io.Discard)
	benchMade = b
	return b, err
})

// benchMade is benchOnce's store, once made.
var benchMade *bench

// BenchmarkVerifyFull compares, in one run, full verification with 1 and
// 2 workers (snapshot.Verify), Go's bare crypto/sha256 and openssl dgst
// with 1 and 2 processes over the same 256 MiB of blobs; MB/s is bytes
// over wall time, GB/CPU-s bytes over CPU time.
func BenchmarkVerifyFull(b *testing.B) {
	bn, err := benchOnce()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range bn.methods() {
		b.Run(m.name, func(b *testing.B) {
			b.SetBytes(bn.bytes)
			var cpu float64
			for b.Loop() {
				c, err := m.run(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				cpu += c.Seconds()
			}
			b.ReportMetric(float64(bn.bytes)*float64(b.N)/1e9/cpu, "GB/CPU-s")
		})
	}
}
