package gitlabtest

import (
	"log/slog"
	"time"
)

// Option configures a Server built by New.
type Option func(*config)

type config struct {
	log              *slog.Logger
	now              func() time.Time
	longPollHold     time.Duration
	updateInterval   int
	legacyDisabled   bool
	twoPhaseHold     time.Duration
	maxTracePatch    int64
	maxArtifactSize  int64
	tokenLifetime    time.Duration
	requestRateLimit int
	seed             uint64
	violationsOK     bool
	inFlightGrace    time.Duration
}

func defaultConfig() config {
	return config{
		log:             slog.New(slog.DiscardHandler),
		now:             time.Now,
		longPollHold:    2 * time.Second,
		updateInterval:  3,
		twoPhaseHold:    2 * time.Minute,
		maxTracePatch:   1<<20 + 64<<10,
		maxArtifactSize: 100 << 20,
		seed:            1,
		inFlightGrace:   DefaultInFlightGrace,
	}
}

// WithLongPollHold sets how long jobs/request is held when the runner's
// last_update equals the current queue version (GitLab: ~50 s; default 2 s).
func WithLongPollHold(d time.Duration) Option {
	return func(c *config) { c.longPollHold = d }
}

// WithUpdateInterval sets the X-GitLab-Trace-Update-Interval header, in
// seconds, sent on trace and update answers (default 3).
func WithUpdateInterval(seconds int) Option {
	return func(c *config) { c.updateInterval = seconds }
}

// WithLogger makes the server log every request at debug level to l.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// WithClock sets the clock used for request timestamps, token expiry, queue
// times, the two-phase hold and the rate limit (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithLegacyRegistrationDisabled makes POST /runners answer 410 Gone, as
// GitLab 17.0+ does by default.
func WithLegacyRegistrationDisabled() Option {
	return func(c *config) { c.legacyDisabled = true }
}

// WithTwoPhaseHold sets how long a job picked with two-phase commit waits for
// the runner's PUT state=running (or pending keep-alive) before it is
// requeued (GitLab: 2 minutes).
func WithTwoPhaseHold(d time.Duration) Option {
	return func(c *config) { c.twoPhaseHold = d }
}

// WithMaxTracePatch sets the largest accepted PATCH trace body; bigger ones
// answer 413 (default 1 MiB + 64 KiB).
func WithMaxTracePatch(n int64) Option {
	return func(c *config) { c.maxTracePatch = n }
}

// WithMaxArtifactSize sets the largest accepted artifact upload; bigger ones
// answer 413 (default 100 MiB).
func WithMaxArtifactSize(n int64) Option {
	return func(c *config) { c.maxArtifactSize = n }
}

// WithTokenLifetime makes runner tokens expire: token_expires_at is set to
// now+d on verify, register and reset (default: tokens never expire, null).
// Expired tokens answer 403.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.tokenLifetime = d }
}

// WithJobRequestRateLimit limits jobs/request to n calls per minute per
// runner token, answering 429 with Retry-After beyond (GitLab 18.5+: 2000).
func WithJobRequestRateLimit(n int) Option {
	return func(c *config) { c.requestRateLimit = n }
}

// WithSeed seeds token generation and the queue version strings.
func WithSeed(seed uint64) Option {
	return func(c *config) { c.seed = seed }
}

// WithViolationsAllowed stops the server from failing the test at cleanup
// when protocol violations were recorded (see Server.Violations). Use it in
// tests that send bad requests on purpose.
func WithViolationsAllowed() Option {
	return func(c *config) { c.violationsOK = true }
}

// WithInFlightGrace sets how long after a 429 with Retry-After a call of
// the same runner is taken as sent before the client could read the 429 (default DefaultInFlightGrace). Later calls
// before the Retry-After has passed are protocol violations.
func WithInFlightGrace(d time.Duration) Option {
	return func(c *config) { c.inFlightGrace = d }
}
