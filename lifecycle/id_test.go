package lifecycle

import (
	"testing"
	"time"
)

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	t0 := time.UnixMilli(1_700_000_000_000)
	prev := ""
	for i := range 1000 {
		id := NewID(t0.Add(time.Duration(i) * time.Millisecond))
		if !ValidID(id) {
			t.Fatalf("NewID returned invalid ID %q", id)
		}
		if id <= prev {
			t.Fatalf("ID %q for a later time sorts before %q", id, prev)
		}
		prev = id
	}
	if ValidID("not-an-id") || ValidID("") || ValidID("8ZZZZZZZZZZZZZZZZZZZZZZZZZ") {
		t.Fatal("ValidID accepted a malformed ID")
	}
}

func TestIDGeneratorMonotonic(t *testing.T) {
	t.Parallel()
	var g IDGenerator
	t0 := time.UnixMilli(1_700_000_000_000)
	prev := g.New(t0)
	for i := range 10_000 {
		at := t0
		if i%3 == 0 {
			at = t0.Add(-time.Second) // the clock stepped back
		}
		id := g.New(at)
		if !ValidID(id) || id <= prev {
			t.Fatalf("ID %d: %q does not sort after %q", i, id, prev)
		}
		prev = id
	}
	if id := g.New(t0.Add(time.Hour)); id[:10] != NewID(t0.Add(time.Hour))[:10] {
		t.Fatalf("a later millisecond starts a new timestamp: %q", id)
	}
}

// FuzzParseCursors checks that cursors from outside never panic the
// parsers, and that whatever they accept round-trips.
func FuzzParseCursors(f *testing.F) {
	for _, s := range []string{"", "01M89SPY9E543VA49WR161SMWH", "01M89SPY9E543VA49WR161SMWH/web001.dc1.example.com",
		"01M89SPY9E543VA49WR161SMWH/", "/host", "garbage", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		if id, err := ParseBatchCursor(c); err == nil {
			if id != c || (c != "" && !ValidID(id)) {
				t.Fatalf("batch cursor %q accepted as %q", c, id)
			}
		}
		id, host, err := ParseJobCursor(c)
		if err != nil || c == "" {
			return
		}
		if !ValidID(id) || host == "" {
			t.Fatalf("job cursor %q accepted as %q, %q", c, id, host)
		}
		if got := JobCursor(Job{BatchID: id, Host: host}); got != c {
			t.Fatalf("job cursor %q does not round-trip: %q", c, got)
		}
	})
}
