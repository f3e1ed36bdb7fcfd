package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
)

func TestGitLabDemandConfig(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"gl": "glpat-x", "hook": "hook-secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name    string
		f       gitlabDemandFile
		want    gitlabDemand
		wantErr string
	}{
		{"projects, pipelines watched by default", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Projects: []string{"42"}},
			gitlabDemand{URL: "https://gl", Token: "glpat-x", Projects: []string{"42"}, Pipelines: true, PipelineInterval: 15 * time.Second}, ""},
		{"a group, a hook", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Groups: []string{"grp"}, HookPath: "/hooks/gitlab", HookTokenFile: dir + "/hook", PipelineInterval: time.Minute},
			gitlabDemand{URL: "https://gl", Token: "glpat-x", Groups: []string{"grp"}, Pipelines: true, PipelineInterval: time.Minute, HookPath: "/hooks/gitlab", HookToken: "hook-secret"}, ""},
		{"the instance, no pipelines", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Instance: true, Pipelines: new(bool)},
			gitlabDemand{URL: "https://gl", Token: "glpat-x", Instance: true, PipelineInterval: 15 * time.Second}, ""},
		{"nothing to watch", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl"}, gitlabDemand{}, "projects, groups or instance"},
		{"a hook without its token", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Projects: []string{"1"}, HookPath: "/hooks/gitlab"}, gitlabDemand{}, "hook_token_file"},
		{"a hook on the fleet API", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Projects: []string{"1"}, HookPath: "/fleet/x", HookTokenFile: dir + "/hook"}, gitlabDemand{}, "outside /fleet/"},
		{"a hook without pipelines", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Projects: []string{"1"}, HookPath: "/h", HookTokenFile: dir + "/hook", Pipelines: new(bool)}, gitlabDemand{}, "needs pipelines = true"},
		{"a negative interval", gitlabDemandFile{URL: "https://gl", TokenFile: dir + "/gl", Projects: []string{"1"}, PipelineInterval: -time.Second}, gitlabDemand{}, "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := gitlabConfig(0, tc.f)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
	twice := &config{GitHub: &githubDemand{Path: "/hooks"}, GitLab: []gitlabDemand{{HookPath: "/hooks"}}}
	if err := hookPathsError(twice); err == nil {
		t.Error("a webhook path served twice was accepted")
	}
}

// TestRunGitLabPipelines: `autoscaler run` with [[demand.gitlab]] watching
// the strict fake's pipelines: a pipeline whose four tests wait in created
// is forecast demand before any job is pending, and the Pipeline Hook is
// served on the fleet listener with its secret token checked.
func TestRunGitLabPipelines(t *testing.T) {
	fake := gitlabapitest.New("glpat-fleet", nil)
	defer fake.Close()
	now := time.Now()
	pl := gitlabapitest.Pipeline{ID: 500, Status: "running", Created: now.Add(-20 * time.Second), Jobs: []gitlabapitest.PipelineJob{
		{ID: 5001, Name: "build", Stage: "build", Status: "running", Tags: []string{"linux"}, Created: now.Add(-20 * time.Second), Started: now.Add(-15 * time.Second)},
	}}
	for i := range 4 {
		pl.Jobs = append(pl.Jobs, gitlabapitest.PipelineJob{ID: int64(5002 + i), Name: "test", Stage: "test", Status: "created", Tags: []string{"linux"}})
	}
	fake.SetPipelines(gitlabapitest.Project{ID: 17, Path: "grp/app"}, pl)
	// The project of the recorded Pipeline Hook, no pipeline yet.
	fake.SetPipelines(gitlabapitest.Project{ID: 1, Path: "gitlab-org/gitlab-test"})
	dir := t.TempDir()
	for name, body := range map[string]string{"gl": "glpat-fleet", "hook": "hook-secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, cfgPath, fleetAddr, adminAddr := awsFleet(t, fmt.Sprintf(`[[demand.gitlab]]
url = %q
token_file = %q
groups = []
projects = ["17", "gitlab-org/gitlab-test"]
pipeline_interval = "100ms"
hook_path = "/hooks/gitlab"
hook_token_file = %q
`, fake.URL(), dir+"/gl", dir+"/hook"))
	// The pool plans for what comes within a cold boot.
	raw, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	withBoot := strings.Replace(string(raw), "slots_per_node = 2\n", "slots_per_node = 2\nboot_time = \"45s\"\n", 1)
	if err := os.WriteFile(cfgPath, []byte(withBoot), 0o600); err != nil {
		t.Fatal(err)
	}
	runInBackground(t, cfgPath)

	eventually(t, "the 4 created tests as expected demand of pool linux", func() bool {
		return strings.Contains(scrapeMetrics(t, adminAddr), `runfleet_fleet_forecast_expected_jobs{pool="linux"} 4`)
	})

	hook := func(token string) int {
		body, err := os.ReadFile(filepath.Join("..", "..", "autoscaler", "demand", "gitlab", "testdata", "pipeline_hook.json"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, "http://"+fleetAddr+"/hooks/gitlab", bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
		req.Header.Set("X-Gitlab-Token", token)
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := hook("hook-secret-not"); code != http.StatusUnauthorized {
		t.Errorf("hook with a wrong token: %d, want 401", code)
	}
	if code := hook("hook-secret"); code != http.StatusAccepted {
		t.Errorf("hook: %d, want 202", code)
	}
	if m := scrapeMetrics(t, adminAddr); !strings.Contains(m, `runfleet_gitlab_pipeline_hook_deliveries_total{result="ok"} 1`) {
		t.Errorf("hook deliveries not counted:\n%s", m)
	}
}

// scrapeMetrics reads the admin listener's /metrics.
func scrapeMetrics(t *testing.T, adminAddr string) string {
	t.Helper()
	resp, err := testClient.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
