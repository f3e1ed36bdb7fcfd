package gitlabtest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a fake GitLab coordinator listening on 127.0.0.1. Build it with
// New; it closes when the test ends.
type Server struct {
	tb      testing.TB
	cfg     config
	http    *httptest.Server
	done    chan struct{} // closed at cleanup: releases held requests
	gitRoot string        // GIT_PROJECT_ROOT

	mu             sync.Mutex
	rng            *rand.Rand
	runners        map[string]*runner // by token
	nextRunnerID   int64
	regTokens      map[string]bool
	jobs           map[int64]*job
	order          []int64 // enqueue order
	jobTokens      map[string]int64
	nextJobID      int64
	nextPipelineID int64
	version        uint64
	changed        chan struct{} // closed and replaced when the queue changes
	repos          map[string]*repo
	requests       []RequestRecord
	violations     []string
	faults         *faultState
	limits         map[string]*rateLimit // Retry-After in force, by runner token (ratelimit.go)
	earlyCalls     int
}

// New starts a fake GitLab for the test; t.Cleanup closes it and, unless
// WithViolationsAllowed, reports recorded protocol violations as errors.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{
		tb:             tb,
		cfg:            cfg,
		done:           make(chan struct{}),
		gitRoot:        tb.TempDir(),
		rng:            rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		runners:        map[string]*runner{},
		nextRunnerID:   101,
		regTokens:      map[string]bool{},
		jobs:           map[int64]*job{},
		jobTokens:      map[string]int64{},
		nextJobID:      5_000_000_001, // above 2^32: catches int32 ids
		nextPipelineID: 7_000_000_001,
		version:        1,
		changed:        make(chan struct{}),
		repos:          map[string]*repo{},
		limits:         map[string]*rateLimit{},
	}
	s.http = httptest.NewServer(s.record(s.routes()))
	tb.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	close(s.done)
	s.http.Close()
	if s.cfg.violationsOK {
		return
	}
	for _, v := range s.Violations() {
		s.tb.Errorf("gitlabtest: protocol violation: %s", v)
	}
}

// URL returns the base URL, without /api/v4.
func (s *Server) URL() string { return s.http.URL }

// Client returns an HTTP client suited to the server.
func (s *Server) Client() *http.Client { return s.http.Client() }

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	s.handle(mux, "POST /api/v4/runners/verify", EndpointVerify, s.handleVerify)
	s.handle(mux, "POST /api/v4/runners", EndpointRegister, s.handleRegister)
	s.handle(mux, "DELETE /api/v4/runners", EndpointUnregister, s.handleUnregister)
	s.handle(mux, "DELETE /api/v4/runners/managers", EndpointUnregisterManager, s.handleUnregisterManager)
	s.handle(mux, "POST /api/v4/runners/reset_authentication_token", EndpointResetToken, s.handleResetToken)
	s.handle(mux, "POST /api/v4/jobs/request", EndpointRequestJob, s.handleRequestJob)
	s.handle(mux, "PUT /api/v4/jobs/{id}", EndpointUpdateJob, s.handleUpdateJob)
	s.handle(mux, "PATCH /api/v4/jobs/{id}/trace", EndpointPatchTrace, s.handlePatchTrace)
	s.handle(mux, "POST /api/v4/jobs/{id}/artifacts", EndpointUploadArtifacts, s.handleUploadArtifacts)
	s.handle(mux, "GET /api/v4/jobs/{id}/artifacts", EndpointDownloadArtifacts, s.handleDownloadArtifacts)
	s.handle(mux, "/", EndpointGit, s.handleGit)
	return mux
}

type reqInfoKey struct{}

// reqInfo is filled in by handlers for the request record.
type reqInfo struct {
	endpoint Endpoint
	jobID    int64
	fault    bool
	// credential is the runner the request is made for (ratelimit.go).
	credential string
}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// handle registers h, tagging requests with ep and running fault rules first.
// Job updates run their fault rules themselves, once the body says whether
// the update is final.
func (s *Server) handle(mux *http.ServeMux, pattern string, ep Endpoint, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		info := infoOf(r)
		info.endpoint = ep
		if idText := r.PathValue("id"); idText != "" {
			id, err := strconv.ParseInt(idText, 10, 64)
			if err != nil {
				writeMessage(w, http.StatusNotFound, "404 Not Found")
				return
			}
			info.jobID = id
		}
		if ep != EndpointGit {
			runnerToken, jobToken := requestTokens(r, ep)
			s.mu.Lock()
			info.credential = s.credentialLocked(runnerToken, jobToken)
			s.checkRateLimitLocked(r, info.credential, s.cfg.now())
			s.mu.Unlock()
		}
		if ep != EndpointUpdateJob && s.injectFault(w, r, ep, false) {
			return
		}
		h(w, r)
	})
}

// record is the outer middleware: it records every request.
func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.now()
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		rec := RequestRecord{
			Method:    r.Method,
			Path:      r.URL.Path,
			Query:     r.URL.RawQuery,
			Endpoint:  info.endpoint,
			JobID:     info.jobID,
			Status:    sw.status,
			Fault:     info.fault,
			UserAgent: r.UserAgent(),
			RequestID: r.Header.Get("X-Request-Id"),
			Time:      start,
			Duration:  s.cfg.now().Sub(start),
		}
		s.mu.Lock()
		s.requests = append(s.requests, rec)
		if rec.UserAgent == "" && strings.HasPrefix(rec.Path, "/api/") {
			s.violateLocked("%s %s without User-Agent", r.Method, r.URL.Path)
		}
		s.mu.Unlock()
		s.cfg.log.Debug("gitlabtest request", "method", rec.Method, "path", rec.Path,
			"status", rec.Status, "fault", rec.Fault, "job", rec.JobID, "duration", rec.Duration)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// violateLocked records a protocol violation.
func (s *Server) violateLocked(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

// writeMessage answers GitLab-style {"message": msg}.
func writeMessage(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decodeJSON reads a JSON object body into v.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode body: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("decode body: trailing data")
	}
	return nil
}

// randHex returns n random hex characters from the seeded generator.
func (s *Server) randHexLocked(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = digits[s.rng.IntN(16)]
	}
	return string(b)
}

// randToken returns a token with the given prefix and GitLab's length.
func (s *Server) randTokenLocked(prefix string) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, 20)
	for i := range b {
		b[i] = chars[s.rng.IntN(len(chars))]
	}
	return prefix + string(b)
}

func joinLines(lines []string) string { return strings.Join(lines, "\n  ") }

// setJobStatus sets the Job-Status header; call before WriteHeader.
func setJobStatus(w http.ResponseWriter, j *job) {
	w.Header().Set("Job-Status", string(j.state))
}

// sleepOrDone waits d, returning early when ctx ends or the server closes.
func (s *Server) sleepOrDone(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-ctx.Done():
	case <-s.done:
	}
}
