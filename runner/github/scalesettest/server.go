package scalesettest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// tenantRoot is where the Actions service lives on the fake, as the
// runner-registration answer points the client to it.
const tenantRoot = "/pipelines/tenant-1/"

// brokerRoot is where message queues live (messageQueueUrl).
const brokerRoot = "/broker/scalesets/"

// Options configure the fake.
type Options struct {
	// Token is the personal access token the fake accepts (Bearer) for
	// registration tokens. Required.
	Token string
	// Scopes the token may register at, as "orgs/ORG",
	// "repos/OWNER/REPO" or "enterprises/ENT"; empty accepts any.
	Scopes []string
	// RunnerGroups besides "default" (id 1), by name; ids are assigned
	// from 2 in order.
	RunnerGroups []string
	// PollTimeout is how long a message poll waits before 202 (the
	// service waits about 50 s). Default 50 s.
	PollTimeout time.Duration
	// Now is the service's clock for message times. Default time.Now.
	Now func() time.Time
	// AllowViolations keeps protocol violations from failing the test.
	AllowViolations bool
	// ListenAddress is where the fake listens (default 127.0.0.1:0);
	// tests whose runner containers must reach it listen on the container
	// bridge's gateway address.
	ListenAddress string
}

// Request is one request the fake answered.
type Request struct {
	Method string
	Path   string
	Query  string
	Status int
}

// Server is the fake scale-set service.
type Server struct {
	http    *httptest.Server
	opts    Options
	closing chan struct{}

	mu          sync.Mutex
	regTokens   map[string]string // registration token → scope
	adminTokens map[string]bool
	groups      []wireRunnerGroup
	scaleSets   map[int]*scaleSet
	sessions    map[string]*session
	jobs        map[int64]*job
	jobOrder    []int64
	runners     map[int]*runner
	nextID      int
	nextMsgID   int
	acks        []int
	acquires    []AcquireCall
	jits        []JITRecord
	requests    []Request
	violations  []string
	refused     []string      // runner versions refused
	limitRules  []limitRule   // limits to answer (ratelimit.go)
	limit       *limitInForce // the wait the client was told about last
	earlyCalls  int
	limited     int
	changed     chan struct{} // closed and replaced on every event
}

// New starts the fake; it is closed when the test ends, and protocol
// violations are reported then unless AllowViolations is set.
func New(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Token == "" {
		tb.Fatal("scalesettest: Options.Token is required")
	}
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 50 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:        opts,
		closing:     make(chan struct{}),
		regTokens:   map[string]string{},
		adminTokens: map[string]bool{},
		groups:      []wireRunnerGroup{{ID: 1, Name: "Default", IsDefault: true}},
		scaleSets:   map[int]*scaleSet{},
		sessions:    map[string]*session{},
		jobs:        map[int64]*job{},
		runners:     map[int]*runner{},
		nextID:      100,
		nextMsgID:   1,
		changed:     make(chan struct{}),
	}
	for i, g := range opts.RunnerGroups {
		s.groups = append(s.groups, wireRunnerGroup{ID: i + 2, Name: g})
	}
	if opts.ListenAddress == "" {
		opts.ListenAddress = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", opts.ListenAddress)
	if err != nil {
		tb.Fatalf("scalesettest: listen on %s: %v", opts.ListenAddress, err)
	}
	s.http = httptest.NewUnstartedServer(s.record(s.rateLimits(s.routes())))
	s.http.Listener.Close()
	s.http.Listener = ln
	s.http.Start()
	tb.Cleanup(func() {
		close(s.closing)
		s.http.CloseClientConnections()
		s.http.Close()
		if opts.AllowViolations {
			return
		}
		for _, v := range s.Violations() {
			tb.Errorf("scalesettest: protocol violation: %s", v)
		}
	})
	return s
}

// URL is the server root.
func (s *Server) URL() string { return s.http.URL }

// ConfigURL is the GitHub config URL for an organization ("acme") or a
// repository ("acme/app"), as the scaleset client takes it. The fake is
// not github.com, so the client uses the GHES API root /api/v3.
func (s *Server) ConfigURL(scope string) string { return s.http.URL + "/" + scope }

// Violations returns the protocol violations seen so far.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}

// Requests returns every request answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

func (s *Server) violateLocked(format string, args ...any) {
	s.violations = append(s.violations, fmt.Sprintf(format, args...))
}

func (s *Server) violate(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violateLocked(format, args...)
}

// notifyLocked wakes long polls.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// GitHub API (GHES layout).
	mux.HandleFunc("POST /api/v3/orgs/{org}/actions/runners/registration-token", s.handleRegistrationToken)
	mux.HandleFunc("POST /api/v3/repos/{owner}/{repo}/actions/runners/registration-token", s.handleRegistrationToken)
	mux.HandleFunc("POST /api/v3/enterprises/{ent}/actions/runners/registration-token", s.handleRegistrationToken)
	mux.HandleFunc("POST /api/v3/actions/runner-registration", s.handleRunnerRegistration)
	// Actions service.
	t := tenantRoot + "_apis/"
	mux.HandleFunc("GET "+t+"runtime/runnergroups/", s.admin(s.handleRunnerGroups))
	mux.HandleFunc("GET "+t+"runtime/runnerscalesets", s.admin(s.handleListScaleSets))
	mux.HandleFunc("POST "+t+"runtime/runnerscalesets", s.admin(s.handleCreateScaleSet))
	mux.HandleFunc("GET "+t+"runtime/runnerscalesets/{id}", s.admin(s.handleGetScaleSet))
	mux.HandleFunc("PATCH "+t+"runtime/runnerscalesets/{id}", s.admin(s.handleUpdateScaleSet))
	mux.HandleFunc("DELETE "+t+"runtime/runnerscalesets/{id}", s.admin(s.handleDeleteScaleSet))
	mux.HandleFunc("POST "+t+"runtime/runnerscalesets/{id}/sessions", s.admin(s.handleCreateSession))
	mux.HandleFunc("PATCH "+t+"runtime/runnerscalesets/{id}/sessions/{sid}", s.admin(s.handleRefreshSession))
	mux.HandleFunc("DELETE "+t+"runtime/runnerscalesets/{id}/sessions/{sid}", s.admin(s.handleDeleteSession))
	mux.HandleFunc("POST "+t+"runtime/runnerscalesets/{id}/acquirejobs", s.apiVersion(s.handleAcquireJobs))
	mux.HandleFunc("POST "+t+"runtime/runnerscalesets/{id}/generatejitconfig", s.admin(s.handleGenerateJIT))
	mux.HandleFunc("GET "+t+"distributedtask/pools/0/agents", s.admin(s.handleListAgents))
	mux.HandleFunc("GET "+t+"distributedtask/pools/0/agents/{id}", s.admin(s.handleGetAgent))
	mux.HandleFunc("DELETE "+t+"distributedtask/pools/0/agents/{id}", s.admin(s.handleDeleteAgent))
	// The stand-in runner's test-only protocol (tests/githubrunner).
	mux.HandleFunc("POST "+tenantRoot+"runners/{rid}/session", s.handleRunnerSession)
	mux.HandleFunc("GET "+tenantRoot+"runners/{rid}/job", s.handleRunnerJob)
	mux.HandleFunc("POST "+tenantRoot+"runners/{rid}/jobs/{jid}/result", s.handleRunnerResult)
	// Message queue (broker).
	mux.HandleFunc("GET "+brokerRoot+"{id}/messages", s.handleGetMessage)
	mux.HandleFunc("DELETE "+brokerRoot+"{id}/messages/{mid}", s.handleDeleteMessage)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.violate("no such endpoint: %s %s", r.Method, r.URL.Path)
		writeGitHubError(w, http.StatusNotFound, "Not Found")
	})
	return mux
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

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: sw.status})
		s.mu.Unlock()
	})
}

// bearer returns the token of an "Authorization: Bearer X" header.
func bearer(r *http.Request) string {
	v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return ""
	}
	return v
}

// apiVersion checks what every Actions service call carries.
func (s *Server) apiVersion(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("api-version"); v != "6.0-preview" {
			s.violate("%s %s: api-version %q, want 6.0-preview", r.Method, r.URL.Path, v)
			writeException(w, http.StatusBadRequest, excInvalidRequest, "The api-version query parameter is required.")
			return
		}
		if (r.Method == http.MethodPost || r.Method == http.MethodPatch) && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			s.violate("%s %s: Content-Type %q", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			writeException(w, http.StatusUnsupportedMediaType, excInvalidRequest, "Content-Type must be application/json.")
			return
		}
		h(w, r)
	}
}

// admin requires the admin token from runner-registration.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return s.apiVersion(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		ok := s.adminTokens[bearer(r)]
		s.mu.Unlock()
		if !ok {
			writeException(w, http.StatusUnauthorized, excUnauthorized, "TF400813: The user is not authorized to access this resource.")
			return
		}
		h(w, r)
	})
}
