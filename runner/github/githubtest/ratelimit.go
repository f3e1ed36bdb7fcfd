package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRateLimit is the primary limit per credential per hour (a GitHub
// App installation on a non-Enterprise plan starts at 5,000).
const DefaultRateLimit = 5000

type rateBucket struct {
	limit, used int
	reset       time.Time
}

// FaultKind selects an injected failure.
type FaultKind int

const (
	// PrimaryLimit answers 403 with X-RateLimit-Remaining: 0 and a reset
	// time RetryAfter from now, as when a credential's hourly budget is spent.
	PrimaryLimit FaultKind = iota + 1
	// SecondaryLimit answers 403 with Retry-After and the secondary rate
	// limit message and documentation URL.
	SecondaryLimit
	// ServerError answers 502 Bad Gateway.
	ServerError
	// SecondaryLimit429 is SecondaryLimit answered with 429 Too Many
	// Requests, which GitHub documents as the other status of a secondary
	// rate limit.
	SecondaryLimit429
)

type fault struct {
	kind       FaultKind
	count      int
	retryAfter time.Duration
	path       string // "" = any REST path
}

// InjectFault makes the next count REST API requests (those under /api/v3
// whose path contains pathContains, "" for any) fail with kind.
func (s *Server) InjectFault(kind FaultKind, count int, retryAfter time.Duration, pathContains string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{kind: kind, count: count, retryAfter: retryAfter, path: pathContains})
}

// takeFault returns the fault that applies to path, consuming one count.
func (s *Server) takeFault(path string) (fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.count > 0 && (f.path == "" || strings.Contains(path, f.path)) {
			f.count--
			return *f, true
		}
	}
	return fault{}, false
}

// spend charges one request to cred's bucket, sets GitHub's rate-limit
// headers and answers 403 itself when the bucket is empty.
func (s *Server) spend(w http.ResponseWriter, cred string) bool {
	s.mu.Lock()
	now := s.now()
	b := s.limits[cred]
	if b == nil || !now.Before(b.reset) {
		b = &rateBucket{limit: DefaultRateLimit, reset: now.Add(time.Hour)}
		s.limits[cred] = b
	}
	exhausted := b.used >= b.limit
	if !exhausted {
		b.used++
	}
	setRateHeaders(w, b.limit, b.used, b.reset)
	s.mu.Unlock()
	if exhausted {
		writeError(w, http.StatusForbidden, "API rate limit exceeded for this credential.", docPrimaryLimit)
		return false
	}
	return true
}

func setRateHeaders(w http.ResponseWriter, limit, used int, reset time.Time) {
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(limit-used, 0)))
	h.Set("X-RateLimit-Used", strconv.Itoa(used))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
}

// answerFault writes the injected failure.
func (s *Server) answerFault(w http.ResponseWriter, f fault) {
	switch f.kind {
	case PrimaryLimit:
		reset := s.now().Add(f.retryAfter)
		setRateHeaders(w, DefaultRateLimit, DefaultRateLimit, reset)
		writeError(w, http.StatusForbidden, "API rate limit exceeded for installation.", docPrimaryLimit)
	case SecondaryLimit, SecondaryLimit429:
		code := http.StatusForbidden
		if f.kind == SecondaryLimit429 {
			code = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(f.retryAfter.Seconds())))
		writeError(w, code, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.", docSecondaryLimit)
	default:
		writeError(w, http.StatusBadGateway, fmt.Sprintf("injected fault %d", f.kind), docAuth)
	}
}
