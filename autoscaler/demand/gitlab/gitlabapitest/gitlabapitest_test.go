package gitlabapitest

import (
	"net/http"
	"testing"
	"time"
)

func TestFakeRejectsWhatGitLabRejects(t *testing.T) {
	s := New("glpat-good", func(p string) ([]Job, bool) { return []Job{{ID: 1}}, p == "42" })
	defer s.Close()
	s.SetPipelines(Project{ID: 17, Path: "grp/app"}, Pipeline{ID: 100, Status: "running",
		Jobs: []PipelineJob{{ID: 1, Stage: "build", Status: "running"}, {ID: 2, Stage: "test", Status: "created"}, {ID: 3, Stage: "test", Status: "created"}}})
	s.SetGroup("grp", 17)
	cases := []struct {
		name, method, path, token string
		code                      int
		next                      string // X-Next-Page, when checked
	}{
		{"pipelines by status", "GET", "/api/v4/projects/17/pipelines?status=running", "glpat-good", 200, ""},
		{"by path", "GET", "/api/v4/projects/grp%2Fapp/pipelines?status=created", "glpat-good", 200, ""},
		{"no token", "GET", "/api/v4/projects/17/pipelines", "", 401, ""},
		{"wrong token", "GET", "/api/v4/projects/17/pipelines", "glpat-bad", 401, ""},
		{"unknown status", "GET", "/api/v4/projects/17/pipelines?status=queued", "glpat-good", 400, ""},
		{"unknown scope", "GET", "/api/v4/projects/17/pipelines?scope=created", "glpat-good", 400, ""},
		{"unknown order", "GET", "/api/v4/projects/17/pipelines?order_by=created_at", "glpat-good", 400, ""},
		{"unknown project", "GET", "/api/v4/projects/99/pipelines", "glpat-good", 404, ""},
		{"a project of the pending jobs has no pipelines", "GET", "/api/v4/projects/42/pipelines?status=running", "glpat-good", 200, ""},
		{"nor pipeline jobs", "GET", "/api/v4/projects/42/pipelines/1/jobs", "glpat-good", 404, ""},
		{"a pipeline's created jobs, paginated", "GET", "/api/v4/projects/17/pipelines/100/jobs?scope[]=created&per_page=1", "glpat-good", 200, "2"},
		{"the last page", "GET", "/api/v4/projects/17/pipelines/100/jobs?scope[]=created&per_page=1&page=2", "glpat-good", 200, ""},
		{"unknown job scope", "GET", "/api/v4/projects/17/pipelines/100/jobs?scope[]=queued", "glpat-good", 400, ""},
		{"unknown pipeline", "GET", "/api/v4/projects/17/pipelines/5/jobs", "glpat-good", 404, ""},
		{"one pipeline", "GET", "/api/v4/projects/17/pipelines/100", "glpat-good", 200, "-"},
		{"one unknown pipeline", "GET", "/api/v4/projects/17/pipelines/5", "glpat-good", 404, ""},
		{"a pipeline's unknown resource", "GET", "/api/v4/projects/17/pipelines/100/bridges/x", "glpat-good", 404, ""},
		{"bad page", "GET", "/api/v4/projects/17/pipelines/100/jobs?page=0", "glpat-good", 400, ""},
		{"a group's projects", "GET", "/api/v4/groups/grp/projects?include_subgroups=true", "glpat-good", 200, ""},
		{"bad boolean", "GET", "/api/v4/groups/grp/projects?include_subgroups=yes", "glpat-good", 400, ""},
		{"unknown group", "GET", "/api/v4/groups/nope/projects", "glpat-good", 404, ""},
		{"projects by activity", "GET", "/api/v4/projects?last_activity_after=2026-11-22T12:00:00Z", "glpat-good", 200, ""},
		{"bad time", "GET", "/api/v4/projects?last_activity_after=yesterday", "glpat-good", 400, ""},
		{"pending jobs still want pending only", "GET", "/api/v4/projects/42/jobs?scope[]=created", "glpat-good", 400, ""},
		{"writes are refused", "POST", "/api/v4/projects/17/pipelines", "glpat-good", 405, ""},
	}
	c := &http.Client{Timeout: 30 * time.Second}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, s.URL()+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.token != "" {
				req.Header.Set("PRIVATE-TOKEN", tc.token)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.code)
			}
			if tc.code == 200 && tc.next != "-" { // "-": not a list, not paginated
				if resp.Header.Get("X-Total") == "" || resp.Header.Get("X-Page") == "" {
					t.Errorf("no pagination headers: %v", resp.Header)
				}
				if got := resp.Header.Get("X-Next-Page"); got != tc.next {
					t.Errorf("X-Next-Page %q, want %q", got, tc.next)
				}
			}
		})
	}
}
