package scalesettest

import (
	"net/http"

	"github.com/runfleet/runfleet/runner/github/runnerversion"
)

// Runner versions, as GitHub enforces them for scale-set runners too:
// the stand-in runner sends its version as the runnerVersion query
// parameter of its session and job calls; a version below the fake's
// minimum gets GitHub's 403 "Runner version v2.x.y is deprecated and
// cannot receive messages.", after which a runner exits without retrying.
// The minimum is runnerversion.Default (the same rule as the REST fake,
// runner/github/githubtest).

// excAccessDenied is the exception the service answers a refused runner
// with.
const excAccessDenied = "AccessDeniedException"

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
	v, err := runnerversion.Parse(r.URL.Query().Get("runnerVersion"))
	if err != nil {
		writeException(w, http.StatusBadRequest, excArgument, "runnerVersion is required")
		return false
	}
	if v.Less(runnerversion.MustParse(runnerversion.Default)) {
		s.refused = append(s.refused, v.String())
		writeException(w, http.StatusForbidden, excAccessDenied, runnerversion.Deprecated(v.String()))
		return false
	}
	return true
}
