// Package gitlabapitest is a strict fake of the part of GitLab's REST API
// the GitLab demand source uses, answering GitLab's JSON shapes:
//
//   - GET /api/v4/projects/:id/jobs with scope[]=pending (pending jobs);
//   - GET /api/v4/projects/:id/pipelines with status= (the pipelines of a
//     project by status);
//   - GET /api/v4/projects/:id/pipelines/:pipeline_id (one pipeline) and
//     /jobs with scope[]= (a pipeline's jobs, created ones included);
//   - GET /api/v4/groups/:id/projects (a group's projects, include_subgroups)
//     and GET /api/v4/projects (every project, last_activity_after).
//
// Every request is authenticated by PRIVATE-TOKEN and paginated with
// X-Page/X-Next-Page/X-Total headers. It rejects what GitLab rejects: a
// missing or wrong token: 401; an unknown project, group or pipeline:
// 404 (a project Jobs knows and SetPipelines does not has no pipelines); a scope, status, order or page GitLab does not know: 400; other
// methods: 405.
package gitlabapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Job is a pending job as the fake reports it.
type Job struct {
	ID   int64
	Name string
	Tags []string
}

// Server is the fake. Jobs returns the pending jobs of a project (by id or
// full path) and whether the project exists.
type Server struct {
	Token string
	Jobs  func(project string) ([]Job, bool)
	// Requests counts answered requests.
	Requests atomic.Int64
	srv      *httptest.Server

	mu        sync.Mutex
	projects  []Project            // with pipelines (SetPipelines)
	pipelines map[int64][]Pipeline // by project id
	groups    map[string][]int64   // group id or path → project ids
	asked     []string             // pipeline requests, "path?query"
}

// New starts the fake on loopback.
func New(token string, jobs func(project string) ([]Job, bool)) *Server {
	s := &Server{Token: token, Jobs: jobs}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the instance's base URL (without /api/v4).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

var validScopes = map[string]bool{
	"created": true, "pending": true, "running": true, "failed": true, "success": true,
	"canceled": true, "skipped": true, "waiting_for_resource": true, "manual": true,
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	// Go's mux would unescape %2F; GitLab takes "group%2Fproject" as one segment.
	raw := r.URL.EscapedPath()
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "405 Method Not Allowed"})
		return
	}
	if tok := r.Header.Get("PRIVATE-TOKEN"); tok == "" || tok != s.Token {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	if raw == "/api/v4/projects" {
		s.serveProjects(w, r)
		return
	}
	if rest, ok := strings.CutPrefix(raw, "/api/v4/groups/"); ok {
		gid, tail, _ := strings.Cut(rest, "/")
		if tail != "projects" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
			return
		}
		s.serveGroupProjects(w, r, gid)
		return
	}
	rest, ok := strings.CutPrefix(raw, "/api/v4/projects/")
	pid, tail, ok2 := strings.Cut(rest, "/")
	if ok && ok2 && (tail == "pipelines" || strings.HasPrefix(tail, "pipelines/")) {
		s.servePipelines(w, r, pid, strings.TrimPrefix(strings.TrimPrefix(tail, "pipelines"), "/"))
		return
	}
	if !ok || !ok2 || tail != "jobs" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	project, err := url.PathUnescape(pid)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad project id"})
		return
	}
	q := r.URL.Query()
	scopes := append(q["scope[]"], q["scope"]...)
	for _, sc := range scopes {
		if !validScopes[sc] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scope does not have a valid value"})
			return
		}
	}
	if len(scopes) != 1 || scopes[0] != "pending" {
		// The demand source must ask for pending jobs only.
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "gitlabapitest: want scope[]=pending only"})
		return
	}
	pg, ok := pageParams(w, r)
	if !ok {
		return
	}
	var jobs []Job
	exists := false
	if s.Jobs != nil {
		jobs, exists = s.Jobs(project)
	}
	if !exists {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	start, end := pg.bounds(w, len(jobs))
	out := make([]map[string]any, 0, end-start)
	for _, j := range jobs[start:end] {
		out = append(out, jobJSON(project, j))
	}
	writeJSON(w, http.StatusOK, out)
}

// page is a request's page and per_page.
type page struct{ page, perPage int }

// pageParams reads page and per_page (GitLab's defaults 1 and 20, at most
// 100 a page); false when it answered 400.
func pageParams(w http.ResponseWriter, r *http.Request) (page, bool) {
	q := r.URL.Query()
	pg := page{1, 20}
	var err error
	if v := q.Get("page"); v != "" {
		if pg.page, err = strconv.Atoi(v); err != nil || pg.page < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "page is invalid"})
			return pg, false
		}
	}
	if v := q.Get("per_page"); v != "" {
		if pg.perPage, err = strconv.Atoi(v); err != nil || pg.perPage < 1 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "per_page is invalid"})
			return pg, false
		}
		pg.perPage = min(pg.perPage, 100)
	}
	return pg, true
}

// bounds sets the pagination headers for n items and returns the page's
// bounds.
func (pg page) bounds(w http.ResponseWriter, n int) (start, end int) {
	start = min((pg.page-1)*pg.perPage, n)
	end = min(start+pg.perPage, n)
	pages := (n + pg.perPage - 1) / pg.perPage
	h := w.Header()
	h.Set("X-Page", strconv.Itoa(pg.page))
	h.Set("X-Per-Page", strconv.Itoa(pg.perPage))
	h.Set("X-Total", strconv.Itoa(n))
	h.Set("X-Total-Pages", strconv.Itoa(max(pages, 1)))
	h.Set("X-Next-Page", "")
	if end < n {
		h.Set("X-Next-Page", strconv.Itoa(pg.page+1))
	}
	return start, end
}

// jobJSON is a job in the shape of GitLab's "List project jobs" answer.
func jobJSON(project string, j Job) map[string]any {
	created := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC).Format("2006-01-02T15:04:05.000Z")
	tags := j.Tags
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{
		"commit": map[string]any{
			"author_email": "admin@example.com", "author_name": "Administrator",
			"created_at": created, "id": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd",
			"message": "Test the CI integration.", "short_id": "0ff3ae19", "title": "Test the CI integration.",
		},
		"coverage": nil, "allow_failure": false, "archived": false,
		"created_at": created, "started_at": nil, "finished_at": nil, "erased_at": nil,
		"duration": nil, "queued_duration": 3.5,
		"artifacts_file": nil, "artifacts": []any{}, "artifacts_expire_at": nil,
		"tag_list": tags, "id": j.ID, "name": j.Name,
		"pipeline": map[string]any{"id": 6, "project_id": 1, "ref": "main", "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", "status": "pending"},
		"ref":      "main", "runner": nil, "runner_manager": nil, "stage": "test", "status": "pending",
		"failure_reason": nil, "tag": false,
		"web_url": fmt.Sprintf("https://gitlab.example.com/%s/-/jobs/%d", project, j.ID),
		"project": map[string]any{"ci_job_token_scope_enabled": false},
		"user":    map[string]any{"id": 1, "name": "Administrator", "username": "root", "state": "active"},
	}
}
