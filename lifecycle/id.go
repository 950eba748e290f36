package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// crockford is Crockford's base32 alphabet: IDs sort as strings in the
// order of their timestamps.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// IDLength is the length of a batch ID.
const IDLength = 26

// NewID returns a new batch ID for time t: 26 characters of Crockford
// base32 holding a 48-bit millisecond timestamp and 80 random bits (the
// ULID layout), so IDs sort by creation time and are unique across nodes.
// IDs made in the same millisecond sort in random order; a Service makes
// its IDs with an IDGenerator, which keeps them in order.
func NewID(t time.Time) string {
	return encodeID(uint64(t.UnixMilli()), uint16(rand.Uint32()), rand.Uint64())
}

// IDGenerator makes batch IDs that strictly increase, even within one
// millisecond or when the clock steps back: it then reuses the last
// timestamp and increments the random part (ULID's monotonic mode). The
// zero value is ready; it is safe for concurrent use.
type IDGenerator struct {
	mu     sync.Mutex
	ms     uint64
	hi     uint16
	lo     uint64
	seeded bool
}

// New returns the next ID for time t.
func (g *IDGenerator) New(t time.Time) string {
	ms := uint64(t.UnixMilli())
	g.mu.Lock()
	if !g.seeded || ms > g.ms {
		g.ms, g.hi, g.lo, g.seeded = ms, uint16(rand.Uint32())>>1, rand.Uint64(), true
	} else {
		g.lo++
		if g.lo == 0 {
			g.hi++ // the top bit of hi starts clear, so this cannot wrap in practice
		}
	}
	ms, hi, lo := g.ms, g.hi, g.lo
	g.mu.Unlock()
	return encodeID(ms, hi, lo)
}

// encodeID renders a 48-bit timestamp and 80 random bits as 26 Crockford
// base32 digits, most significant first (the first digit holds 3 bits).
func encodeID(ms uint64, hi uint16, lo uint64) string {
	h := ms<<16 | uint64(hi)
	var out [IDLength]byte
	for i := IDLength - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | h<<59
		h >>= 5
	}
	return string(out[:])
}

// ValidID reports whether s has the form of a batch ID.
func ValidID(s string) bool {
	if len(s) != IDLength || s[0] > '7' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(crockford, s[i]) < 0 {
			return false
		}
	}
	return true
}

// ParseBatchCursor checks a BatchFilter cursor and returns the ID of the
// last batch of the previous page; listing continues with older IDs. An
// empty cursor returns "".
func ParseBatchCursor(c string) (string, error) {
	if c == "" || ValidID(c) {
		return c, nil
	}
	return "", fmt.Errorf("%w: malformed batch cursor", ErrInvalidBatch)
}

// BatchCursor returns the cursor that continues a listing after b.
func BatchCursor(b *Batch) string { return b.ID }

// JobCursor returns the cursor that continues a job listing after j.
func JobCursor(j Job) string { return j.BatchID + "/" + j.Host }

// ParseJobCursor checks a JobFilter cursor and returns the batch ID and host
// of the last job of the previous page; listing continues after them. An
// empty cursor returns empty strings.
func ParseJobCursor(c string) (batchID, host string, err error) {
	if c == "" {
		return "", "", nil
	}
	id, h, ok := strings.Cut(c, "/")
	if !ok || !ValidID(id) || h == "" {
		return "", "", fmt.Errorf("%w: malformed job cursor", ErrInvalidBatch)
	}
	return id, h, nil
}
