package gitlabtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// GitLab's rate limits apply to the runner: a 429 with Retry-After on any
// call of a runner (its runner token, or the job token of a job it took)
// forbids every call of that runner until the time has passed. The server
// records a protocol violation for each call that arrives earlier, on any
// connection; only a call that arrives within the in-flight grace of the
// 429 is let through, as the client may have sent it before it could read
// the answer (even on the same connection: Go hands a connection freed by
// the 429 to a request already waiting for one).

// DefaultInFlightGrace is the default of WithInFlightGrace.
const DefaultInFlightGrace = 100 * time.Millisecond

// rateLimit is a Retry-After in force for one runner.
type rateLimit struct {
	until  time.Time
	sentAt time.Time
	status int
	path   string
}

// requestTokens returns the runner or job token a request carries: its
// RUNNER-TOKEN or JOB-TOKEN header, else the "token" of a JSON body (which
// is put back for the handler).
func requestTokens(r *http.Request, ep Endpoint) (runnerToken, jobToken string) {
	if t := r.Header.Get("RUNNER-TOKEN"); t != "" {
		return t, ""
	}
	if t := r.Header.Get("JOB-TOKEN"); t != "" {
		return "", t
	}
	if r.Body == nil || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		return "", ""
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(data), r.Body))
	var body struct {
		Token string `json:"token"`
	}
	if err != nil || json.Unmarshal(data, &body) != nil || body.Token == "" {
		return "", ""
	}
	if ep == EndpointUpdateJob {
		return "", body.Token
	}
	return body.Token, ""
}

// credentialLocked names the runner a request is made for: its runner
// token, or the runner of the job whose token it carries; "" for requests
// without GitLab credentials.
func (s *Server) credentialLocked(runnerToken, jobToken string) string {
	switch {
	case runnerToken != "":
		return runnerToken
	case jobToken == "":
		return ""
	}
	if id, ok := s.jobTokens[jobToken]; ok {
		if j := s.jobs[id]; j != nil && j.runner != nil {
			return j.runner.token
		}
	}
	for _, j := range s.jobs { // a job token of a finished job
		if j.token == jobToken && j.runner != nil {
			return j.runner.token
		}
	}
	return "job:" + jobToken
}

// checkRateLimitLocked records a violation when r arrives before the
// Retry-After in force for its credential has passed.
func (s *Server) checkRateLimitLocked(r *http.Request, key string, now time.Time) {
	l := s.limits[key]
	if l == nil || !now.Before(l.until) {
		return
	}
	if now.Sub(l.sentAt) < s.cfg.inFlightGrace {
		return
	}
	s.earlyCalls++
	s.violateLocked("%s %s arrived %s after a %d with Retry-After %s (on %s) for the same runner: %s early",
		r.Method, r.URL.Path, now.Sub(l.sentAt).Round(time.Millisecond), l.status,
		l.until.Sub(l.sentAt).Round(time.Second), l.path, l.until.Sub(now).Round(time.Millisecond))
}

// rateLimitedLocked records that r is answered status with Retry-After
// seconds: the runner must make no call before then.
func (s *Server) rateLimitedLocked(r *http.Request, status int, seconds int, now time.Time) {
	key := infoOf(r).credential
	if key == "" || seconds <= 0 {
		return
	}
	until := now.Add(time.Duration(seconds) * time.Second)
	if l := s.limits[key]; l != nil && !until.After(l.until) {
		return
	}
	s.limits[key] = &rateLimit{until: until, sentAt: now, status: status, path: r.URL.Path}
}

// EarlyCalls is how many calls arrived before a Retry-After given to their
// runner had passed (each is also a protocol violation).
func (s *Server) EarlyCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.earlyCalls
}
