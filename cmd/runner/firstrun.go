package main

import (
	"errors"
	"fmt"
	"io"
)

// errFirstRun ends `runner run` when there is nothing to run yet; the next
// steps were printed.
var errFirstRun = errors.New("nothing to run yet: register a runner first")

// printFirstRun tells a new user what to type next when `runner run` finds
// no config (or one without runners) at path.
func printFirstRun(w io.Writer, path string, missing bool) {
	what := "no runner is registered in " + path
	if missing {
		what = "no configuration at " + path
	}
	cfg := ""
	if path != defaultConfigPath() {
		cfg = " --config " + path
	}
	fmt.Fprintf(w, `runner: %s.

Register this node, then run it:

  # GitLab: create a runner in GitLab (Settings > CI/CD > Runners), then
  runner register%s
  # (asks for the URL, the glrt- token and the executor; or
  #  --non-interactive --url https://gitlab.example.com --token-file FILE)

  # GitHub Actions:
  runner register%s --non-interactive --url https://github.com/ORG --token-file FILE --labels self-hosted,linux,x64

  runner run%s

To run one job of a .gitlab-ci.yml without any server: runner exec JOB
`, what, cfg, cfg, cfg)
}
