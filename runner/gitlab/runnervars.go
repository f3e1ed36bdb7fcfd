package gitlab

import (
	"net/url"
	"path"
	"strings"

	"github.com/runfleet/runfleet/runner/config"
)

// runnerVariables are the runner's environment entries as job variables.
// They come before the job's own variables, which override them, as in
// gitlab-runner; like every variable they reach the job's environment and
// expansion (GIT_DEPTH, GIT_STRATEGY, ... included).
func runnerVariables(r config.Runner) Variables {
	out := make(Variables, 0, len(r.Environment))
	for _, e := range r.Environment {
		k, v, ok := strings.Cut(e, "=")
		if !ok {
			continue // refused by config
		}
		out = append(out, Variable{Key: strings.TrimSpace(k), Value: strings.TrimSpace(v), Public: true})
	}
	return out
}

// cloneInfo is the job's git info with the runner's clone_url applied: the
// repository URL becomes clone_url/<project path>.git with the job token as
// gitlab-ci-token's password, as gitlab-runner builds it.
func cloneInfo(r config.Runner, info GitInfo, project, jobToken string) GitInfo {
	if r.CloneURL == nil {
		return info
	}
	u := *r.CloneURL
	u.Path = path.Join("/", u.Path, project+".git")
	u.RawPath = ""
	u.User = url.UserPassword("gitlab-ci-token", jobToken)
	info.RepoURL = u.String()
	return info
}
