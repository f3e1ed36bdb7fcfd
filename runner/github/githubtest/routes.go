package githubtest

import (
	"net/http"
	"strings"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/api/v3/orgs/{org}", "/api/v3/enterprises/{enterprise}", "/api/v3/repos/{owner}/{repo}"} {
		mux.Handle("POST "+prefix+"/actions/runners/generate-jitconfig", s.scoped(s.handleJIT))
		mux.Handle("GET "+prefix+"/actions/runners", s.scoped(s.handleListRunners))
		mux.Handle("GET "+prefix+"/actions/runners/{id}", s.scoped(s.handleGetRunner))
		mux.Handle("DELETE "+prefix+"/actions/runners/{id}", s.scoped(s.handleDeleteRunner))
		if !strings.Contains(prefix, "repos") {
			mux.Handle("GET "+prefix+"/actions/runner-groups", s.scoped(s.handleRunnerGroups))
		}
	}
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", s.handleRunJobs) // workflowjobs.go
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs", s.handleRunJobs)
	mux.HandleFunc("POST /api/v3/app/installations/{id}/access_tokens", s.handleInstallationToken)
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/releases/latest", s.handleLatestRelease) // runnerversion.go
	mux.HandleFunc("/api/v3/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	mux.HandleFunc("POST /_runfleet_test/runners/{id}/session", s.handleSessionOpen)
	mux.HandleFunc("DELETE /_runfleet_test/runners/{id}/session", s.handleSessionClose)
	mux.HandleFunc("GET /_runfleet_test/runners/{id}/job", s.handleNextJob)
	mux.HandleFunc("POST /_runfleet_test/runners/{id}/jobs/{job}/result", s.handleJobResult)
	return s.api(mux)
}

// api applies what GitHub applies to every REST call before routing:
// the API version header and injected faults.
func (s *Server) api(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v3/") {
			next.ServeHTTP(w, r)
			return
		}
		if v := r.Header.Get("X-GitHub-Api-Version"); v != "" && v != apiVersion {
			writeError(w, http.StatusBadRequest, "API version '"+v+"' is not supported.", docAuth)
			return
		}
		if f, ok := s.takeFault(r.URL.Path); ok {
			s.answerFault(w, f)
			return
		}
		next.ServeHTTP(w, r)
	})
}
