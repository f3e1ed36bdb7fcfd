package gitlabtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"testing"
	"time"
)

const (
	runnerToken = "glrt-test-runner-token"
	systemID    = "s_0123456789ab"
)

func allFeatures() map[string]bool {
	return map[string]bool{
		"variables": true, "image": true, "services": true, "artifacts": true, "cache": true,
		"fallback_cache_keys": true, "upload_multiple_artifacts": true, "refspecs": true,
		"masking": true, "artifacts_exclude": true, "multi_build_steps": true, "trace_reset": true,
		"trace_checksum": true, "trace_size": true, "cancelable": true, "return_exit_code": true,
		"cancel_gracefully": true, "two_phase_job_commit": true,
	}
}

// client is a minimal, hand-written runner for exercising the fake.
type client struct {
	t        *testing.T
	srv      *Server
	features map[string]bool
}

func newFake(t *testing.T, opts ...Option) (*Server, *client) {
	t.Helper()
	opts = append([]Option{WithLongPollHold(500 * time.Millisecond), WithViolationsAllowed()}, opts...)
	srv := New(t, opts...)
	srv.AddRunner(runnerToken)
	return srv, &client{t: t, srv: srv, features: allFeatures()}
}

func (c *client) do(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.srv.URL()+"/api/v4/"+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "gitlabtest-test/1.0")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// request polls for a job; the map is the decoded payload on 201.
func (c *client) request(lastUpdate string) (*http.Response, map[string]any) {
	c.t.Helper()
	resp, b := c.do("POST", "jobs/request", mustJSON(c.t, map[string]any{
		"token": runnerToken, "system_id": systemID, "last_update": lastUpdate,
		"info": map[string]any{"name": "test", "version": "1.0", "features": c.features},
	}))
	var job map[string]any
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &job); err != nil {
			c.t.Fatal(err)
		}
	}
	return resp, job
}

// take requests a job that must be there and returns its id and token.
func (c *client) take() (int64, string) {
	c.t.Helper()
	resp, job := c.request("")
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("jobs/request: %d, want 201", resp.StatusCode)
	}
	return int64(job["id"].(float64)), job["token"].(string)
}

func (c *client) put(id int64, body map[string]any) *http.Response {
	c.t.Helper()
	resp, _ := c.do("PUT", fmt.Sprintf("jobs/%d", id), mustJSON(c.t, body))
	return resp
}

func (c *client) patch(id int64, token, contentRange, data string) *http.Response {
	c.t.Helper()
	resp, _ := c.do("PATCH", fmt.Sprintf("jobs/%d/trace", id), []byte(data),
		"JOB-TOKEN", token, "Content-Range", contentRange, "Content-Type", "text/plain")
	return resp
}

func finalBody(token, state, reason string, log string) map[string]any {
	return map[string]any{"token": token, "state": state, "failure_reason": reason, "exit_code": 1,
		"output": map[string]any{"checksum": fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte(log))), "bytesize": len(log)}}
}

func TestRequestJobValidation(t *testing.T) {
	_, c := newFake(t)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"malformed", `{"token":`, http.StatusBadRequest},
		{"trailing data", `{"token":"x"} {}`, http.StatusBadRequest},
		{"no token", `{"system_id":"` + systemID + `","info":{}}`, http.StatusBadRequest},
		{"no system id", `{"token":"` + runnerToken + `"}`, http.StatusBadRequest},
		{"bad system id", `{"token":"` + runnerToken + `","system_id":"s_XYZ"}`, http.StatusBadRequest},
		{"unknown token", `{"token":"glrt-nope","system_id":"` + systemID + `"}`, http.StatusForbidden},
		{"no job", `{"token":"` + runnerToken + `","system_id":"r_0123456789ab"}`, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := c.do("POST", "jobs/request", []byte(tt.body))
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
			if tt.want == http.StatusNoContent && resp.Header.Get("X-GitLab-Last-Update") == "" {
				t.Error("204 without X-GitLab-Last-Update")
			}
		})
	}
}

func TestLongPollHoldsAndWakes(t *testing.T) {
	srv, c := newFake(t)
	resp, _ := c.request("")
	last := resp.Header.Get("X-GitLab-Last-Update")
	if last == "" {
		t.Fatal("no X-GitLab-Last-Update")
	}

	start := time.Now()
	resp, _ = c.request(last)
	if resp.StatusCode != http.StatusNoContent || time.Since(start) < 450*time.Millisecond {
		t.Fatalf("not held: %d after %v", resp.StatusCode, time.Since(start))
	}

	timer := time.AfterFunc(100*time.Millisecond, func() { srv.Enqueue(JobSpec{Script: []string{"true"}}) })
	defer timer.Stop()
	start = time.Now()
	resp, _ = c.request(last)
	if resp.StatusCode != http.StatusNoContent || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("enqueue did not wake the poll: %d after %v", resp.StatusCode, time.Since(start))
	}
	if h := resp.Header.Get("X-GitLab-Last-Update"); h != "" {
		t.Errorf("held 204 carries X-GitLab-Last-Update %q; Workhorse sends none", h)
	}
	resp, job := c.request(last)
	if resp.StatusCode != http.StatusCreated || job["token"] == "" {
		t.Fatalf("job not handed out on re-poll: %d", resp.StatusCode)
	}
	if h := resp.Header.Get("X-GitLab-Last-Update"); h != "" {
		t.Errorf("201 carries X-GitLab-Last-Update %q", h)
	}
}

func TestPayloadShape(t *testing.T) {
	srv, c := newFake(t)
	sha := srv.AddRepo(t, "group/project", map[string]string{"a.txt": "A\n"})
	id := srv.Enqueue(JobSpec{
		Name: "build", BeforeScript: []string{"echo before"}, Script: []string{"echo main"},
		AfterScript: []string{"echo after"},
		Image:       &Image{Name: "alpine:3", Entrypoint: []string{""}},
		Services:    []Image{{Name: "postgres:16", Alias: "db,postgres"}},
		Variables:   []Variable{{Key: "GIT_DEPTH", Value: "3", Public: true}, {Key: "SECRET", Value: "s3cret", Masked: true}},
		Cache:       []Cache{{Key: "k", Paths: []string{"vendor"}}},
		Artifacts:   []Artifact{{Paths: []string{"out"}}},
	})
	resp, b := c.do("POST", "jobs/request", mustJSON(t, map[string]any{
		"token": runnerToken, "system_id": systemID, "info": map[string]any{"features": allFeatures()}}))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var p struct {
		ID      int64  `json:"id"`
		Token   string `json:"token"`
		GitInfo struct {
			RepoURL  string   `json:"repo_url"`
			SHA      string   `json:"sha"`
			Refspecs []string `json:"refspecs"`
			Depth    int      `json:"depth"`
		} `json:"git_info"`
		RunnerInfo struct {
			Timeout int `json:"timeout"`
		} `json:"runner_info"`
		Steps []struct {
			Name   string   `json:"name"`
			Script []string `json:"script"`
			When   string   `json:"when"`
		} `json:"steps"`
		Variables []struct {
			Key    string `json:"key"`
			Value  string `json:"value"`
			Masked bool   `json:"masked"`
		} `json:"variables"`
		Features struct {
			FailureReasons []string `json:"failure_reasons"`
		} `json:"features"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("http://gitlab-ci-token:%s@%s/group/project.git", p.Token, srv.URL()[len("http://"):])
	vars := map[string]string{}
	masked := map[string]bool{}
	for _, v := range p.Variables {
		vars[v.Key], masked[v.Key] = v.Value, v.Masked
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"id", p.ID == id},
		{"token prefix", len(p.Token) > 6 && p.Token[:6] == "glcbt-"},
		{"repo_url", p.GitInfo.RepoURL == want},
		{"sha", p.GitInfo.SHA == sha},
		{"depth from GIT_DEPTH", p.GitInfo.Depth == 3},
		{"refspecs", len(p.GitInfo.Refspecs) == 2 && p.GitInfo.Refspecs[1] == "+refs/heads/main:refs/remotes/origin/main"},
		{"timeout", p.RunnerInfo.Timeout == 3600},
		{"steps", len(p.Steps) == 2 && p.Steps[0].Name == "script" && len(p.Steps[0].Script) == 2 && p.Steps[1].When == "always"},
		{"CI_JOB_TOKEN masked", vars["CI_JOB_TOKEN"] == p.Token && masked["CI_JOB_TOKEN"]},
		{"CI_PROJECT_DIR absent", vars["CI_PROJECT_DIR"] == ""},
		{"CI_SERVER_URL", vars["CI_SERVER_URL"] == srv.URL()},
		{"user variable", vars["SECRET"] == "s3cret" && masked["SECRET"]},
		{"failure reasons", len(p.Features.FailureReasons) == len(DefaultFailureReasons())},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("payload %s wrong:\n%s", ch.name, b)
		}
	}
}

func TestUnsupportedFeatureFailsJob(t *testing.T) {
	tests := []struct {
		name    string
		spec    JobSpec
		feature string
	}{
		{"exclude", JobSpec{Artifacts: []Artifact{{Paths: []string{"a"}, Exclude: []string{"a/b"}}}}, "artifacts_exclude"},
		{"fallback keys", JobSpec{Cache: []Cache{{Key: "k", FallbackKeys: []string{"f"}}}}, "fallback_cache_keys"},
		{"release", JobSpec{Release: []string{"release-cli"}}, "multi_build_steps"},
		{"exit codes", JobSpec{AllowFailureExitCodes: []int{3}}, "return_exit_code"},
		{"reports", JobSpec{Artifacts: []Artifact{{Paths: []string{"r.xml"}, ArtifactType: "junit", ArtifactFormat: "gzip"}}}, "upload_multiple_artifacts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newFake(t)
			delete(c.features, tt.feature)
			id := srv.Enqueue(tt.spec)
			if resp, _ := c.request(""); resp.StatusCode != http.StatusNoContent {
				t.Fatalf("status %d, want 204", resp.StatusCode)
			}
			if rec := srv.Job(id); rec.State != StateFailed || rec.FailureReason != "runner_unsupported" {
				t.Errorf("job %s/%s, want failed/runner_unsupported", rec.State, rec.FailureReason)
			}
		})
	}
}

func TestTagsSelectRunner(t *testing.T) {
	srv, c := newFake(t)
	srv.AddRunner("glrt-gpu", "gpu")
	id := srv.Enqueue(JobSpec{Tags: []string{"gpu"}})
	if resp, _ := c.request(""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("untagged runner got a gpu job: %d", resp.StatusCode)
	}
	resp, b := c.do("POST", "jobs/request", mustJSON(t, map[string]any{"token": "glrt-gpu", "system_id": systemID}))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("gpu runner: %d %s", resp.StatusCode, b)
	}
	if rec := srv.Job(id); rec.Token == "" || rec.State != StateRunning {
		t.Errorf("job %+v", rec)
	}
}

func TestRateLimit(t *testing.T) {
	_, c := newFake(t, WithJobRequestRateLimit(3))
	var codes []int
	for range 4 {
		resp, _ := c.request("")
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if fmt.Sprint(codes) != "[204 204 204 429]" {
		t.Errorf("codes %v", codes)
	}
}
