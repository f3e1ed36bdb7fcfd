package gitlabtest

import (
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo is a real git repository served over smart HTTP.
type repo struct {
	path string // project path, e.g. "group/project"
	dir  string // work tree at <gitRoot>/<path>.git
	head string
}

// AddRepo creates a git repository for the project path with one commit of
// files (on branch main) and serves it at <URL>/<path>.git. Clones need
// HTTP basic auth: user gitlab-ci-token and the token of a running job of
// that project. It returns the commit's sha.
func (s *Server) AddRepo(tb testing.TB, path string, files map[string]string) string {
	tb.Helper()
	dir := filepath.Join(s.gitRoot, filepath.FromSlash(path)+".git")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatalf("gitlabtest: %v", err)
	}
	gitCmd(tb, dir, "init", "-q", "-b", "main")
	s.mu.Lock()
	s.repos[path] = &repo{path: path, dir: dir}
	s.mu.Unlock()
	return s.Commit(tb, path, files)
}

// Commit adds a commit with files to the repository at path (made by
// AddRepo) and returns its sha; it becomes the default SHA of new jobs.
func (s *Server) Commit(tb testing.TB, path string, files map[string]string) string {
	tb.Helper()
	s.mu.Lock()
	rp := s.repos[path]
	s.mu.Unlock()
	if rp == nil {
		tb.Fatalf("gitlabtest: no repository %q (AddRepo first)", path)
	}
	for name, body := range files {
		p := filepath.Join(rp.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatalf("gitlabtest: %v", err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			tb.Fatalf("gitlabtest: %v", err)
		}
	}
	gitCmd(tb, rp.dir, "add", "-A")
	gitCmd(tb, rp.dir, "commit", "-q", "--allow-empty", "-m", "commit")
	sha := strings.TrimSpace(gitCmd(tb, rp.dir, "rev-parse", "HEAD"))
	s.mu.Lock()
	rp.head = sha
	s.mu.Unlock()
	return sha
}

func gitCmd(tb testing.TB, dir string, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_AUTHOR_NAME=gitlabtest", "GIT_AUTHOR_EMAIL=gitlabtest@example.invalid",
		"GIT_COMMITTER_NAME=gitlabtest", "GIT_COMMITTER_EMAIL=gitlabtest@example.invalid",
		"GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("gitlabtest: git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// handleGit serves repositories through `git http-backend`, for a job
// token of a running job of the project only.
func (s *Server) handleGit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var rp *repo
	for p, x := range s.repos {
		if strings.HasPrefix(r.URL.Path, "/"+p+".git/") {
			rp = x
		}
	}
	user, pass, ok := r.BasicAuth()
	allowed := false
	if rp != nil && ok && user == "gitlab-ci-token" {
		if id, found := s.jobTokens[pass]; found {
			j := s.jobs[id]
			allowed = j.onRunner() && j.spec.ProjectPath == rp.path
		}
	}
	s.mu.Unlock()
	switch {
	case rp == nil:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	case !allowed:
		w.Header().Set("WWW-Authenticate", `Basic realm="GitLab"`)
		writeMessage(w, http.StatusUnauthorized, "HTTP Basic: Access denied")
		return
	}
	if strings.Contains(r.URL.RawQuery, "service=git-receive-pack") || strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
		writeMessage(w, http.StatusForbidden, "pushing is not allowed with a job token")
		return
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, "git not installed", http.StatusInternalServerError)
		return
	}
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Env:  []string{"GIT_PROJECT_ROOT=" + s.gitRoot, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user},
	}
	h.ServeHTTP(w, r)
}
