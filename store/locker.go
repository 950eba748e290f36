package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// Locker hands out named leases: a mutex that expires unless renewed, so
// that a holder that dies does not keep the lock for ever. Background tasks
// that must run on one node at a time (lease rescue, statistics roll-up,
// retention) take a lease first.
//
// A lease carries a fencing token that increases on every acquisition of the
// same name. Whatever the lease guards should record the token and refuse
// writes carrying an older one: a holder paused past its expiry then cannot
// undo the work of the holder that took over.
//
// Implementations must be safe for concurrent use by many goroutines and,
// for shared backends, many processes.
type Locker interface {
	// Acquire takes the lease on name for ttl. It does not wait: when
	// another holder has an unexpired lease it returns an error wrapping
	// ErrLocked. An expired lease is taken over. The returned lease's
	// Token is greater than that of every earlier lease on name.
	Acquire(ctx context.Context, name string, ttl time.Duration) (Lease, error)
	// Renew extends a held lease to ttl from now and returns it with the
	// new expiry; the token is unchanged. It returns an error wrapping
	// ErrNotHeld when the lease expired or was taken over.
	Renew(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// Release gives the lease up so another holder may acquire it at once.
	// It returns an error wrapping ErrNotHeld when the lease was no longer
	// held; the lock is then someone else's or free, and unchanged.
	Release(ctx context.Context, l Lease) error
}

// Lease is a held lock.
type Lease struct {
	// Name is the lock's name.
	Name string
	// Holder identifies this acquisition; it is random and unique.
	Holder string
	// Token is the fencing token: it increases on every acquisition of
	// Name.
	Token int64
	// Expires is when the lease lapses unless renewed.
	Expires time.Time
}

// String describes the lease for logs.
func (l Lease) String() string {
	return fmt.Sprintf("lease %q token %d expires %s", l.Name, l.Token, l.Expires.UTC().Format(time.RFC3339Nano))
}

// NewHolder returns a random holder identifier for a new lease. Backends
// call it in Acquire.
func NewHolder() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ValidateLeaseRequest checks the arguments of Acquire and Renew, returning
// an error wrapping ErrInvalid. Backends call it first so that every backend
// rejects the same bad input.
func ValidateLeaseRequest(name string, ttl time.Duration) error {
	if name == "" {
		return fmt.Errorf("%w: lease name is empty", ErrInvalid)
	}
	if len(name) > 200 {
		return fmt.Errorf("%w: lease name is %d bytes, longer than 200", ErrInvalid, len(name))
	}
	if ttl <= 0 {
		return fmt.Errorf("%w: lease %q: ttl %s is not positive", ErrInvalid, name, ttl)
	}
	return nil
}
