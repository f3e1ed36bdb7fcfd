package githubtest

import (
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"github.com/runfleet/runfleet/runner/github/runnerversion"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Documentation URLs GitHub puts in error bodies; go-github recognises a
// secondary rate limit by the suffix of this field.
const (
	docPrimaryLimit   = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits"
	docSecondaryLimit = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	docRunners        = "https://docs.github.com/rest/actions/self-hosted-runners"
	docAuth           = "https://docs.github.com/rest"
)

// apiVersion is the only REST API version the fake (like GitHub today) serves.
const apiVersion = "2022-11-28"

// Server is a fake GitHub. Build it with New; it closes when the test ends.
type Server struct {
	tb   testing.TB
	http *httptest.Server
	done chan struct{}
	wg   sync.WaitGroup // webhook deliveries in flight

	mu           sync.Mutex
	orgs         map[string]*org
	enterprises  map[string]*org
	repos        map[string]*org // "owner/repo" → its own scope (runners of the repo)
	pats         map[string]credential
	apps         map[int64]*app
	instTokens   map[string]installToken
	runners      map[int64]*runner
	nextRunnerID int64
	nextGroupID  int64
	jobs         map[int64]*Job
	order        []int64
	nextJobID    int64
	changed      chan struct{}
	requests     []Request
	violations   []string
	limits       map[string]*rateBucket // by credential
	faults       []fault
	hook         *webhook
	deliveries   []Delivery
	now          func() time.Time
	minRunner    string        // oldest runner version accepted (runnerversion.go)
	refused      []string      // runner versions refused
	release      runnerRelease // latest actions/runner release
}

// org is one scope that owns runners: an organization, an enterprise or a
// repository.
type org struct {
	kind   string // orgs | enterprises | repos
	name   string // "acme" or "acme/app"
	owner  string // the account that owns it (the org for repos)
	groups map[int64]*group
}

type group struct {
	ID   int64
	Name string
}

type credential struct {
	kind   string // pat | installation
	scopes []string
}

type app struct {
	id            int64
	key           *rsa.PublicKey
	installations map[int64]string // installation id → account login
}

type installToken struct {
	installationID int64
	account        string
	expires        time.Time
}

// Request is one request the fake received (for assertions).
type Request struct {
	Method, Path string
	Status       int
	At           time.Time
}

// Option configures a Server.
type Option func(*options)

type options struct {
	listen string
	now    func() time.Time
}

// WithListenAddress makes the fake listen on addr (default 127.0.0.1:0):
// tests whose stand-in runner containers must reach the fake listen on the
// container bridge's gateway address.
func WithListenAddress(addr string) Option { return func(o *options) { o.listen = addr } }

// WithClock injects the clock used for timestamps and token expiry.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New starts a fake GitHub for the test.
func New(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	o := options{listen: "127.0.0.1:0", now: time.Now}
	for _, f := range opts {
		f(&o)
	}
	s := &Server{
		tb: tb, done: make(chan struct{}),
		orgs: map[string]*org{}, enterprises: map[string]*org{}, repos: map[string]*org{},
		pats: map[string]credential{}, apps: map[int64]*app{}, instTokens: map[string]installToken{},
		runners: map[int64]*runner{}, nextRunnerID: 3_000_000_001, nextGroupID: 2,
		jobs: map[int64]*Job{}, nextJobID: 9_000_000_001, changed: make(chan struct{}),
		limits: map[string]*rateBucket{}, now: o.now,
		minRunner: runnerversion.Default,
		release:   runnerRelease{version: runnerversion.Default, published: o.now().Add(-7 * 24 * time.Hour)},
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		tb.Fatalf("githubtest: listen on %s: %v", o.listen, err)
	}
	s.http = httptest.NewUnstartedServer(s.record(s.routes()))
	s.http.Listener.Close()
	s.http.Listener = ln
	s.http.Start()
	tb.Cleanup(s.close)
	return s
}

func (s *Server) close() {
	close(s.done)
	s.http.Close()
	s.wg.Wait()
	for _, v := range s.Violations() {
		s.tb.Errorf("githubtest: protocol violation: %s", v)
	}
}

// URL is the server's base URL, e.g. http://127.0.0.1:41234. The REST API
// is under URL()+"/api/v3"; a GitHub URL for an organization is
// URL()+"/ORG" (GitHub Enterprise Server style).
func (s *Server) URL() string { return s.http.URL }

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Violations lists requests a real GitHub would have rejected in a way
// the client should never provoke (malformed bodies, missing headers).
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) violation(format string, args ...any) {
	s.mu.Lock()
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// notifyLocked wakes long polls after a state change.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Server) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status, At: s.now()})
		s.mu.Unlock()
	})
}

// writeJSON answers with GitHub's content type.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers with GitHub's error body shape.
func writeError(w http.ResponseWriter, status int, message, doc string) {
	writeJSON(w, status, map[string]any{"message": message, "documentation_url": doc, "status": strconv.Itoa(status)})
}

func notFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "Not Found", docRunners)
}

// decodeBody reads a JSON body strictly as GitHub does: a JSON object with
// a JSON content type.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "Unsupported 'Content-Type': \""+ct+"\"", docRunners)
		return false
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "Problems parsing JSON", docRunners)
		return false
	}
	return true
}
