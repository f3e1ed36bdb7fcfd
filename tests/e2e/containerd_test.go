package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// The containerd agent of these tests keeps its objects in its own
// namespace, state directory and job network (bridge and subnet), apart
// from the executor tests that may run at the same time.
const (
	ctrdNamespace = "runfleet-e2e"
	ctrdStateDir  = "/tmp/runfleet-e2e-containerd"
	ctrdBridge    = "rf-e2e0"
	ctrdSubnet    = "10.232.0.0/16"
)

// containerdAddress is $CONTAINERD_ADDRESS or the default socket.
func containerdAddress() string {
	if a := os.Getenv("CONTAINERD_ADDRESS"); a != "" {
		return a
	}
	return containerd.DefaultAddress
}

// importIntoContainerd copies testImage and helperImage from Docker into
// the agent's containerd namespace (no registry is reachable). It fails
// the test when either daemon does not answer.
func importIntoContainerd(t testing.TB) { importInto(t, ctrdNamespace, testImage, helperImage) }

// importInto copies Docker's images refs into the containerd namespace ns
// and returns the names they got there.
func importInto(t testing.TB, ns string, refs ...string) []string {
	t.Helper()
	dc := dockerClient(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	ex, err := containerd.New(containerd.Options{
		Address: containerdAddress(), Namespace: ns, Node: "e2e-import", StateDir: ctrdStateDir,
		Bridge: ctrdBridge, Subnet: ctrdSubnet, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("containerd (CONTAINERD_ADDRESS=%q) is needed by this test: %v", containerdAddress(), err)
	}
	defer ex.Close()
	rc, err := dc.ImageSave(ctx, refs)
	if err != nil {
		t.Fatalf("docker save %s (make images): %v", strings.Join(refs, " "), err)
	}
	defer rc.Close()
	names, err := ex.ImportArchive(ctx, rc)
	if err != nil {
		t.Fatalf("importing %s into containerd: %v", strings.Join(refs, " "), err)
	}
	return names
}

// ctrdLeftovers lists the containers and leases labelled for node in the
// agent's namespace, and its job state directories.
func ctrdLeftovers(t *testing.T, node string) []string {
	t.Helper()
	filter := ctrdLabel(executors.LabelNode, node)
	var out []string
	for _, id := range ctrdContainers(t, filter) {
		out = append(out, "container "+id)
	}
	c, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := namespaces.WithNamespace(t.Context(), ctrdNamespace)
	ls, err := c.LeasesService().List(ctx, filter)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		out = append(out, "lease "+l.ID)
	}
	dirs, _ := os.ReadDir(filepath.Join(ctrdStateDir, node))
	for _, d := range dirs {
		out = append(out, "state "+d.Name())
	}
	return out
}

// ctrdLabel is a containerd filter on one label's value.
func ctrdLabel(key, value string) string {
	return "labels." + strconv.Quote(key) + "==" + strconv.Quote(value)
}

// ctrdContainers lists the IDs of the containers matching the filters
// (all of them) in the agent's containerd namespace.
func ctrdContainers(t *testing.T, filters ...string) []string {
	t.Helper()
	c, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cs, err := c.Containers(namespaces.WithNamespace(t.Context(), ctrdNamespace), strings.Join(filters, ","))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, x := range cs {
		ids = append(ids, x.ID())
	}
	return ids
}

// TestContainerdJobs runs GitLab jobs through `runner run` with executor
// "containerd": sources, services by alias, limits, the tool cache, a
// cache handed from one job to the next, an OOM-killed job with its
// reason in the log, and nothing left behind.
func TestContainerdJobs(t *testing.T) {
	t.Parallel()
	importIntoContainerd(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
	srv.AddRepo(t, "group/ctrd", map[string]string{"README.md": "from-the-repo\n"})
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7907)
	srv.AddRunner(tok)
	dir := t.TempDir()
	tools := filepath.Join(dir, "tools")
	if err := os.MkdirAll(tools, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tools, "toolchain.txt"), []byte("toolchain-1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	node := nodeName(t)
	metrics := freePort(t)
	cfg := ctrdAgent{
		name: "e2e-containerd", url: srv.URL(), token: tok, node: node, metrics: metrics, dir: dir, concurrent: 3,
		containerd: []string{`cpus = "0.5"`, `memory = "128m"`, "pids_limit = 256", `shm_size = "16m"`, `disk_size = "64m"`},
		tables:     []string{"[runners.cache]", fmt.Sprintf("dir = %q", filepath.Join(dir, "cache")), fmt.Sprintf("tools_dir = %q", tools)},
	}.config()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgentWith(t, path, node, dir, metrics)

	const cgroupLimits = `echo cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)/$(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us) ` +
		`mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) pids=$(cat /sys/fs/cgroup/pids/pids.max)`
	tests := []struct {
		name   string
		spec   gitlabtest.JobSpec
		state  gitlabtest.JobState
		reason string
		check  func(t *testing.T, log string)
	}{
		{
			name: "sources, limits, tool cache, isolation",
			spec: gitlabtest.JobSpec{Script: []string{
				"cat README.md",
				"grep memory /proc/self/cgroup",
				cgroupLimits,
				"df -k /dev/shm | tail -n 1 | awk '{print \"shm=\" $2}'",
				"cat /opt/runfleet/tools/toolchain.txt",
				"! touch /opt/runfleet/tools/x 2>/dev/null && echo tools-read-only",
				"test ! -e /run/containerd/containerd.sock && test ! -e /var/run/docker.sock && echo no-engine-socket",
				"! mount -t tmpfs none /mnt 2>/dev/null && echo no-mount",
			}},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) {
				// containerd puts the task's cgroups under /<namespace>/<container ID>.
				mustContain(t, log, "Using containerd executor", "Limits: cpu 0.5 (CFS quota), memory 128MiB (no swap), 256 processes, /dev/shm 16MiB",
					"Disk: the build directory /builds is capped at 64MiB (ext4 on a loop device)",
					"Disk: the container's writable layer is NOT capped")
				mustContain(t, log, ":memory:/"+ctrdNamespace+"/runfleet-", "from-the-repo", "cpu=50000/100000", fmt.Sprintf("mem=%d", 128<<20), "pids=256",
					"shm=16384", "toolchain-1.0", "tools-read-only", "no-engine-socket", "no-mount", "Job succeeded")
			},
		},
		{
			name: "services by alias",
			spec: gitlabtest.JobSpec{
				Services: []gitlabtest.Image{{
					Name:       testImage,
					Alias:      "web",
					Entrypoint: []string{"/bin/sh", "-c", "mkdir -p /www && echo service-ok > /www/index.html && exec httpd -f -p 8080 -h /www"},
				}},
				Script: []string{"for i in $(seq 1 50); do wget -qO- http://web:8080/ && break; sleep 0.2; done"},
			},
			state: gitlabtest.StateSuccess,
			check: func(t *testing.T, log string) { mustContain(t, log, "service-ok") },
		},
		{
			name:   "disk hog",
			spec:   gitlabtest.JobSpec{Script: []string{"dd if=/dev/zero of=fill bs=1M count=100"}},
			state:  gitlabtest.StateFailed,
			reason: "script_failure",
			check:  func(t *testing.T, log string) { mustContain(t, log, "No space left on device") },
		},
		{
			name:   "memory hog",
			spec:   gitlabtest.JobSpec{Script: []string{"echo hog", "tail /dev/zero"}},
			state:  gitlabtest.StateFailed,
			reason: "script_failure",
			check:  func(t *testing.T, log string) { mustContain(t, log, "ran out of memory", "OOM") },
		},
	}
	ids := make([]int64, len(tests))
	for i, tt := range tests {
		tt.spec.ProjectPath = "group/ctrd"
		ids[i] = srv.Enqueue(tt.spec)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := srv.WaitFinal(t, ids[i], jobWait)
			log := string(rec.Trace)
			if rec.State != tt.state || rec.FailureReason != tt.reason {
				t.Fatalf("state = %s (%s), want %s (%s); log:\n%s", rec.State, rec.FailureReason, tt.state, tt.reason, tail(log, 4000))
			}
			checkReportedOnce(t, rec)
			tt.check(t, log)
		})
	}

	// A cache saved by one job is restored into the next.
	cacheSpec := func(script string) gitlabtest.JobSpec {
		return gitlabtest.JobSpec{ProjectPath: "group/ctrd", Script: []string{script},
			Cache: []gitlabtest.Cache{{Key: "deps", Paths: []string{"vendor/"}}}}
	}
	first := srv.Enqueue(cacheSpec("mkdir -p vendor && echo cached-by-first > vendor/dep.txt"))
	if rec := srv.WaitFinal(t, first, jobWait); rec.State != gitlabtest.StateSuccess {
		t.Fatalf("cache-saving job: %s (%s):\n%s", rec.State, rec.FailureReason, tail(string(rec.Trace), 3000))
	}
	second := srv.Enqueue(cacheSpec("rm -f README.md; cat vendor/dep.txt"))
	rec := srv.WaitFinal(t, second, jobWait)
	if rec.State != gitlabtest.StateSuccess || !strings.Contains(string(rec.Trace), "cached-by-first") {
		t.Fatalf("cache-restoring job: %s (%s):\n%s", rec.State, rec.FailureReason, tail(string(rec.Trace), 3000))
	}
	checkViolations(t, srv)

	if err := a.stop(time.Minute); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), filepath.Join(dir, "builds")) {
		t.Errorf("a build directory cap is still mounted:\n%s", mounts)
	}
	if left := ctrdLeftovers(t, node); len(left) != 0 {
		t.Errorf("after the jobs and a clean stop, still in containerd for the node: %q", left)
	}
}
