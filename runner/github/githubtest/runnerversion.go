package githubtest

import (
	"net/http"
	"time"

	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// Runner versions, as GitHub enforces them. The stand-in runner sends its
// version as the runnerVersion query parameter of its session and job
// calls (the official runner sends it with every broker call); a version
// below the fake's minimum gets GitHub's answer, 403 with
// "Runner version v2.x.y is deprecated and cannot receive messages.",
// after which a runner exits without retrying. The fake's minimum is
// runnerversion.Default unless SetMinRunnerVersion changes it.
//
// The latest actions/runner release is served at
// GET /api/v3/repos/actions/runner/releases/latest (what `runner github
// check` reads); SetRunnerRelease sets it.

// runnerRelease is the latest actions/runner release the fake serves.
type runnerRelease struct {
	version   string
	published time.Time
}

// SetMinRunnerVersion makes the fake refuse runners older than v.
func (s *Server) SetMinRunnerVersion(v string) {
	s.tb.Helper()
	if _, err := runnerversion.Parse(v); err != nil {
		s.tb.Fatalf("githubtest: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minRunner = v
}

// SetRunnerRelease sets the latest actions/runner release.
func (s *Server) SetRunnerRelease(version string, published time.Time) {
	s.tb.Helper()
	if _, err := runnerversion.Parse(version); err != nil {
		s.tb.Fatalf("githubtest: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.release = runnerRelease{version: version, published: published}
}

// Refused lists the runner versions the fake refused, in order.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// checkRunnerVersionLocked answers GitHub's refusal for a runner call
// whose runnerVersion is missing, malformed or below the minimum; it
// reports whether the call may go on. s.mu is held.
func (s *Server) checkRunnerVersionLocked(w http.ResponseWriter, r *http.Request) bool {
	raw := r.URL.Query().Get("runnerVersion")
	v, err := runnerversion.Parse(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, "runnerVersion is required", docRunners)
		return false
	}
	if v.Less(runnerversion.MustParse(s.minRunner)) {
		s.refused = append(s.refused, v.String())
		writeError(w, http.StatusForbidden, runnerversion.Deprecated(v.String()), docRunners)
		return false
	}
	return true
}

// handleLatestRelease serves GET /repos/{owner}/{repo}/releases/latest for
// actions/runner, readable with or without credentials (a public
// repository) but never with bad ones.
func (s *Server) handleLatestRelease(w http.ResponseWriter, r *http.Request) {
	if bearer(r) != "" {
		if _, _, ok := s.authenticate(w, r); !ok {
			return
		}
	}
	if r.PathValue("owner") != "actions" || r.PathValue("repo") != "runner" {
		notFound(w)
		return
	}
	s.mu.Lock()
	rel := s.release
	s.mu.Unlock()
	tag := "v" + rel.version
	base := "https://github.com/actions/runner/releases"
	var assets []map[string]any
	for _, arch := range []string{"x64", "arm64"} {
		name := "actions-runner-linux-" + arch + "-" + rel.version + ".tar.gz"
		assets = append(assets, map[string]any{
			"name": name, "content_type": "application/gzip", "state": "uploaded",
			"browser_download_url": base + "/download/" + tag + "/" + name,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url":          s.URL() + "/api/v3/repos/actions/runner/releases/1",
		"html_url":     base + "/tag/" + tag,
		"id":           1,
		"tag_name":     tag,
		"name":         tag,
		"draft":        false,
		"prerelease":   false,
		"created_at":   rel.published.UTC().Format(time.RFC3339),
		"published_at": rel.published.UTC().Format(time.RFC3339),
		"assets":       assets,
		"body":         "## SHA-256 Checksums\n",
	})
}
