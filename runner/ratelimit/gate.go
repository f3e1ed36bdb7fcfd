package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/runfleet/runfleet/runner/clock"
)

// Gate holds one pause per credential key. It is safe for concurrent use;
// one Gate is shared by every client and slot of the agent.
type Gate struct {
	clock clock.Clock
	log   *slog.Logger

	mu    sync.Mutex
	until map[string]time.Time
}

// Options configure New.
type Options struct {
	// Clock is the agent's clock (default the wall clock).
	Clock  clock.Clock
	Logger *slog.Logger
}

// New returns an empty gate.
func New(o Options) *Gate {
	o.Clock = clock.Or(o.Clock)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Gate{clock: o.Clock, log: o.Logger, until: map[string]time.Time{}}
}

// Key names a credential without holding it: the platform and a short hash
// of the secret (or of a public id, e.g. a GitHub App id). Keys are safe to
// log.
func Key(platform, credential string) string {
	sum := sha256.Sum256([]byte(credential))
	return platform + ":" + hex.EncodeToString(sum[:8])
}

// Pause forbids calls with key until the given time. A pause only ever
// grows: an earlier time than the one in force changes nothing.
func (g *Gate) Pause(key string, until time.Time, reason string) {
	if key == "" {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !until.After(g.until[key]) {
		return
	}
	g.until[key] = until
	g.log.Warn("rate limited: pausing every call with this credential", "credential", key,
		"for", until.Sub(g.clock.Now()).Round(time.Millisecond), "reason", reason)
}

// Until is the end of the pause in force for key (zero when none).
func (g *Gate) Until(key string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.until[key]
}

// Wait blocks until no pause is in force for key, or ctx ends. A pause
// extended while waiting is waited out too.
func (g *Gate) Wait(ctx context.Context, key string) error {
	if key == "" {
		return ctx.Err()
	}
	for {
		g.mu.Lock()
		until := g.until[key]
		now := g.clock.Now()
		if !now.Before(until) {
			if !until.IsZero() {
				delete(g.until, key)
			}
			g.mu.Unlock()
			return ctx.Err()
		}
		g.mu.Unlock()
		if err := clock.Sleep(ctx, g.clock, until.Sub(now)); err != nil {
			return fmt.Errorf("waiting out a rate limit on %s: %w", key, err)
		}
	}
}
