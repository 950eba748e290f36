package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fleetkit/fleetkit"
	"github.com/fleetkit/fleetkit/store"
)

// Event kinds sent through Config.Notifier.
const (
	EventBatchAccepted  = "batch.accepted"
	EventBatchRejected  = "batch.rejected"
	EventBatchCancelled = "batch.cancelled"
)

// Service is the lifecycle API: submission and admission, queries,
// cancellation, statistics. It holds no state of its own beyond its
// configuration and an ID generator, so any number of Services, in any
// number of processes, may share one Store. A Service is safe for
// concurrent use.
type Service struct {
	st  Store
	cfg *Config
	ids IDGenerator
}

// New returns a Service over st. cfg may be nil for the defaults.
func New(st Store, cfg *Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("lifecycle: New: nil Store")
	}
	c := cfg.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &Service{st: st, cfg: c}, nil
}

// OpenStore opens the backend at url with store.Open and returns it as a
// lifecycle Store, closing it again if it is not one. Import the backend
// package for its side effect first.
func OpenStore(ctx context.Context, url string) (Store, store.Backend, error) {
	b, err := store.Open(ctx, url)
	if err != nil {
		return nil, nil, err
	}
	st, ok := b.(Store)
	if !ok {
		_ = b.Close(ctx)
		return nil, nil, fmt.Errorf("lifecycle: backend %T does not implement lifecycle.Store", b)
	}
	return st, b, nil
}

// Store returns the store the service uses.
func (s *Service) Store() Store { return s.st }

// now is the current time as stores keep it: UTC, to the microsecond.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// notify sends e, logging (never returning) a failure: a notification
// never undoes what it reports.
func (s *Service) notify(ctx context.Context, e fleetkit.Event) {
	fleetkit.NotifyBestEffort(ctx, s.cfg.Notifier, s.cfg.Logger, s.cfg.Now, e)
}
