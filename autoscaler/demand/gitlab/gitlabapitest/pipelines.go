package gitlabapitest

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Project is a project of the fake: its numeric id and full path.
type Project struct {
	ID   int64
	Path string // "group/project"
	// LastActivity is what last_activity_after compares (zero: now).
	LastActivity time.Time
}

// Pipeline is a pipeline of a project with its jobs.
type Pipeline struct {
	ID      int64
	Name    string // workflow:name, often empty
	Source  string // push, merge_request_event, schedule, …; "" is push
	Ref     string // "" is main
	Status  string // created, pending, running, success, failed, …
	Created time.Time
	Jobs    []PipelineJob
}

// PipelineJob is a job of a pipeline. Jobs of later stages wait in
// created until the earlier stages are done.
type PipelineJob struct {
	ID     int64
	Name   string
	Stage  string
	Status string // created, pending, running, success, failed, canceled, …
	Tags   []string
	// Created, Started and Finished are the job's times (zero: null);
	// QueuedDuration is the seconds it waited in pending.
	Created, Started, Finished time.Time
	QueuedDuration             float64
}

// pipelineStatuses are the values GitLab accepts for status=.
var pipelineStatuses = map[string]bool{
	"created": true, "waiting_for_resource": true, "preparing": true, "pending": true, "running": true,
	"success": true, "failed": true, "canceled": true, "skipped": true, "manual": true, "scheduled": true,
}

// SetPipelines replaces the pipelines of project p (creating it).
func (s *Server) SetPipelines(p Project, pipelines ...Pipeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pipelines == nil {
		s.pipelines = map[int64][]Pipeline{}
	}
	i := slices.IndexFunc(s.projects, func(q Project) bool { return q.ID == p.ID })
	if i < 0 {
		s.projects = append(s.projects, p)
	} else {
		s.projects[i] = p
	}
	s.pipelines[p.ID] = slices.Clone(pipelines)
}

// SetGroup makes the projects (by id) those of group (id or full path).
func (s *Server) SetGroup(group string, projectIDs ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups == nil {
		s.groups = map[string][]int64{}
	}
	s.groups[group] = projectIDs
}

// PipelineRequests lists the pipeline and project requests answered,
// as "path?query".
func (s *Server) PipelineRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// project finds a project by id or full path. The caller holds s.mu.
func (s *Server) project(key string) (Project, bool) {
	for _, p := range s.projects {
		if strconv.FormatInt(p.ID, 10) == key || p.Path == key {
			return p, true
		}
	}
	return Project{}, false
}

func (s *Server) record(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
}

// servePipelines answers GET /projects/:id/pipelines (rest ""), GET
// /projects/:id/pipelines/:pipeline_id and GET
// /projects/:id/pipelines/:pipeline_id/jobs.
func (s *Server) servePipelines(w http.ResponseWriter, r *http.Request, pid, rest string) {
	s.record(r)
	key, err := url.PathUnescape(pid)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad project id"})
		return
	}
	q := r.URL.Query()
	var pipelineID int64
	single := false
	if rest != "" {
		id, tail, _ := strings.Cut(rest, "/")
		single = tail == ""
		if tail != "jobs" && !single {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
			return
		}
		if pipelineID, err = strconv.ParseInt(id, 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "pipeline_id is invalid"})
			return
		}
		for _, sc := range append(q["scope[]"], q["scope"]...) {
			if !validScopes[sc] {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scope does not have a valid value"})
				return
			}
		}
	} else {
		if v := q.Get("status"); v != "" && !pipelineStatuses[v] {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "status does not have a valid value"})
			return
		}
		if v := q.Get("scope"); v != "" && !slices.Contains([]string{"running", "pending", "finished", "branches", "tags"}, v) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "scope does not have a valid value"})
			return
		}
		if v := q.Get("order_by"); v != "" && !slices.Contains([]string{"id", "status", "ref", "updated_at", "user_id"}, v) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "order_by does not have a valid value"})
			return
		}
		if v := q.Get("sort"); v != "" && v != "asc" && v != "desc" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "sort does not have a valid value"})
			return
		}
	}
	pg, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	p, found := s.project(key)
	all := slices.Clone(s.pipelines[p.ID])
	s.mu.Unlock()
	if !found && s.Jobs != nil {
		// A project of the pending-jobs fake: it exists, without
		// pipelines.
		if _, found = s.Jobs(key); found {
			p.ID, _ = strconv.ParseInt(key, 10, 64)
			p.Path = key
		}
	}
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	if rest == "" {
		var listed []Pipeline
		for _, pl := range all {
			if v := q.Get("status"); v == "" || pl.Status == v {
				listed = append(listed, pl)
			}
		}
		// GitLab's default order: id descending.
		slices.SortFunc(listed, func(a, b Pipeline) int { return int(b.ID - a.ID) })
		start, end := pg.bounds(w, len(listed))
		out := make([]map[string]any, 0, end-start)
		for _, pl := range listed[start:end] {
			out = append(out, pipelineJSON(p, pl))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	i := slices.IndexFunc(all, func(pl Pipeline) bool { return pl.ID == pipelineID })
	if i < 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
		return
	}
	if single {
		// "Get a single pipeline": the listing's fields and a few more.
		out := pipelineJSON(p, all[i])
		maps.Copy(out, map[string]any{"before_sha": "0000000000000000000000000000000000000000", "tag": false,
			"yaml_errors": nil, "user": map[string]any{"id": 1, "name": "Administrator", "username": "root", "state": "active"},
			"started_at": nil, "finished_at": nil, "committed_at": nil, "duration": nil, "queued_duration": nil, "coverage": nil})
		writeJSON(w, http.StatusOK, out)
		return
	}
	scopes := append(q["scope[]"], q["scope"]...)
	var jobs []PipelineJob
	for _, j := range all[i].Jobs {
		if len(scopes) == 0 || slices.Contains(scopes, j.Status) {
			jobs = append(jobs, j)
		}
	}
	start, end := pg.bounds(w, len(jobs))
	out := make([]map[string]any, 0, end-start)
	for _, j := range jobs[start:end] {
		out = append(out, pipelineJobJSON(p, all[i], j))
	}
	writeJSON(w, http.StatusOK, out)
}

// serveGroupProjects answers GET /groups/:id/projects.
func (s *Server) serveGroupProjects(w http.ResponseWriter, r *http.Request, gid string) {
	s.record(r)
	group, err := url.PathUnescape(gid)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad group id"})
		return
	}
	if !boolParams(w, r, "include_subgroups", "archived") {
		return
	}
	pg, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	ids, found := s.groups[group]
	var projects []Project
	for _, id := range ids {
		if p, ok := s.project(strconv.FormatInt(id, 10)); ok {
			projects = append(projects, p)
		}
	}
	s.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Group Not Found"})
		return
	}
	start, end := pg.bounds(w, len(projects))
	out := make([]map[string]any, 0, end-start)
	for _, p := range projects[start:end] {
		out = append(out, projectJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// serveProjects answers GET /projects (every project the token sees).
func (s *Server) serveProjects(w http.ResponseWriter, r *http.Request) {
	s.record(r)
	if !boolParams(w, r, "archived") {
		return
	}
	var after time.Time
	if v := r.URL.Query().Get("last_activity_after"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "last_activity_after is invalid"})
			return
		}
		after = t
	}
	pg, ok := pageParams(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var projects []Project
	for _, p := range s.projects {
		if p.LastActivity.IsZero() || p.LastActivity.After(after) {
			projects = append(projects, p)
		}
	}
	s.mu.Unlock()
	start, end := pg.bounds(w, len(projects))
	out := make([]map[string]any, 0, end-start)
	for _, p := range projects[start:end] {
		out = append(out, projectJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

// boolParams answers 400 when a boolean parameter is neither true nor
// false.
func boolParams(w http.ResponseWriter, r *http.Request, names ...string) bool {
	for _, n := range names {
		if v := r.URL.Query().Get(n); v != "" && v != "true" && v != "false" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": n + " is invalid"})
			return false
		}
	}
	return true
}

// apiTime is GitLab's API time format, or JSON null for a zero time.
func apiTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

func projectJSON(p Project) map[string]any {
	name := p.Path
	if i := strings.LastIndex(p.Path, "/"); i >= 0 {
		name = p.Path[i+1:]
	}
	return map[string]any{
		"id": p.ID, "name": name, "path": name, "path_with_namespace": p.Path, "name_with_namespace": p.Path,
		"default_branch": "main", "visibility": "private", "archived": false,
		"web_url":          "https://gitlab.example.com/" + p.Path,
		"last_activity_at": apiTime(p.LastActivity), "created_at": "2026-01-05T09:00:00.000Z",
	}
}

// pipelineJSON is a pipeline in the shape of "List project pipelines".
func pipelineJSON(p Project, pl Pipeline) map[string]any {
	source, ref := pl.Source, pl.Ref
	if source == "" {
		source = "push"
	}
	if ref == "" {
		ref = "main"
	}
	return map[string]any{
		"id": pl.ID, "iid": pl.ID, "project_id": p.ID, "status": pl.Status, "source": source, "ref": ref,
		"sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", "name": nullable(pl.Name),
		"web_url":    fmt.Sprintf("https://gitlab.example.com/%s/-/pipelines/%d", p.Path, pl.ID),
		"created_at": apiTime(pl.Created), "updated_at": apiTime(pl.Created),
	}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// pipelineJobJSON is a job in the shape of "List pipeline jobs".
func pipelineJobJSON(p Project, pl Pipeline, j PipelineJob) map[string]any {
	job := jobJSON(p.Path, Job{ID: j.ID, Name: j.Name, Tags: j.Tags})
	var duration any
	if !j.Started.IsZero() && !j.Finished.IsZero() {
		duration = j.Finished.Sub(j.Started).Seconds()
	}
	var queued any
	if j.Status != "created" {
		queued = j.QueuedDuration
	}
	maps.Copy(job, map[string]any{
		"stage": j.Stage, "status": j.Status, "created_at": apiTime(j.Created), "started_at": apiTime(j.Started),
		"finished_at": apiTime(j.Finished), "duration": duration, "queued_duration": queued,
		"pipeline": map[string]any{"id": pl.ID, "project_id": p.ID, "ref": job["ref"], "sha": "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd", "status": pl.Status},
	})
	return job
}
