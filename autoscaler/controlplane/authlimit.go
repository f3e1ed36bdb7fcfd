package controlplane

import (
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failed-authentication budget per source address: a source may fail
// authFailureBurst times at once, then once every authFailureEvery. Past
// its budget, its failing requests are answered 429 at once: no identity
// check, no provider call, no log line.
const (
	authFailureBurst = 20
	authFailureEvery = 3 * time.Second
	// authLogEvery: a source's failures are logged at most this often,
	// with the count since the last line.
	authLogEvery = time.Minute
	// authMaxSources bounds the table; sources whose budget is full again
	// are dropped first.
	authMaxSources = 1 << 16
)

// authLimiter counts failed authentications per source address. Requests
// that authenticate are never held back, so a neighbour behind the same
// NAT (or a job on the node itself) sending bad tokens cannot silence a
// node's heartbeats.
type authLimiter struct {
	now func() time.Time
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	sources map[string]*authSource
}

type authSource struct {
	lim        *rate.Limiter
	lastLog    time.Time
	suppressed int
}

func newAuthLimiter(now func() time.Time, log *slog.Logger, m *metrics) *authLimiter {
	return &authLimiter{now: now, log: log, m: m, sources: map[string]*authSource{}}
}

// source is the address a request came from (its TCP peer; forwarding
// headers are not trusted).
func source(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// exhausted reports whether src has no failure budget left, and when it
// will have one again.
func (l *authLimiter) exhausted(src string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[src]
	if s == nil {
		return false, 0
	}
	tokens := s.lim.TokensAt(l.now())
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) * float64(authFailureEvery))
}

// fail records one failed authentication of src for reason and says
// whether the source was within its budget (false: answer 429).
func (l *authLimiter) fail(r *http.Request, reason, msg string, attrs ...any) bool {
	src := source(r)
	now := l.now()
	l.m.authFailures.WithLabelValues(reason).Inc()
	l.mu.Lock()
	s := l.sources[src]
	if s == nil {
		if len(l.sources) >= authMaxSources {
			l.sweep(now)
		}
		s = &authSource{lim: rate.NewLimiter(rate.Every(authFailureEvery), authFailureBurst)}
		l.sources[src] = s
	}
	within := s.lim.AllowN(now, 1)
	logIt := now.Sub(s.lastLog) >= authLogEvery
	suppressed := s.suppressed
	if logIt {
		s.lastLog, s.suppressed = now, 0
	} else {
		s.suppressed++
	}
	l.mu.Unlock()
	if !within {
		l.m.authThrottled.Inc()
	}
	if logIt {
		l.log.Warn(msg, append(attrs, "remote", src, "reason", reason, "failures_not_logged", suppressed)...)
	}
	return within
}

// reject answers a failed authentication: code and msg while src is
// within its failure budget, 429 with Retry-After past it.
func (c *ControlPlane) reject(w http.ResponseWriter, r *http.Request, code int, msg, reason, logMsg string, attrs ...any) {
	// The body is never read: answer at once and close the connection
	// (otherwise the server would first drain what the client still sends).
	w.Header().Set("Connection", "close")
	if !c.auth.fail(r, reason, logMsg, attrs...) {
		c.tooMany(w, r)
		return
	}
	writeError(w, code, msg)
}

// tooMany answers 429 to a source past its failure budget.
func (c *ControlPlane) tooMany(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Connection", "close")
	_, wait := c.auth.exhausted(source(r))
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second).Seconds()))))
	writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address")
}

// sweep drops sources whose budget is full again (no recent failure);
// when none is, it drops all (a flood of distinct addresses must not grow
// the table without bound). Called with l.mu held.
func (l *authLimiter) sweep(now time.Time) {
	for k, s := range l.sources {
		if s.lim.TokensAt(now) >= authFailureBurst {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= authMaxSources {
		clear(l.sources)
	}
}
