package gitlab

import (
	"fmt"
	"strings"

	"github.com/runfleet/runfleet/runner/config"
)

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// stepScript turns a step's lines into one POSIX sh script that echoes each
// command (as GitLab's log shows it) and stops at the first failure.
func stepScript(lines []string) string {
	var b strings.Builder
	b.WriteString("set -e\n(set -o pipefail) 2>/dev/null && set -o pipefail\n")
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		echo := l
		if i := strings.IndexByte(echo, '\n'); i >= 0 {
			echo = echo[:i] + " # collapsed multi-line command"
		}
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n", shellQuote("\x1b[32;1m$ "+echo+"\x1b[0;m"))
		b.WriteString(l)
		b.WriteString("\n")
	}
	return b.String()
}

// section markers fold the log in GitLab's UI.
func sectionStart(unix int64, name, header string) string {
	return fmt.Sprintf("section_start:%d:%s\r\x1b[0K\x1b[36;1m%s\x1b[0;m\n", unix, name, header)
}

func sectionEnd(unix int64, name string) string {
	return fmt.Sprintf("section_end:%d:%s\r\x1b[0K\n", unix, name)
}

// withBuildHooks returns a script step's lines with the runner's
// pre_build_script before them and post_build_script after them, so they
// run in the step's shell as gitlab-runner runs them: pre_build_script
// before the job's before_script (which GitLab sends as the start of the
// script step), post_build_script after the script when it succeeded and
// before after_script. after_script gets neither.
func withBuildHooks(r config.Runner, st Step) []string {
	if st.Name == StepAfterScript || (r.PreBuildScript == "" && r.PostBuildScript == "") {
		return st.Script
	}
	lines := make([]string, 0, len(st.Script)+2)
	if r.PreBuildScript != "" {
		lines = append(lines, r.PreBuildScript)
	}
	lines = append(lines, st.Script...)
	if r.PostBuildScript != "" {
		lines = append(lines, r.PostBuildScript)
	}
	return lines
}

// hookScript is what runs for one get-sources hook: the runner's
// pre_get_sources_script before the job's hook, the runner's
// post_get_sources_script after it, as gitlab-runner orders them.
func hookScript(r config.Runner, hooks []Hook, name string) []string {
	var job []string
	for _, h := range hooks {
		if h.Name == name {
			job = append(job, h.Script...)
		}
	}
	switch {
	case name == "pre_get_sources_script" && r.PreGetSourcesScript != "":
		return append([]string{r.PreGetSourcesScript}, job...)
	case name == "post_get_sources_script" && r.PostGetSourcesScript != "":
		return append(job, r.PostGetSourcesScript)
	}
	return job
}

// hasContainerHooks reports whether a get-sources hook must run in the job
// container before the script.
func hasContainerHooks(r config.Runner, hooks []Hook) bool {
	return len(hookScript(r, hooks, "pre_get_sources_script")) > 0 || len(hookScript(r, hooks, "post_get_sources_script")) > 0
}
