package gitlabtest

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// repo is a bare git repository served over smart HTTP, with a work tree
// used to make commits.
type repo struct {
	path    string // project path, e.g. group/project
	bare    string
	work    string
	mu      sync.Mutex // serialises git commands that write
	commits int
}

func gitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=gitlabtest", "GIT_AUTHOR_EMAIL=gitlabtest@example.invalid",
		"GIT_COMMITTER_NAME=gitlabtest", "GIT_COMMITTER_EMAIL=gitlabtest@example.invalid",
	)
}

// git runs a git command on the bare repository with the work tree.
func (rp *repo) git(tb testing.TB, args ...string) string {
	tb.Helper()
	return rp.gitEnv(tb, nil, args...)
}

func (rp *repo) gitEnv(tb testing.TB, env []string, args ...string) string {
	tb.Helper()
	out, err := rp.run(env, args...)
	if err != nil {
		tb.Fatalf("gitlabtest: %v", err)
	}
	return out
}

// run runs git on the repository; safe to call off the test goroutine.
func (rp *repo) run(env []string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir=" + rp.bare, "--work-tree=" + rp.work}, args...)...)
	cmd.Env = append(gitEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func (rp *repo) head() string {
	out, err := exec.Command("git", "--git-dir="+rp.bare, "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// parentOf returns sha's first parent, or the zero SHA.
func (rp *repo) parentOf(sha string) string {
	out, err := exec.Command("git", "--git-dir="+rp.bare, "rev-parse", "--verify", "-q", sha+"^").Output()
	if err != nil {
		return zeroSHA
	}
	return strings.TrimSpace(string(out))
}

// commit writes files into the work tree and commits them on main.
func (rp *repo) commit(tb testing.TB, files map[string]string) string {
	tb.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for name, content := range files {
		if !filepath.IsLocal(name) {
			tb.Fatalf("gitlabtest: file name %q is not local", name)
		}
		p := filepath.Join(rp.work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatalf("gitlabtest: %v", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			tb.Fatalf("gitlabtest: %v", err)
		}
	}
	rp.commits++
	date := fmt.Sprintf("GIT_AUTHOR_DATE=2024-01-01T00:%02d:00Z", rp.commits%60)
	cdate := "GIT_COMMITTER_" + strings.TrimPrefix(date, "GIT_AUTHOR_")
	rp.git(tb, "add", "-A")
	rp.gitEnv(tb, []string{date, cdate}, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("commit %d", rp.commits))
	return rp.git(tb, "rev-parse", "HEAD")
}

// AddRepo creates a git repository for project path (e.g. "group/project")
// with one commit holding files, on branch main, and serves it at
// <URL>/<path>.git over smart HTTP. Clients authenticate as
// gitlab-ci-token with the token of a running job of that project. It
// returns the commit SHA; jobs enqueued for the project default to HEAD.
func (s *Server) AddRepo(tb testing.TB, path string, files map[string]string) string {
	tb.Helper()
	if !filepath.IsLocal(path) || strings.HasSuffix(path, ".git") || !strings.Contains(path, "/") {
		tb.Fatalf("gitlabtest: project path %q must look like group/project", path)
	}
	if _, err := exec.LookPath("git"); err != nil {
		tb.Fatalf("gitlabtest: git is required for AddRepo: %v", err)
	}
	rp := &repo{
		path: path,
		bare: filepath.Join(s.gitRoot, filepath.FromSlash(path)+".git"),
		work: tb.TempDir(),
	}
	cmd := exec.Command("git", "init", "-q", "--bare", "--initial-branch=main", rp.bare)
	cmd.Env = gitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("gitlabtest: git init: %v\n%s", err, out)
	}
	// Gitaly lets clients fetch any object by SHA.
	rp.git(tb, "config", "uploadpack.allowAnySHA1InWant", "true")
	sha := rp.commit(tb, files)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.repos[path]; dup {
		tb.Fatalf("gitlabtest: repo %q exists", path)
	}
	s.repos[path] = rp
	return sha
}

// Commit adds a commit on main to the repo of project path, writing files
// over the previous tree, and returns its SHA.
func (s *Server) Commit(tb testing.TB, path string, files map[string]string) string {
	tb.Helper()
	s.mu.Lock()
	rp, ok := s.repos[path]
	s.mu.Unlock()
	if !ok {
		tb.Fatalf("gitlabtest: no repo %q", path)
	}
	return rp.commit(tb, files)
}

// handleGit serves smart-HTTP fetches of the repos through git http-backend.
func (s *Server) handleGit(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	project, rest, ok := strings.Cut(p, ".git/")
	if !ok || strings.HasPrefix(p, "api/") {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	switch {
	case r.Method == http.MethodGet && rest == "info/refs" && r.URL.Query().Get("service") == "git-upload-pack":
	case r.Method == http.MethodPost && rest == "git-upload-pack":
	case rest == "git-receive-pack" || r.URL.Query().Get("service") == "git-receive-pack":
		writeMessage(w, http.StatusForbidden, "403 Forbidden - pushes are not allowed")
		return
	default:
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	user, pass, hasAuth := r.BasicAuth()
	s.mu.Lock()
	j := s.jobByTokenLocked(pass)
	authorized := hasAuth && user == "gitlab-ci-token" && j != nil && j.onRunner()
	_, exists := s.repos[project]
	if authorized {
		infoOf(r).jobID = j.id
		if j.spec.ProjectPath != project {
			authorized = false
		}
	}
	s.mu.Unlock()
	if !authorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="GitLab"`)
		writeMessage(w, http.StatusUnauthorized, "HTTP Basic: Access denied")
		return
	}
	if !exists {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	gitPath, err := exec.LookPath("git")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := &cgi.Handler{
		Path: gitPath,
		Args: []string{"http-backend"},
		Root: "/",
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.gitRoot,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=/dev/null",
		},
		Logger: slog.NewLogLogger(s.cfg.log.Handler(), slog.LevelWarn),
		Stderr: logWriter{s.cfg.log},
	}
	h.ServeHTTP(w, r)
}

// logWriter sends git http-backend's stderr to the logger.
type logWriter struct{ log *slog.Logger }

func (l logWriter) Write(b []byte) (int, error) {
	l.log.Debug("git http-backend", "stderr", strings.TrimSpace(string(b)))
	return len(b), nil
}

var _ io.Writer = logWriter{}
