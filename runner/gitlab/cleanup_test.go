package gitlab

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/diskcap"
	"github.com/runfleet/runfleet/executors/docker"
)

// TestCleanupSplit: what the slot's next job must not find in the build
// directory goes before the slot is freed (cleanupFiles), with the job's
// container still there; the container goes in cleanupEngine, which the
// agent runs off the slot. A size-capped build directory keeps the whole
// cleanup on the slot. Runs on the real Docker engine.
func TestCleanupSplit(t *testing.T) {
	cases := []struct {
		strategy    string
		keepSources bool
	}{
		{"fetch", true},
		{"clone", false},
		{"none", false},
	}
	node := "gl-unit-cleanup-" + fmt.Sprint(os.Getpid())
	ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("the Docker engine is required: %v", err)
	}
	t.Cleanup(func() {
		_ = ex.Reap(context.Background())
		ex.Close()
	})
	for i, tc := range cases {
		t.Run(tc.strategy, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			b := &build{hostDir: t.TempDir(), project: "group/app", vars: []jobVariable{{Key: "GIT_STRATEGY", Value: tc.strategy}}}
			for _, f := range []string{filepath.Join(b.hostProjectDir(), "README.md"), filepath.Join(b.hostProjectDir()+".tmp", "SECRET_FILE")} {
				if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env, err := ex.Create(ctx, executors.Spec{JobID: fmt.Sprintf("cleanup-%d", i), Node: node,
				Image: executors.Image{Name: "runfleet/busybox:latest", PullPolicy: "never"}})
			if err != nil {
				t.Fatalf("creating the job's container (make images builds runfleet/busybox): %v", err)
			}
			b.env = env
			if !b.engineCleanupLater() {
				t.Fatal("an uncapped build directory keeps the engine cleanup on the slot")
			}

			dirsBefore, err := statIDs(b.hostProjectDir(), b.hostProjectDir()+".tmp")
			if err != nil {
				t.Fatal(err)
			}
			inits := initPIDs(ctx, t, node)
			if len(inits) == 0 {
				t.Fatal("no running container of the job before stopProcesses: the check below proves nothing")
			}
			if err := b.stopProcesses(ctx); err != nil {
				t.Fatalf("stopProcesses: %v", err)
			}
			// Its processes are gone once the container's init has exited
			// (the engine may still be tearing the container down).
			for name, pid := range inits {
				if procRuns(pid) {
					st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
					cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
					t.Errorf("container %s's init (PID %d) still runs after stopProcesses: %s %s", name, pid, st, cg)
				}
			}
			if err := b.cleanupFiles(); err != nil {
				t.Fatalf("cleanupFiles: %v", err)
			}
			// Emptied, the directories kept (a warm job container mounts them).
			if _, err := os.Stat(filepath.Join(b.hostProjectDir()+".tmp", "SECRET_FILE")); !os.IsNotExist(err) {
				t.Errorf("the job's temporary files (file variables) are left for the next job: %v", err)
			}
			if ids, err := statIDs(b.hostProjectDir(), b.hostProjectDir()+".tmp"); err != nil || !slices.Equal(ids, dirsBefore) {
				t.Errorf("the project and temporary files' directories were replaced or removed (%v), want them emptied in place", err)
			}
			readme := filepath.Join(b.hostProjectDir(), "README.md")
			if _, err := os.Stat(readme); os.IsNotExist(err) == tc.keepSources {
				t.Errorf("GIT_STRATEGY=%s: sources kept = %v, want %v", tc.strategy, err == nil, tc.keepSources)
			}
			if len(nodeContainers(ctx, t, node)) == 0 {
				t.Fatal("the job's container is gone before cleanupEngine")
			}

			if err := b.cleanupEngine(ctx); err != nil {
				t.Fatalf("cleanupEngine: %v", err)
			}
			if n, err := ex.ReapCount(ctx); err != nil || n != 0 || len(nodeContainers(ctx, t, node)) != 0 {
				t.Errorf("after cleanupEngine the reaper still found %d objects (%v)", n, err)
			}
			if _, err := os.Stat(readme); os.IsNotExist(err) == tc.keepSources {
				t.Errorf("cleanupEngine touched the build directory: sources kept = %v", err == nil)
			}
		})
	}
	t.Run("disk_size", func(t *testing.T) {
		b := &build{hostDir: t.TempDir(), project: "group/app", buildCap: &diskcap.Cap{}}
		if b.engineCleanupLater() {
			t.Error("a size-capped build directory must be unmounted before the slot's next job mounts it")
		}
	})
}

// initPIDs returns the host PIDs of the inits of node's running
// containers, by name.
func initPIDs(ctx context.Context, t *testing.T, node string) map[string]int {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer c.Close()
	out := map[string]int{}
	for _, cs := range nodeContainers(ctx, t, node) {
		ins, err := c.ContainerInspect(ctx, cs.ID)
		if err != nil {
			t.Fatalf("inspect %v: %v", cs.Names, err)
		}
		if ins.State != nil && ins.State.Running && ins.State.Pid > 0 {
			out[ins.Name] = ins.State.Pid
		}
	}
	return out
}

// procRuns reports whether host process pid exists and is not a zombie.
func procRuns(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || !bytes.HasPrefix(bytes.TrimSpace(b[i+1:]), []byte("Z"))
}

// nodeContainers lists the containers labelled for node.
func nodeContainers(ctx context.Context, t *testing.T, node string) []container.Summary {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer c.Close()
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", executors.LabelNode+"="+node))})
	if err != nil {
		t.Fatalf("listing the node's containers: %v", err)
	}
	return cs
}
