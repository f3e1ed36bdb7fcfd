package gitlab

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
)

const hookToken = "hook-secret-3f9a"

// hookPayload is GitLab's recorded Pipeline Hook (testdata/README.md)
// with its status set.
func hookPayload(t *testing.T, status string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pipeline_hook.json"))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Replace(b, []byte(`"status": "success",
    "detailed_status"`), []byte(`"status": "`+status+`",
    "detailed_status"`), 1)
}

// otherProject moves a payload to project 2 (gitlab-org/other).
func otherProject(t *testing.T, body []byte) []byte {
	t.Helper()
	out := bytes.Replace(body, []byte("\"project\": {\n    \"id\": 1,"), []byte("\"project\": {\n    \"id\": 2,"), 1)
	out = bytes.ReplaceAll(out, []byte(`"path_with_namespace": "gitlab-org/gitlab-test"`), []byte(`"path_with_namespace": "gitlab-org/other"`))
	if bytes.Equal(out, body) {
		t.Fatal("the fixture's project was not replaced")
	}
	return out
}

func deliverHook(h http.Handler, method, token, event string, body []byte) int {
	req := httptest.NewRequest(method, "/gitlab/pipelines", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Gitlab-Token", token)
	}
	if event != "" {
		req.Header.Set("X-Gitlab-Event", event)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

func TestPipelineHook(t *testing.T) {
	running := hookPayload(t, "running")
	if bytes.Equal(running, hookPayload(t, "success")) {
		t.Fatal("the fixture's status was not replaced")
	}
	const started = "run-started -324419792s gitlab:1 merge_request_event 31  "
	cases := []struct {
		name          string
		method, token string
		event         string
		body          []byte
		code          int
		result        string
		fed           []string
		queued        bool
	}{
		{"a running pipeline starts its run", "POST", hookToken, "Pipeline Hook", running, 202, "ok", []string{started}, true},
		{"a finished one starts nothing, is listed", "POST", hookToken, "Pipeline Hook", hookPayload(t, "success"), 202, "ok", nil, true},
		{"wrong token", "POST", "hook-secret-3f9b", "Pipeline Hook", running, 401, "bad_token", nil, false},
		{"no token", "POST", "", "Pipeline Hook", running, 401, "bad_token", nil, false},
		{"another event", "POST", hookToken, "Push Hook", []byte(`{"object_kind":"push"}`), 204, "ignored", nil, false},
		{"not JSON", "POST", hookToken, "Pipeline Hook", []byte("{"), 400, "bad_payload", nil, false},
		{"no pipeline id", "POST", hookToken, "Pipeline Hook", []byte(`{"object_kind":"pipeline","object_attributes":{"status":"running"},"project":{"id":1}}`), 400, "bad_payload", nil, false},
		{"too large", "POST", hookToken, "Pipeline Hook", bytes.Repeat([]byte(" "), MaxHookBody+1), 413, "too_large", nil, false},
		{"GET", "GET", hookToken, "Pipeline Hook", nil, 405, "bad_request", nil, false},
		{"a project not watched", "POST", hookToken, "Pipeline Hook", otherProject(t, running), 202, "unwatched", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t0)
			s, err := New(Options{BaseURL: "http://127.0.0.1:1", Token: "glpat-good", Projects: []string{"1"}, Forecast: rec, Now: func() time.Time { return t0 }})
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			h, err := s.NewPipelineHook(hookToken, reg)
			if err != nil {
				t.Fatal(err)
			}
			if code := deliverHook(h, tc.method, tc.token, tc.event, tc.body); code != tc.code {
				t.Fatalf("code %d, want %d", code, tc.code)
			}
			if n := testutil.ToFloat64(h.deliveries.WithLabelValues(tc.result)); n != 1 {
				t.Errorf("deliveries{%s} = %v", tc.result, n)
			}
			if got := rec.take(); strings.Join(got, "\n") != strings.Join(tc.fed, "\n") {
				t.Errorf("fed %q, want %q", got, tc.fed)
			}
			if got := len(s.refresh) == 1; got != tc.queued {
				t.Errorf("listing asked: %v, want %v", got, tc.queued)
			}
			// A repeated delivery changes nothing more.
			if tc.code == 202 {
				deliverHook(h, tc.method, tc.token, tc.event, tc.body)
				if got := rec.take(); len(got) != 0 {
					t.Errorf("the repeat fed %q", got)
				}
			}
		})
	}
	rec := newRecorder(t0)
	s, err := New(Options{BaseURL: "http://127.0.0.1:1", Token: "t", Projects: []string{"1"}, Forecast: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewPipelineHook("", nil); err == nil {
		t.Error("a hook without a token was made")
	}
}

// TestPipelineHookListsAtOnce: RunPipelines lists a hooked pipeline's
// jobs without waiting for its next pass.
func TestPipelineHookListsAtOnce(t *testing.T) {
	fake := gitlabapitest.New("glpat-good", nil)
	defer fake.Close()
	rec := newRecorder(t0)
	clock := &testClock{t: t0}
	s, err := New(Options{BaseURL: fake.URL(), Token: "glpat-good", Projects: []string{"1"}, Forecast: rec, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	h, err := s.NewPipelineHook(hookToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.RunPipelines(ctx, time.Hour) }()
	// The first pass sees no pipeline.
	waitFor(t, "the first pass", func() bool {
		return strings.Contains(strings.Join(fake.PipelineRequests(), "\n"), "status=created")
	})
	// Pipeline 31 starts; its hook arrives long before the next pass.
	pl := pipelineAt("running", "running", "created", "created")
	pl.ID = 31
	fake.SetPipelines(gitlabapitest.Project{ID: 1, Path: "gitlab-org/gitlab-test"}, pl)
	if code := deliverHook(h, "POST", hookToken, "Pipeline Hook", hookPayload(t, "running")); code != 202 {
		t.Fatalf("hook: %d", code)
	}
	waitFor(t, "the hooked pipeline's jobs", func() bool { return rec.knownLines("gitlab "+fake.URL()) == "docker,linux×3@?" })
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("RunPipelines: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for RunPipelines to return after its context ended")
	}
}

// waitFor polls cond for up to 10 s and fails with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
