package config

import (
	"errors"
	"fmt"
	"time"
)

// Defaults of [cleanup].
const (
	// DefaultCleanupTimeout bounds the engine cleanup of one finished job
	// that runs after its slot was freed, and the agent's wait for the
	// cleanups still running when it stops.
	DefaultCleanupTimeout = 2 * time.Minute
	// DefaultCleanupStartHold is the longest a cleanup waits for the jobs
	// starting to be up before it runs anyway (starts come first).
	DefaultCleanupStartHold = 5 * time.Second
)

// CleanupFile is [cleanup], runfleet's own table (gitlab-runner has none):
// how the agent removes the containers, networks and volumes of finished
// jobs off their slots. Each key is whole seconds > 0; left out, its
// default.
type CleanupFile struct {
	// Timeout bounds one job's cleanup and the wait for those in flight at
	// shutdown (default 120).
	Timeout *int `toml:"timeout,omitempty"`
	// StartHold is the longest a cleanup waits while jobs start
	// (default 5).
	StartHold *int `toml:"start_hold,omitempty"`
}

// Cleanup is the typed [cleanup] section, defaults applied.
type Cleanup struct {
	Timeout   time.Duration
	StartHold time.Duration
}

// cleanupFromFile validates [cleanup] (nil: the defaults).
func cleanupFromFile(f *CleanupFile) (Cleanup, error) {
	c := Cleanup{Timeout: DefaultCleanupTimeout, StartHold: DefaultCleanupStartHold}
	if f == nil {
		return c, nil
	}
	var errs []error
	for _, k := range []struct {
		key string
		v   *int
		out *time.Duration
	}{
		{"timeout", f.Timeout, &c.Timeout},
		{"start_hold", f.StartHold, &c.StartHold},
	} {
		switch {
		case k.v == nil:
		case *k.v <= 0:
			errs = append(errs, fmt.Errorf("[cleanup] %s = %d: want seconds > 0", k.key, *k.v))
		default:
			*k.out = time.Duration(*k.v) * time.Second
		}
	}
	return c, errors.Join(errs...)
}
