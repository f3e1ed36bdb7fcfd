package e2e

import (
	"encoding/pem"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rfconfig "github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestExecWithGitLabRunnerConfig runs a job with `runner exec` on a config
// written the way gitlab-runner writes it, without url or token (no
// coordinator), with the runner-level hooks and environment.
func TestExecWithGitLabRunnerConfig(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := `concurrent = 1
check_interval = 0
connection_max_age = "15m0s"

[session_server]
  session_timeout = 1800

[[runners]]
  name = "local"
  executor = "docker"
  builds_dir = "` + filepath.Join(dir, "builds") + `"
  environment = ["FROM_RUNNER=runner-env", "SHARED=runner"]
  pre_build_script = "echo pre-build $FROM_RUNNER"
  post_build_script = "echo post-build"
  [runners.cache]
    dir = "` + filepath.Join(dir, "cache") + `"
    MaxUploadedArchiveSize = 0
    [runners.cache.s3]
    [runners.cache.gcs]
    [runners.cache.azure]
  [runners.docker]
    tls_verify = false
    image = "` + testImage + `"
    pull_policy = "if-not-present"
    privileged = false
    oom_kill_disable = false
    disable_cache = false
    shm_size = 0
    network_mtu = 0
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	yml := "variables:\n  SHARED: job\nok:\n  before_script: [echo before]\n  script: [echo script $SHARED]\n  after_script: [echo after]\n"
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-ci.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(runnerBin, "exec", "--config", cfg, "--file", filepath.Join(dir, ".gitlab-ci.yml"), "ok")
	cmd.Env = append(os.Environ(), "RUNFLEET_CONFIG=", "RUNFLEET_NODE_NAME="+nodeName(t))
	out, err := combinedOutput(t, cmd, jobWait, "`runner exec` of job ok")
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	log := string(out)
	mustContain(t, log, "session_server", "pre-build runner-env", "script job", "post-build", "after", "Job succeeded")
	order := []string{"\npre-build runner-env", "\nbefore", "\nscript job", "\npost-build", "\nafter"}
	at := 0
	for _, s := range order {
		i := strings.Index(log[at:], s)
		if i < 0 {
			t.Fatalf("%q not after the previous step in:\n%s", s, log)
		}
		at += i + len(s)
	}
}

// TestRunWithoutConfigSaysWhatToDo is the first run: no config yet.
func TestRunWithoutConfigSaysWhatToDo(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "config.toml")
	out, err := runCLI(t, "run", "--config", cfg)
	if err == nil {
		t.Fatalf("run without config succeeded:\n%s", out)
	}
	mustContain(t, out, "no configuration at "+cfg, "runner register --config "+cfg, "runner run --config "+cfg, "--token-file")
	if strings.Contains(out, "open "+cfg) || strings.Count(out, "runner:") != 2 {
		t.Errorf("more than the next steps:\n%s", out)
	}
}

// TestRegisterAsksOnTheTerminal feeds the answers gitlab-runner register
// would ask for on stdin; --token-file keeps the token out of argv.
func TestRegisterAsksOnTheTerminal(t *testing.T) {
	t.Parallel()
	srv := gitlabtest.New(t)
	srv.AddRunner("glrt-prompted-token-01")
	srv.AddRunner("glrt-from-a-file-0001")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")

	cmd := exec.Command(runnerBin, "register", "--config", cfg)
	cmd.Env = append(os.Environ(), "RUNFLEET_CONFIG=")
	cmd.Stdin = strings.NewReader(srv.URL() + "\nglrt-prompted-token-01\nprompted\ncontainerd\n\n")
	out, err := combinedOutput(t, cmd, time.Minute, "interactive `runner register`")
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	mustContain(t, string(out), "GitLab instance URL", "authentication token", "name for the runner", "executor", "default job image")

	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("glrt-from-a-file-0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, "register", "--non-interactive", "--url", srv.URL(), "--token-file", tokenFile,
		"--name", "from-file", "--docker-image", testImage, "--config", cfg); err != nil {
		t.Fatalf("register --token-file: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "register", "--non-interactive", "--url", srv.URL(), "--token-file", filepath.Join(dir, "none"), "--config", cfg); err == nil {
		t.Fatalf("a missing token file registered:\n%s", out)
	}
	c, err := rfconfig.Load(cfg, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runners) != 2 {
		t.Fatalf("runners: %+v", c.Runners)
	}
	p, f := c.Runners[0], c.Runners[1]
	if p.Name != "prompted" || p.Token != "glrt-prompted-token-01" || p.Executor != "containerd" || p.Docker.Image != rfconfig.DefaultImage || p.TokenObtainedAt.IsZero() {
		t.Errorf("prompted runner: %+v", p)
	}
	if f.Name != "from-file" || f.Token != "glrt-from-a-file-0001" || f.Executor != "docker" {
		t.Errorf("token-file runner: %+v", f)
	}
	if st, err := os.Stat(cfg); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("config mode: %v %v", st, err)
	}
}

// TestRunnerHooksAndEnvironment runs a GitLab job through `runner run`
// with gitlab-runner's runner-level settings: the get-sources hooks run in
// the job container (never on the host), the build hooks in the script's
// shell around before_script and script, environment reaches the job and
// its git settings, and clone_url is where the sources come from.
func TestRunnerHooksAndEnvironment(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t)
	srv.AddRepo(t, "group/project", map[string]string{"README.md": "readme-content\n"})
	hostMarker := filepath.Join(t.TempDir(), "ran-on-host")
	tok := "glrt-hooks-and-env-0001"
	srv.AddRunner(tok)
	dir := t.TempDir()
	node := nodeName(t)
	cfg, metrics := writeConfig(t, dir, node, srv, tok, agentConfig{})
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	clone := strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)
	runnerLevel := `environment = ["FROM_RUNNER=runner-env", "GIT_DEPTH=1", "SHARED=runner"]
clone_url = "` + clone + `"
pre_get_sources_script = "echo HOOK-PRE-SOURCES $FROM_RUNNER; touch ` + hostMarker + ` 2>/dev/null || echo not-on-host"
post_get_sources_script = "echo HOOK-POST-SOURCES $(cat README.md)"
pre_build_script = "echo HOOK-PRE-BUILD"
post_build_script = "echo HOOK-POST-BUILD"
`
	body := strings.Replace(string(b), "executor = \"docker\"\n", "executor = \"docker\"\n"+runnerLevel, 1)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgentWith(t, cfg, node, dir, metrics)
	id := srv.Enqueue(gitlabtest.JobSpec{
		Variables:    []gitlabtest.Variable{{Key: "SHARED", Value: "job"}},
		Hooks:        []gitlabtest.Hook{{Name: "pre_get_sources_script", Script: []string{"echo JOB-PRE-SOURCES"}}},
		BeforeScript: []string{"echo BEFORE-SCRIPT"},
		Script:       []string{"echo SCRIPT $SHARED $FROM_RUNNER depth=$(git rev-list --count HEAD 2>/dev/null || echo nogit)"},
		AfterScript:  []string{"echo AFTER-SCRIPT"},
	})
	rec := srv.WaitFinal(t, id, jobWait)
	log := string(rec.Trace)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("state %s (%s); log:\n%s", rec.State, rec.FailureReason, log)
	}
	mustContain(t, log, "HOOK-PRE-SOURCES runner-env", "not-on-host", "HOOK-POST-SOURCES readme-content",
		"SCRIPT job runner-env", "Fetching changes from "+clone+"/group/project.git")
	if _, err := os.Stat(hostMarker); err == nil {
		t.Errorf("pre_get_sources_script ran on the host")
	}
	at := 0
	for _, s := range []string{"\nHOOK-PRE-SOURCES", "\nJOB-PRE-SOURCES", "\nHOOK-POST-SOURCES", "\nHOOK-PRE-BUILD", "\nBEFORE-SCRIPT", "\nSCRIPT job", "\nHOOK-POST-BUILD", "\nAFTER-SCRIPT"} {
		i := strings.Index(log[at:], s)
		if i < 0 {
			t.Fatalf("%q not in order in:\n%s", s, log)
		}
		at += i + len(s)
	}
	checkReportedOnce(t, rec)
	checkViolations(t, srv)
}

// TestTLSCAFileForAPIAndGit puts the fake GitLab behind HTTPS with a
// certificate no system root signs: with tls-ca-file the agent talks to
// the API and fetches the sources (clone_url on the HTTPS address) there.
func TestTLSCAFileForAPIAndGit(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t)
	srv.AddRepo(t, "group/project", map[string]string{"README.md": "over-https\n"})
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(front.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "gitlab-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := "glrt-behind-https-0001"
	srv.AddRunner(tok)
	node := nodeName(t)
	cfg, metrics := writeConfig(t, dir, node, srv, tok, agentConfig{})
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(b), "url = \""+srv.URL()+"\"", "url = \""+front.URL+"\"\ntls-ca-file = \""+ca+"\"\nclone_url = \""+front.URL+"\"", 1)
	if body == string(b) {
		t.Fatal("url line not found in the generated config")
	}
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	startAgentWith(t, cfg, node, dir, metrics)
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"cat README.md"}})
	rec := srv.WaitFinal(t, id, jobWait)
	log := string(rec.Trace)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("state %s (%s); log:\n%s", rec.State, rec.FailureReason, log)
	}
	mustContain(t, log, "Fetching changes from "+front.URL+"/group/project.git", "\nover-https")
	checkReportedOnce(t, rec)
}
