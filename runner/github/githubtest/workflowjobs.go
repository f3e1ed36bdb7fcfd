package githubtest

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// handleRunJobs serves GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs
// and …/runs/{run_id}/attempts/{attempt}/jobs: the jobs of a workflow run
// attempt (every run of the fake has one attempt), in GitHub's shape.
// Reading a repository's jobs needs a credential for the repository or
// its owner organization; an unknown repository or run is 404.
func (s *Server) handleRunJobs(w http.ResponseWriter, r *http.Request) {
	cred, tok, ok := s.authenticate(w, r)
	if !ok || !s.spend(w, tok) {
		return
	}
	owner, repo := r.PathValue("owner"), r.PathValue("repo")
	full := owner + "/" + repo
	runID, err := strconv.ParseInt(r.PathValue("run_id"), 10, 64)
	if err != nil {
		notFound(w)
		return
	}
	attempt := int64(1)
	if a := r.PathValue("attempt"); a != "" {
		if attempt, err = strconv.ParseInt(a, 10, 64); err != nil {
			notFound(w)
			return
		}
	}
	if f := r.URL.Query().Get("filter"); f != "" && f != "latest" && f != "all" {
		invalid(w, fmt.Sprintf("filter %q is not a member of [latest, all]", f))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repos[full] == nil {
		notFound(w)
		return
	}
	if !cred.covers("repos/"+full) && !cred.covers("orgs/"+owner) {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration", docRunners)
		return
	}
	jobs := []map[string]any{}
	for _, id := range s.order {
		j := s.jobs[id]
		if j.Repo == full && j.RunID == runID {
			jobs = append(jobs, s.restJobLocked(j))
		}
	}
	if len(jobs) == 0 || attempt != 1 {
		notFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(jobs), "jobs": jobs})
}

// restJobLocked renders a job as the REST API does (fields GitHub sends
// as null stay null).
func (s *Server) restJobLocked(j *Job) map[string]any {
	ts := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	orNil := func(ok bool, v any) any {
		if !ok {
			return nil
		}
		return v
	}
	assigned := j.RunnerID != 0
	api := s.URL() + "/api/v3"
	return map[string]any{
		"id": j.ID, "run_id": j.RunID, "run_attempt": 1, "node_id": fmt.Sprintf("CR_kwDO%d", j.ID),
		"head_sha": "3484a3fb816e0859fd6e1cea078d76385ff50625", "head_branch": "main",
		"url":      fmt.Sprintf("%s/repos/%s/actions/jobs/%d", api, j.Repo, j.ID),
		"run_url":  fmt.Sprintf("%s/repos/%s/actions/runs/%d", api, j.Repo, j.RunID),
		"html_url": fmt.Sprintf("%s/%s/actions/runs/%d/job/%d", s.URL(), j.Repo, j.RunID, j.ID),
		"status":   j.Status, "conclusion": orNil(j.Status == "completed", j.Conclusion),
		"created_at": ts(j.QueuedAt), "started_at": ts(j.StartedAt), "completed_at": ts(j.CompletedAt),
		"name": j.Name, "steps": []any{}, "labels": j.Labels, "workflow_name": "CI",
		"runner_id": orNil(assigned, j.RunnerID), "runner_name": orNil(assigned, j.RunnerName),
		"runner_group_id": orNil(assigned, j.RunnerGroupID), "runner_group_name": orNil(assigned, j.RunnerGroupName),
	}
}
