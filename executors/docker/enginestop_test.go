package docker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"

	"github.com/runfleet/runfleet/executors"
)

// TestFirstStepKilledFromOutside: a first step whose container is killed
// from outside the job (docker kill, docker stop) while the engine keeps
// running ends with the container's real exit status and no engine
// error: the engine confirms at once that it is the one that started the
// container and still serves. The time from the kill to RunFirst's
// return is logged (not asserted).
func TestFirstStepKilledFromOutside(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		signal string // "" stops the container (SIGTERM) instead of killing it
		want   int
	}{
		{"docker kill", "KILL", 137},
		{"docker kill -s TERM", "TERM", 143},
		{"docker stop", "", 143},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			node := fmt.Sprintf("rft-kill-%d", time.Now().UnixNano())
			ex := newExecutor(t, node)
			api := newClient(t)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			env, err := ex.CreateFirstStep(ctx, executors.Spec{
				JobID:   "kill-" + strings.ReplaceAll(tt.name, " ", "-"),
				Image:   executors.Image{Name: testImage, PullPolicy: executors.PullNever},
				Network: executors.NetworkNone,
			}, executors.Step{Script: "echo started; sleep 300"})
			if err != nil {
				t.Fatalf("CreateFirstStep: %v", err)
			}
			t.Cleanup(func() { _ = env.Close(context.WithoutCancel(ctx)) })
			var out lastByteWriter
			type result struct {
				res executors.Result
				err error
				at  time.Time
			}
			done := make(chan result, 1)
			go func() {
				res, err := env.RunFirst(ctx, &out)
				done <- result{res, err, time.Now()}
			}()
			deadline := time.Now().Add(time.Minute)
			for !strings.Contains(out.text(), "started") {
				if time.Now().After(deadline) {
					t.Fatalf("the first step did not print its first line within a minute (output %q)", out.text())
				}
				time.Sleep(20 * time.Millisecond)
			}
			id := firstContainer(t, api, node)
			killed := time.Now()
			if tt.signal == "" {
				zero := 0
				err = api.ContainerStop(ctx, id, container.StopOptions{Timeout: &zero})
			} else {
				err = api.ContainerKill(ctx, id, tt.signal)
			}
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(time.Minute):
				t.Fatal("RunFirst did not return within a minute of the kill")
			}
			if r.err != nil {
				t.Fatalf("RunFirst after %s: %v, want the container's exit status and no error", tt.name, r.err)
			}
			if r.res.ExitCode != tt.want {
				t.Errorf("RunFirst after %s: exit code %d, want %d", tt.name, r.res.ExitCode, tt.want)
			}
			t.Logf("%s → RunFirst returned exit code %d after %s", tt.name, r.res.ExitCode, r.at.Sub(killed).Round(time.Millisecond))
		})
	}
}

// firstContainer is the ID of the one job container of node.
func firstContainer(t *testing.T, api interface {
	ContainerList(context.Context, container.ListOptions) ([]container.Summary, error)
}, node string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cs, err := api.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))})
	if err != nil {
		t.Fatalf("list the job's containers: %v", err)
	}
	if len(cs) != 1 {
		for _, c := range cs {
			t.Logf("container %s %s %s", c.Names, c.State, c.Status)
		}
		t.Fatalf("node %s has %d containers, want the one job container", node, len(cs))
	}
	return cs[0].ID
}
