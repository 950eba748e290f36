package sqlitestore

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fleetkit/fleetkit/store"
)

// Encoding of Go values in columns. Times are INTEGER microseconds since
// the Unix epoch (NULL for the zero time), so a time read back equals the
// time written at microsecond precision, in UTC. Slices and maps are JSON
// text (NULL for nil).

// micros encodes t for a time column.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// storedTime returns t as it reads back: UTC, truncated to the
// microsecond (the zero time stays zero).
func storedTime(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// timeCol scans a time column into *t.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("time column holds %T, want INTEGER microseconds", src)
	}
	return nil
}

// jsonCol scans a JSON text column into *v; NULL leaves *v as is (nil).
type jsonCol struct{ v any }

// Scan implements sql.Scanner.
func (c jsonCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(v), c.v)
	case []byte:
		return json.Unmarshal(v, c.v)
	default:
		return fmt.Errorf("JSON column holds %T, want TEXT", src)
	}
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// interpretError maps database/sql errors to the store package's sentinels:
// no rows is store.ErrNotFound, a closed database or connection is
// store.ErrClosed. Anything else is returned as is.
func interpretError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, sql.ErrConnDone), isDBClosed(err):
		return fmt.Errorf("%w: %v", store.ErrClosed, err)
	}
	return err
}

// isDBClosed reports database/sql's unexported "database is closed" error.
func isDBClosed(err error) bool {
	return strings.Contains(err.Error(), "sql: database is closed")
}
