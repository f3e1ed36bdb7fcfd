package forecast

import (
	"sync"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Shared is a Forecaster safe for concurrent use: demand sources (webhook
// deliveries, API pollers) observe from their goroutines while the
// control loop asks for forecasts.
type Shared struct {
	mu sync.Mutex
	f  *Forecaster
}

// NewShared returns an empty shared forecaster.
func NewShared(cfg Config) *Shared { return &Shared{f: New(cfg)} }

// Observe feeds one event (see Forecaster.Observe).
func (s *Shared) Observe(e Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.Observe(e)
}

// Expected is Forecaster.Expected.
func (s *Shared) Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Expected(now, horizons)
}

// Pending is Forecaster.Pending.
func (s *Shared) Pending(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Pending(now)
}

// Error is Forecaster.Error.
func (s *Shared) Error() (wape float64, scored int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Error()
}
