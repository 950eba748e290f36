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
