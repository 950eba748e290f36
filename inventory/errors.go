package inventory

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by this package and by shards wrap one
// of them where a caller may branch on it.
var (
	// ErrInvalid is wrapped by errors about bad input: a bad object name,
	// pattern, option or topology. Nothing was changed.
	ErrInvalid = errors.New("invalid input")
	// ErrMalformed is wrapped by errors about a stored record that cannot
	// be decoded. Extraction reports them per key and goes on.
	ErrMalformed = errors.New("malformed record")
	// ErrUnsupported is returned by a shard for an operation it does not
	// offer, such as publishing into a legacy sysops-api cache.
	ErrUnsupported = errors.New("unsupported operation")
	// ErrNoServer is wrapped when no server of a replica group answered its
	// health check.
	ErrNoServer = errors.New("no live server in group")
	// ErrTooFewReplicas is wrapped when a publish reached fewer servers
	// than required.
	ErrTooFewReplicas = errors.New("too few replicas took the publish")
)

// RecordError is a problem with one stored record. It matches
// [ErrMalformed] with errors.Is when the record could not be decoded.
type RecordError struct {
	Server string
	Key    Key
	Err    error
}

// Error names the server, the key and the problem.
func (e *RecordError) Error() string {
	return fmt.Sprintf("record %s on %s: %v", e.Key, e.Server, e.Err)
}

// Unwrap returns the underlying error.
func (e *RecordError) Unwrap() error { return e.Err }
