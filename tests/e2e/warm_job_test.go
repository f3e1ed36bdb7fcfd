package e2e

import (
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestWarmJobContainer: once a job's script started, the slot's next job
// container is created and started ahead, waiting for its step
// (runner/gitlab/warmjob.go). The next job of the same kind runs its
// script in it, with its variables and file variables exact, hostile
// values included; a job whose variables sh cannot export runs its script
// with exec instead and still sees them; a job of another project
// discards it; the agent's stop leaves nothing. Both engines.
func TestWarmJobContainer(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"docker", "containerd"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
			srv.AddRepo(t, "group/app", map[string]string{"README.md": "app-v1\n"})
			srv.AddRepo(t, "group/other", map[string]string{"README.md": "other-v1\n"})
			var a *agent
			var warm, left func() []string
			var envOf func(id string) []string // a container's environment
			switch engine {
			case "docker":
				// Opt-in on Docker (runner/config: Runner.WarmJobContainers).
				a = startAgent(t, srv, agentConfig{Concurrent: 1, Runner: "warm_containers = true"})
				warm = func() []string { return dockerWarm(t, a.node, "job") }
				envOf = func(id string) []string {
					ins, err := dockerClient(t).ContainerInspect(t.Context(), id)
					if err != nil {
						t.Fatal(err)
					}
					return ins.Config.Env
				}
				left = func() []string { return leftovers(t, a.node) }
			case "containerd":
				importIntoContainerd(t)
				a = startContainerdAgent(t, srv, 1, "")
				warm = func() []string { return ctrdWarm(t, a.node, "job") }
				envOf = func(id string) []string {
					c, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					ctx := namespaces.WithNamespace(t.Context(), ctrdNamespace)
					ct, err := c.LoadContainer(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					spec, err := ct.Spec(ctx)
					if err != nil {
						t.Fatal(err)
					}
					return spec.Process.Env
				}
				left = func() []string { return ctrdLeftovers(t, a.node) }
			}
			run := func(spec gitlabtest.JobSpec, want ...string) int64 { t.Helper(); return runOK(t, srv, spec, want...) }
			phases := func(id int64) string { return jobPhases(t, a, id) }
			waitWarm := func(what string, not []string) []string { return waitOneNew(t, what, warm, not) }

			run(gitlabtest.JobSpec{ProjectPath: "group/app", Script: []string{"cat README.md"}}, "app-v1")
			first := waitWarm("a warm job container after the first job's script started", nil)

			// The next job runs in it: its variables arrive exact.
			hostile := `it's "q" $(echo injected) ` + "`id` \\n\n  second line  "
			id := run(gitlabtest.JobSpec{ProjectPath: "group/app",
				Variables: []gitlabtest.Variable{
					{Key: "HOSTILE", Value: hostile},
					{Key: "FILEVAR", Value: "file-content", File: true},
				},
				Script:      []string{`printf '<%s>\n' "$HOSTILE"`, `cat "$FILEVAR"; echo`, "cat README.md"},
				AfterScript: []string{`printf 'after:<%s>\n' "$HOSTILE"`},
			}, "<"+hostile+">", "file-content", "app-v1", "after:<"+hostile+">")
			if p := phases(id); !strings.Contains(p, "job_warm=") {
				t.Fatalf("the second job of the project did not run in the warm job container: %s", p)
			}
			second := waitWarm("the next warm job container (the first one used and removed)", first)
			// Made after that job started, it holds none of its variables.
			for _, kv := range envOf(second[0]) {
				if strings.HasPrefix(kv, "HOSTILE=") || strings.HasPrefix(kv, "FILEVAR=") || strings.HasPrefix(kv, "CI_JOB_TOKEN=") {
					t.Errorf("the waiting job container's environment holds a job's variable: %q", kv)
				}
			}

			// A variable sh cannot export (a digit first: GitLab allows
			// it): the script runs with exec, the variable still in its
			// shell's environment (which sh itself passes on to no child).
			run(gitlabtest.JobSpec{ProjectPath: "group/app",
				Variables: []gitlabtest.Variable{{Key: "1ABC", Value: "digit-first"}},
				Script:    []string{`tr '\0' '\n' < /proc/$$/environ | grep '^1ABC='`},
			}, "1ABC=digit-first", "running the script with exec")
			third := waitWarm("a warm job container after the exec fallback", second)

			// Another project: the warm job container does not fit.
			if p := phases(run(gitlabtest.JobSpec{ProjectPath: "group/other", ProjectID: 43, Script: []string{"cat README.md"}}, "other-v1")); strings.Contains(p, "job_warm=") {
				t.Fatalf("a job of another project ran in the warm job container: %s", p)
			}
			waitWarm("a warm job container for the other project", third)

			if err := a.stop(time.Minute); err != nil {
				t.Fatalf("agent exit: %v", err)
			}
			if l := left(); len(l) != 0 {
				t.Fatalf("left after the agent stopped (warm containers included): %q", l)
			}
		})
	}
}
