package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(runnerBin, args...)
	cmd.Env = append(os.Environ(), "RUNFLEET_CONFIG=")
	out, err := combinedOutput(t, cmd, time.Minute, "`runner "+strings.Join(args, " ")+"`")
	return string(out), err
}

func TestRegister(t *testing.T) {
	t.Parallel()
	srv := gitlabtest.New(t)
	srv.AddRunner("glrt-valid-token-0001")
	srv.AddLegacyRegistrationToken("legacy-reg-token")
	cfg := filepath.Join(t.TempDir(), "etc", "config.toml")

	out, err := runCLI(t, "register", "--non-interactive", "--url", srv.URL(), "--token", "glrt-valid-token-0001",
		"--executor", "docker", "--docker-image", testImage, "--name", "first", "--limit", "2", "--config", cfg)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	st, err := os.Stat(cfg)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config mode: %v %v", st, err)
	}
	before, _ := os.ReadFile(cfg)

	// A wrong token: clear error, non-zero exit, config untouched.
	out, err = runCLI(t, "register", "--non-interactive", "--url", srv.URL(), "--token", "glrt-wrong",
		"--executor", "docker", "--docker-image", testImage, "--config", cfg)
	if err == nil || !strings.Contains(out, "403") && !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("wrong token: err=%v out=%s", err, out)
	}
	if after, _ := os.ReadFile(cfg); string(after) != string(before) {
		t.Fatalf("config changed by a failed registration")
	}

	// A legacy registration token falls back to POST /runners and appends.
	out, err = runCLI(t, "register", "--non-interactive", "--url", srv.URL(), "--token", "legacy-reg-token",
		"--executor", "docker", "--docker-image", testImage, "--name", "second", "--tag-list", "a,b", "--config", cfg)
	if err != nil {
		t.Fatalf("legacy register: %v\n%s", err, out)
	}
	var f struct {
		Runners []struct {
			Name, Token string
			Limit       int
		}
	}
	if _, err := toml.DecodeFile(cfg, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Runners) != 2 || f.Runners[0].Name != "first" || f.Runners[0].Limit != 2 || f.Runners[1].Name != "second" || !strings.HasPrefix(f.Runners[1].Token, "glrt-") {
		t.Fatalf("runners = %+v", f.Runners)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), ".runner_system_id")); err != nil {
		t.Errorf("system id not persisted: %v", err)
	}

	out, err = runCLI(t, "list", "--config", cfg)
	if err != nil || !strings.Contains(out, "first") || strings.Contains(out, "glrt-valid-token-0001") {
		t.Errorf("list: %v\n%s", err, out)
	}
	if out, err = runCLI(t, "verify", "--config", cfg); err != nil {
		t.Errorf("verify: %v\n%s", err, out)
	}
	out, err = runCLI(t, "unregister", "--name", "first", "--config", cfg)
	if err != nil {
		t.Fatalf("unregister: %v\n%s", err, out)
	}
	f.Runners = nil
	if _, err := toml.DecodeFile(cfg, &f); err != nil || len(f.Runners) != 1 || f.Runners[0].Name != "second" {
		t.Fatalf("after unregister: %+v %v", f.Runners, err)
	}
}

func TestExecLocalJob(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	dir := t.TempDir()
	yml := `
default:
  image: runfleet/busybox:latest
variables:
  WHO: world
ok:
  before_script: [echo before]
  script:
    - echo hello $WHO from $(pwd)
    - cat input.txt
  after_script: [echo after]
bad:
  script: [exit 3]
`
	if err := os.WriteFile(filepath.Join(dir, ".gitlab-ci.yml"), []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "input.txt"), []byte("local-input\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "RUNFLEET_CONFIG=", "RUNFLEET_NODE_NAME="+nodeName(t), "XDG_CACHE_HOME="+t.TempDir())
	cmd := exec.Command(runnerBin, "exec", "--config", filepath.Join(dir, "none.toml"), "--file", filepath.Join(dir, ".gitlab-ci.yml"), "ok")
	cmd.Env = env
	out, err := combinedOutput(t, cmd, jobWait, "`runner exec` of job ok")
	if err != nil {
		t.Fatalf("exec ok: %v\n%s", err, out)
	}
	mustContain(t, string(out), "before", "hello world from /builds/local/", "local-input", "after", "Job succeeded")
	cmd = exec.Command(runnerBin, "exec", "--config", filepath.Join(dir, "none.toml"), "--file", filepath.Join(dir, ".gitlab-ci.yml"), "bad")
	cmd.Env = env
	out, err = combinedOutput(t, cmd, jobWait, "`runner exec` of job bad")
	if err == nil {
		t.Fatalf("exec bad succeeded:\n%s", out)
	}
	mustContain(t, string(out), "exit code 3")
}
