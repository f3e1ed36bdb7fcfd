package gitlab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// runningJob takes one job from srv and marks it running, so its token
// may fetch the project's repository.
func runningJob(t *testing.T, srv *gitlabtest.Server, runnerToken string) *JobResponse {
	t.Helper()
	c, err := NewClient(ClientOptions{BaseURL: srv.URL(), UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := c.RequestJob(ctx, RequestJobBody{Token: runnerToken, SystemID: "s_0123456789ab"})
	if err != nil || res.Job == nil {
		t.Fatalf("request job: %v (job %v)", err, res.Job)
	}
	if _, err := c.UpdateJob(ctx, res.Job.ID, UpdateJobBody{Token: res.Job.Token, State: StateRunning}); err != nil {
		t.Fatalf("accept job: %v", err)
	}
	return res.Job
}

// recordingGit puts a git on PATH that records its command line and
// environment, one file per call, then runs the real git.
func recordingGit(t *testing.T) (logDir, real string) {
	t.Helper()
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	bin, logDir := t.TempDir(), t.TempDir()
	script := "#!/bin/sh\nf=" + logDir + "/$$\nprintf '%s\\n' \"$@\" > $f.argv\nenv > $f.env\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "git"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	return logDir, real
}

// TestFetchStoreTokenNeverOnCommandLine fetches a job's commit into a
// store with the real git against the strict fake GitLab and checks that
// the job token travelled in git's environment only, that the agent's own
// environment did not, and that the store holds the commit.
func TestFetchStoreTokenNeverOnCommandLine(t *testing.T) {
	const runnerToken = "glrt-gitstore-test-token"
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	srv.AddRunner(runnerToken)
	sha := srv.AddRepo(t, "group/project", map[string]string{"a.txt": "A\n"})
	srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
	job := runningJob(t, srv, runnerToken)
	logs, realGit := recordingGit(t)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "agent-secret-must-not-leak")

	remote, header, err := splitCredentials(job.GitInfo.RepoURL)
	if err != nil {
		t.Fatal(err)
	}
	if header == "" || strings.Contains(remote, job.Token) {
		t.Fatalf("splitCredentials(%q) = %q, %q", job.GitInfo.RepoURL, remote, header)
	}
	store := filepath.Join(t.TempDir(), "store.git")
	var out bytes.Buffer
	err = fetchStore(t.Context(), storeFetch{Store: store, Remote: remote, AuthHeader: header, Refspecs: job.GitInfo.Refspecs, Depth: 5, Out: &out})
	if err != nil {
		t.Fatalf("fetchStore: %v\n%s", err, out.String())
	}
	cmd := exec.Command(realGit, "--git-dir="+store, "cat-file", "-e", sha+"^{commit}")
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the store lacks %s: %v\n%s", sha, err, o)
	}

	files, _ := filepath.Glob(filepath.Join(logs, "*.argv"))
	if len(files) < 2 { // init, fetch and fetch's helpers
		t.Fatalf("want the init and the fetch recorded, got %v", files)
	}
	sawHeader := false
	for _, f := range files {
		argv, _ := os.ReadFile(f)
		env, _ := os.ReadFile(strings.TrimSuffix(f, ".argv") + ".env")
		if bytes.Contains(argv, []byte(job.Token)) || bytes.Contains(argv, []byte(strings.TrimPrefix(header, "Authorization: Basic "))) {
			t.Errorf("the job token is on git's command line:\n%s", argv)
		}
		if bytes.Contains(env, []byte("agent-secret-must-not-leak")) {
			t.Errorf("git inherited the agent's environment:\n%s", env)
		}
		// git's own sub-processes (remote-https, index-pack) get the
		// configuration from their parent in another form.
		top := bytes.HasPrefix(argv, []byte("init\n")) || bytes.HasPrefix(argv, []byte("fetch\n"))
		for _, want := range []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "core.hooksPath", "core.fsmonitor"} {
			if top && !bytes.Contains(env, []byte(want)) {
				t.Errorf("git's environment lacks %s:\n%s", want, env)
			}
		}
		if bytes.Contains(argv, []byte("fetch")) && bytes.Contains(env, []byte(header)) {
			sawHeader = true
		}
	}
	if !sawHeader {
		t.Error("the fetch did not get the Authorization header in its environment")
	}
}

// TestOpenStoreReplacesWhatIsNotAStore: a store path that is a file, a
// link or a directory without HEAD becomes a fresh bare repository, and
// a link's target is left alone.
func TestOpenStoreReplacesWhatIsNotAStore(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	target := t.TempDir()
	tests := []struct {
		name  string
		plant func(path string) error
	}{
		{"missing", func(string) error { return nil }},
		{"file", func(p string) error { return os.WriteFile(p, []byte("gitdir: /etc\n"), 0o644) }},
		{"symlink", func(p string) error { return os.Symlink(target, p) }},
		{"empty dir", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"HEAD is a link", func(p string) error {
			if err := os.Mkdir(p, 0o755); err != nil {
				return err
			}
			return os.Symlink("/etc/hostname", filepath.Join(p, "HEAD"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := filepath.Join(t.TempDir(), "s.git")
			if err := tt.plant(store); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := openStore(t.Context(), store, &out); err != nil {
				t.Fatalf("openStore: %v\n%s", err, out.String())
			}
			fi, err := os.Lstat(filepath.Join(store, "HEAD"))
			if err != nil || !fi.Mode().IsRegular() {
				t.Fatalf("no fresh HEAD: %v", err)
			}
			if entries, _ := os.ReadDir(target); len(entries) != 0 {
				t.Errorf("the link's target was written: %v", entries)
			}
		})
	}
}
