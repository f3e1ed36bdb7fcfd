package gitlabtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const runnerToken = "glrt-test-runner-token"

var features = map[string]bool{"two_phase_job_commit": true, "trace_checksum": true, "cancel_gracefully": true}

type client struct {
	t   *testing.T
	srv *Server
}

func (c client) do(method, path string, body []byte, hdr ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+"/api/v4/"+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "gitlabtest-test")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (c client) request(lastUpdate string) (*http.Response, map[string]any) {
	c.t.Helper()
	resp, b := c.do("POST", "jobs/request", mustJSON(map[string]any{
		"token": runnerToken, "system_id": "s_0123456789ab", "last_update": lastUpdate,
		"info": map[string]any{"features": features},
	}))
	var job map[string]any
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(b, &job); err != nil {
			c.t.Fatal(err)
		}
	}
	return resp, job
}

func newFake(t *testing.T) (*Server, client) {
	srv := New(t, WithLongPollHold(500*time.Millisecond), WithViolationsAllowed())
	srv.AddRunner(runnerToken)
	return srv, client{t, srv}
}

func TestRequestJobAuthAndBody(t *testing.T) {
	_, c := newFake(t)
	tests := []struct {
		name string
		body string
		want int
	}{
		{"malformed", `{"token":`, http.StatusBadRequest},
		{"no token", `{"info":{}}`, http.StatusBadRequest},
		{"bad system id", `{"token":"` + runnerToken + `","system_id":"x"}`, http.StatusBadRequest},
		{"unknown token", `{"token":"glrt-nope"}`, http.StatusForbidden},
		{"ok, no job", `{"token":"` + runnerToken + `"}`, http.StatusNoContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := c.do("POST", "jobs/request", []byte(tt.body))
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.want)
			}
		})
	}
}

func TestLongPollHoldsAndWakes(t *testing.T) {
	srv, c := newFake(t)
	resp, _ := c.request("")
	last := resp.Header.Get("X-GitLab-Last-Update")
	start := time.Now()
	resp, _ = c.request(last)
	if resp.StatusCode != http.StatusNoContent || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("not held: %d after %v", resp.StatusCode, time.Since(start))
	}
	time.AfterFunc(100*time.Millisecond, func() { srv.Enqueue(JobSpec{Script: []string{"true"}}) })
	start = time.Now()
	resp, _ = c.request(resp.Header.Get("X-GitLab-Last-Update"))
	if resp.StatusCode != http.StatusNoContent || time.Since(start) > 400*time.Millisecond {
		t.Fatalf("enqueue did not wake the poll: %d after %v", resp.StatusCode, time.Since(start))
	}
	if resp, job := c.request(resp.Header.Get("X-GitLab-Last-Update")); resp.StatusCode != http.StatusCreated || job["token"] == "" {
		t.Fatalf("job not handed out: %d", resp.StatusCode)
	}
}

// TestJobLifecycleStrictness walks one job through accept, trace and final
// update, checking what the fake refuses on the way.
func TestJobLifecycleStrictness(t *testing.T) {
	srv, c := newFake(t)
	id := srv.Enqueue(JobSpec{Script: []string{"true"}})
	_, job := c.request("")
	tok := job["token"].(string)
	path := fmt.Sprintf("jobs/%d", id)
	put := func(body map[string]any) int {
		resp, _ := c.do("PUT", path, mustJSON(body))
		return resp.StatusCode
	}
	patch := func(rng, data string, token string) *http.Response {
		resp, _ := c.do("PATCH", path+"/trace", []byte(data), "JOB-TOKEN", token, "Content-Range", rng, "Content-Type", "text/plain")
		return resp
	}
	if got := srv.Job(id).State; got != StatePending {
		t.Fatalf("two-phase job is %s before accept", got)
	}
	if code := patch("0-4", "hello", tok).StatusCode; code != http.StatusForbidden {
		t.Errorf("trace before accept: %d", code)
	}
	if code := put(map[string]any{"token": "wrong", "state": "running"}); code != http.StatusForbidden {
		t.Errorf("wrong job token: %d", code)
	}
	if code := put(map[string]any{"token": tok, "state": "bogus"}); code != http.StatusBadRequest {
		t.Errorf("invalid state: %d", code)
	}
	if code := put(map[string]any{"token": tok, "state": "running"}); code != http.StatusOK {
		t.Fatalf("accept: %d", code)
	}
	if resp := patch("0-4", "hello", tok); resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-5" {
		t.Fatalf("patch: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := patch("3-5", "abc", tok); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Range") != "0-5" {
		t.Errorf("gap/overlap not refused: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if code := patch("5-9", " x", tok).StatusCode; code != http.StatusBadRequest {
		t.Errorf("range not matching body: %d", code)
	}
	if code := patch("5-6", " x", "").StatusCode; code != http.StatusForbidden {
		t.Errorf("no job token: %d", code)
	}
	good := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE([]byte("hello")))
	final := func(sum string, size int, reason string) int {
		return put(map[string]any{"token": tok, "state": "failed", "failure_reason": reason, "exit_code": 2,
			"output": map[string]any{"checksum": sum, "bytesize": size}})
	}
	if code := final("crc32:00000000", 5, "script_failure"); code != http.StatusPreconditionFailed {
		t.Errorf("bad checksum: %d", code)
	}
	if code := final(good, 5, "made_up_reason"); code != http.StatusBadRequest {
		t.Errorf("unlisted failure reason: %d", code)
	}
	if code := final(good, 5, "script_failure"); code != http.StatusOK {
		t.Fatalf("final: %d", code)
	}
	if code := final(good, 5, "script_failure"); code != http.StatusForbidden {
		t.Errorf("second final: %d", code)
	}
	rec := srv.Job(id)
	if rec.State != StateFailed || rec.FinalUpdates != 1 || rec.RejectedFinalUpdates != 1 || !rec.TraceChecksumOK || string(rec.Trace) != "hello" || *rec.ExitCode != 2 {
		t.Errorf("record: %+v", rec)
	}
	if len(srv.Violations()) < 3 {
		t.Errorf("violations not recorded: %v", srv.Violations())
	}
}

func TestGitNeedsRunningJobToken(t *testing.T) {
	srv, c := newFake(t)
	sha := srv.AddRepo(t, "group/project", map[string]string{"a.txt": "A\n"})
	id := srv.Enqueue(JobSpec{Script: []string{"true"}})
	_, job := c.request("")
	repoURL := job["git_info"].(map[string]any)["repo_url"].(string)
	clone := func(url string) error {
		dir := filepath.Join(t.TempDir(), "c")
		cmd := exec.Command("git", "clone", "-q", url, dir)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		out, err := cmd.CombinedOutput()
		if err == nil {
			b, _ := os.ReadFile(filepath.Join(dir, "a.txt"))
			if string(b) != "A\n" {
				return fmt.Errorf("clone content %q", b)
			}
		}
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := clone(repoURL); err == nil {
		t.Error("clone with the token of a job not yet accepted succeeded")
	}
	c.do("PUT", fmt.Sprintf("jobs/%d", id), mustJSON(map[string]any{"token": job["token"], "state": "running"}))
	if err := clone(repoURL); err != nil {
		t.Fatalf("clone with a running job's token: %v", err)
	}
	if err := clone(strings.Replace(repoURL, job["token"].(string), "glcbt-wrong", 1)); err == nil {
		t.Error("clone with a wrong token succeeded")
	}
	if job["git_info"].(map[string]any)["sha"] != sha {
		t.Errorf("payload sha %v, want %s", job["git_info"], sha)
	}
}
