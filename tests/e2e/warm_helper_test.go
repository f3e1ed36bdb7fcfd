package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// labelWarm marks a container created ahead of its job with its kind,
// "helper" or "job" (runner/gitlab/warm.go).
const labelWarm = "dev.runfleet.warm"

// TestWarmSourcesHelper: after a job's checkout, the slot's next sources
// helper is created ahead for the same project. The next job of that
// project takes it and gets the new commit's sources; a job of another
// project discards it and gets its own project's; the agent's stop
// leaves nothing. Both engines.
func TestWarmSourcesHelper(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"docker", "containerd"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
			srv.AddRepo(t, "group/warm", map[string]string{"README.md": "warm-v1\n"})
			srv.AddRepo(t, "group/other", map[string]string{"README.md": "other-v1\n"})
			var node string
			var a *agent
			var warm func() []string
			var left func() []string
			switch engine {
			case "docker":
				a = startAgent(t, srv, agentConfig{Concurrent: 1})
				node = a.node
				warm = func() []string { return dockerWarm(t, node, "helper") }
				left = func() []string { return leftovers(t, node) }
			case "containerd":
				importIntoContainerd(t)
				a = startContainerdAgent(t, srv, 1, "")
				node = a.node
				warm = func() []string { return ctrdWarm(t, node, "helper") }
				left = func() []string { return ctrdLeftovers(t, node) }
			}
			run := func(spec gitlabtest.JobSpec, want string) int64 {
				t.Helper()
				spec.Script = []string{"cat README.md"}
				return runOK(t, srv, spec, want)
			}
			phases := func(id int64) string { return jobPhases(t, a, id) }
			waitWarm := func(what string, not []string) []string { return waitOneNew(t, what, warm, not) }

			run(gitlabtest.JobSpec{ProjectPath: "group/warm"}, "warm-v1")
			first := waitWarm("a warm sources helper after the first job", nil)

			// A new commit: the warm helper checks it out.
			srv.Commit(t, "group/warm", map[string]string{"README.md": "warm-v2\n"})
			if p := phases(run(gitlabtest.JobSpec{ProjectPath: "group/warm"}, "warm-v2")); !strings.Contains(p, "helper_warm=") {
				t.Fatalf("the second job of the project did not take the warm helper: %s", p)
			}
			second := waitWarm("the next warm helper after the second job (the first one used and removed)", first)

			// Another project: the warm helper does not fit; the job gets
			// its own sources and the next warm helper is for it.
			if p := phases(run(gitlabtest.JobSpec{ProjectPath: "group/other", ProjectID: 43}, "other-v1")); strings.Contains(p, "helper_warm=") {
				t.Fatalf("a job of another project took the warm helper: %s", p)
			}
			waitWarm("a warm helper for the other project", second)

			if err := a.stop(time.Minute); err != nil {
				t.Fatalf("agent exit: %v", err)
			}
			if l := left(); len(l) != 0 {
				t.Fatalf("left after the agent stopped (warm helpers included): %q", l)
			}
		})
	}
}

// dockerWarm lists the IDs of node's warm containers of kind.
func dockerWarm(t *testing.T, node, kind string) []string {
	t.Helper()
	f := filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node), filters.Arg("label", labelWarm+"="+kind))
	cs, err := dockerClient(t).ContainerList(t.Context(), container.ListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// ctrdWarm lists the IDs of node's warm containers of kind in the
// agent's containerd namespace.
func ctrdWarm(t *testing.T, node, kind string) []string {
	t.Helper()
	return ctrdContainers(t, ctrdLabel(executors.LabelNode, node), ctrdLabel(labelWarm, kind))
}

// runOK runs spec's job and fails the test unless it succeeds with each
// of want in its log.
func runOK(t *testing.T, srv *gitlabtest.Server, spec gitlabtest.JobSpec, want ...string) int64 {
	t.Helper()
	id := srv.Enqueue(spec)
	rec := srv.WaitFinal(t, id, 2*time.Minute)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("job of %s: %s, want success:\n%s", spec.ProjectPath, rec.State, tail(string(rec.Trace), 3000))
	}
	for _, w := range want {
		if !strings.Contains(string(rec.Trace), w) {
			t.Fatalf("job of %s: the log lacks %q:\n%s", spec.ProjectPath, w, tail(string(rec.Trace), 3000))
		}
	}
	return id
}

// jobPhases is the agent's debug line of job id's phases, logged once
// the job is cleaned up.
func jobPhases(t *testing.T, a *agent, id int64) string {
	t.Helper()
	var line string
	waitFor(t, time.Minute, fmt.Sprintf("job %d's phases in the agent log", id), func() bool {
		for _, l := range strings.Split(a.out.String(), "\n") {
			if strings.Contains(l, "job phases since hand-out") && strings.Contains(l, fmt.Sprintf("job=%d ", id)) {
				line = l
				return true
			}
		}
		return false
	})
	return line
}

// waitOneNew waits until list returns exactly one ID, not one of not.
func waitOneNew(t *testing.T, what string, list func() []string, not []string) []string {
	t.Helper()
	var ids []string
	waitFor(t, time.Minute, what, func() bool {
		ids = list()
		return len(ids) == 1 && !slices.Contains(not, ids[0])
	})
	return ids
}
