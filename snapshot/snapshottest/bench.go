package snapshottest

import (
	"bytes"
	"context"
	"testing"

	"github.com/fleetkit/fleetkit/snapshot"
)

// Benchmark sizes: each iteration of BenchmarkPut stores BenchBlobs blobs of
// BenchBlobSize bytes.
const (
	BenchBlobSize = 1 << 20
	BenchBlobs    = 64
)

// BenchmarkPut measures Put of new content: 64 MiB per iteration, in 1 MiB
// blobs of known size, from one goroutine. Each iteration's blobs are fresh
// (no Put is a no-op) and are deleted, untimed, afterwards so that the
// store does not grow with b.N. Throughput is reported through b.SetBytes.
func BenchmarkPut(b *testing.B, newStore NewBlobStore) {
	s := newStore(b)
	ctx := context.Background()
	blobs := make([][]byte, BenchBlobs)
	for i := range blobs {
		blobs[i], _ = RandomBlob(uint64(i), BenchBlobSize)
	}
	digests := make([]snapshot.Digest, BenchBlobs)
	b.SetBytes(BenchBlobSize * BenchBlobs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j, data := range blobs {
			data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
			digests[j] = snapshot.DigestOf(data)
		}
		b.StartTimer()
		for j, data := range blobs {
			if _, err := s.Put(ctx, digests[j], int64(len(data)), bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for _, d := range digests {
			if err := s.Delete(ctx, d); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
	}
}
