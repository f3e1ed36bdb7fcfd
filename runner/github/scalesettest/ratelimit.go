package scalesettest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// GitHub's rate limits apply to the credential, not to one call: once an
// answer told the client to wait (Retry-After, or an exhausted primary
// limit's x-ratelimit-reset), every call it makes with that credential
// before the time has passed is early. The fake's client has one
// credential (its token and what it exchanges it for: the admin and
// message-queue tokens), so a limit covers every request but the stand-in
// runner's own protocol. An early request is a protocol violation
// (EarlyCalls counts them) and is answered with the limit again, as
// GitHub answers it; only one that arrives within InFlightGrace of the
// limiting answer is let through, as the client may have sent it before it
// could read that answer.

// InFlightGrace is how long after a limiting answer a request is taken as
// sent before the client could read it.
const InFlightGrace = 100 * time.Millisecond

// LimitKind selects how RateLimit answers.
type LimitKind int

const (
	// TooManyRequests answers 429 with Retry-After.
	TooManyRequests LimitKind = iota + 1
	// SecondaryLimit answers 403 with Retry-After and GitHub's secondary
	// rate limit message.
	SecondaryLimit
	// PrimaryLimit answers 403 with x-ratelimit-remaining: 0 and the
	// x-ratelimit-reset (Unix seconds) when the budget is back.
	PrimaryLimit
)

func (k LimitKind) String() string {
	switch k {
	case TooManyRequests:
		return "429 Retry-After"
	case SecondaryLimit:
		return "403 secondary limit"
	case PrimaryLimit:
		return "403 primary limit"
	}
	return "limit " + strconv.Itoa(int(k))
}

// limitRule is an injected limit waiting for its requests.
type limitRule struct {
	kind  LimitKind
	count int
	after time.Duration
	path  string
}

// limitInForce is the wait the client was told about.
type limitInForce struct {
	kind   LimitKind
	sentAt time.Time
	until  time.Time
	path   string
}

// RateLimit makes the next count requests whose path contains
// pathContains ("" for any, the stand-in runner's protocol aside) answer
// kind, telling the client to wait after (rounded up to whole seconds, as
// the headers carry them). From each such answer until the wait has
// passed, any request is early (see above).
func (s *Server) RateLimit(kind LimitKind, count int, after time.Duration, pathContains string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limitRules = append(s.limitRules, limitRule{kind: kind, count: count, after: after, path: pathContains})
}

// EarlyCalls is how many requests arrived before a wait the client was
// told about had passed (each also a protocol violation).
func (s *Server) EarlyCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earlyCalls
}

// Limited is how many requests were answered with an injected limit.
func (s *Server) Limited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limited
}

// rateLimits answers limited and early requests before next sees them.
func (s *Server) rateLimits(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, tenantRoot+"runners/") {
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		now := s.now()
		if l := s.limit; l != nil && now.Before(l.until) && now.Sub(l.sentAt) >= InFlightGrace {
			s.earlyCalls++
			s.violateLocked("%s %s arrived %s after a %s (on %s) told the client to wait %s: %s early",
				r.Method, r.URL.Path, now.Sub(l.sentAt).Round(time.Millisecond), l.kind, l.path,
				l.until.Sub(l.sentAt).Round(time.Second), l.until.Sub(now).Round(time.Millisecond))
			kind, until := l.kind, l.until
			s.mu.Unlock()
			writeLimit(w, kind, until, now)
			return
		}
		for i := range s.limitRules {
			rule := &s.limitRules[i]
			if rule.count <= 0 || (rule.path != "" && !strings.Contains(r.URL.Path, rule.path)) {
				continue
			}
			rule.count--
			secs := (rule.after + time.Second - 1) / time.Second
			until := now.Add(secs * time.Second)
			if rule.kind == PrimaryLimit { // the reset is a whole Unix second
				until = time.Unix(now.Add(secs*time.Second).Unix()+1, 0)
			}
			if s.limit == nil || until.After(s.limit.until) {
				s.limit = &limitInForce{kind: rule.kind, sentAt: now, until: until, path: r.URL.Path}
			}
			s.limited++
			s.mu.Unlock()
			writeLimit(w, rule.kind, until, now)
			return
		}
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// writeLimit answers kind, the wait lasting until.
func writeLimit(w http.ResponseWriter, kind LimitKind, until, now time.Time) {
	secs := int((until.Sub(now) + time.Second - 1) / time.Second)
	switch kind {
	case TooManyRequests:
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeGitHubError(w, http.StatusTooManyRequests, "Too many requests.")
	case SecondaryLimit:
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeGitHubError(w, http.StatusForbidden, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
	case PrimaryLimit:
		h := w.Header()
		h.Set("X-RateLimit-Limit", "5000")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Used", "5000")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(until.Unix(), 10))
		writeGitHubError(w, http.StatusForbidden, "API rate limit exceeded for installation.")
	default:
		writeGitHubError(w, http.StatusInternalServerError, fmt.Sprintf("unknown limit %d", kind))
	}
}
