package lifecycle

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
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
func NewID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(t.UnixMilli())<<16)
	binary.BigEndian.PutUint16(b[6:8], uint16(rand.Uint32()))
	binary.BigEndian.PutUint64(b[8:16], rand.Uint64())
	hi := binary.BigEndian.Uint64(b[0:8])
	lo := binary.BigEndian.Uint64(b[8:16])
	var out [IDLength]byte
	// 128 bits as 26 five-bit digits, most significant first (the first
	// digit holds the top 3 bits).
	for i := IDLength - 1; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
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
