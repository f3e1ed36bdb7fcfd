package gitlabtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func gitCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func TestGitCloneNeedsRunningJobToken(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed (tests/engine.sh installs it): %v", err)
	}
	srv, c := newFake(t)
	sha := srv.AddRepo(t, "group/project", map[string]string{"a.txt": "A\n", "dir/b.txt": "B\n"})
	id := srv.Enqueue(JobSpec{})
	_, job := c.request("")
	tok := job["token"].(string)
	repoURL := job["git_info"].(map[string]any)["repo_url"].(string)
	clone := func(url string) error {
		dir := filepath.Join(t.TempDir(), "c")
		if _, err := gitCmd(t, "", "clone", "-q", url, dir); err != nil {
			return err
		}
		b, err := os.ReadFile(filepath.Join(dir, "dir", "b.txt"))
		if err != nil || string(b) != "B\n" {
			return fmt.Errorf("clone content %q, %v", b, err)
		}
		return nil
	}
	if err := clone(repoURL); err == nil {
		t.Error("clone with the token of a job not yet accepted succeeded")
	}
	c.put(id, map[string]any{"token": tok, "state": "running"})
	if err := clone(repoURL); err != nil {
		t.Fatalf("clone with a running job's token: %v", err)
	}
	for name, url := range map[string]string{
		"wrong token": strings.Replace(repoURL, tok, "glcbt-wrong", 1),
		"no auth":     strings.Replace(repoURL, "gitlab-ci-token:"+tok+"@", "", 1),
		"wrong user":  strings.Replace(repoURL, "gitlab-ci-token", "root", 1),
		"other repo":  strings.Replace(repoURL, "group/project", "group/other", 1),
	} {
		if err := clone(url); err == nil {
			t.Errorf("%s: clone succeeded", name)
		}
	}
	if got := job["git_info"].(map[string]any)["sha"]; got != sha {
		t.Errorf("payload sha %v, want %s", got, sha)
	}
	c.put(id, finalBody(tok, "success", "", ""))
	if err := clone(repoURL); err == nil {
		t.Error("clone with the token of a finished job succeeded")
	}
}

func TestGitFetchRefspecsAndSecondCommit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed (tests/engine.sh installs it): %v", err)
	}
	srv, c := newFake(t)
	first := srv.AddRepo(t, "group/project", map[string]string{"a.txt": "1\n"})
	second := srv.Commit(t, "group/project", map[string]string{"a.txt": "2\n"})
	id := srv.Enqueue(JobSpec{})
	_, job := c.request("")
	tok := job["token"].(string)
	c.put(id, map[string]any{"token": tok, "state": "running"})
	gi := job["git_info"].(map[string]any)
	if gi["sha"] != second || gi["before_sha"] != first {
		t.Fatalf("git_info %v, want sha %s before %s", gi, second, first)
	}
	// Fetch the way gitlab-runner does: init, refspecs, depth, checkout sha.
	dir := t.TempDir()
	if _, err := gitCmd(t, dir, "init", "-q"); err != nil {
		t.Fatal(err)
	}
	args := []string{"fetch", "-q", "--depth", fmt.Sprint(gi["depth"]), gi["repo_url"].(string)}
	for _, rs := range gi["refspecs"].([]any) {
		args = append(args, rs.(string))
	}
	if _, err := gitCmd(t, dir, args...); err != nil {
		t.Fatal(err)
	}
	if _, err := gitCmd(t, dir, "checkout", "-q", second); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a.txt")); string(b) != "2\n" {
		t.Errorf("a.txt %q", b)
	}
}
