package executortest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

var limitCases = []testCase{
	{"MemoryLimitOOM", testMemoryLimit},
	{"PidsLimit", testPidsLimit},
	{"CPUQuota", testCPUQuota},
	{"ShmSize", testShmSize},
	{"DiskCap", testDiskCap},
}

const mib = 1 << 20

func testMemoryLimit(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Resources: executors.Resources{Memory: 64 * mib, MemorySwap: 64 * mib}})
	// tail keeps the last "line" of a newline-free stream: it grows until
	// the kernel kills it.
	res, out := run(t, env, executors.Step{Script: "echo hog; tail /dev/zero"})
	// OOMKilled is what lets the agent give the job a clear reason.
	if res.ExitCode == 0 || !res.OOMKilled {
		t.Fatalf("memory hog: exit %d, OOMKilled %t (output %q); want a non-zero exit reported as OOMKilled", res.ExitCode, res.OOMKilled, out)
	}
	if res, _ := run(t, env, executors.Step{Script: "exit 137"}); res.OOMKilled {
		t.Errorf("a plain exit 137 reported as OOMKilled")
	}
	t.Logf("memory hog: exit %d, OOMKilled %t", res.ExitCode, res.OOMKilled)
	if out := mustRun(t, env, "echo ok"); out != "ok\n" {
		t.Errorf("env after OOM: %q", out)
	}
}

// boundedBomb forks a binary tree of 2^9 shells that each sleep: far over
// a 64-process limit, yet finite, so a broken limit cannot take the host.
const boundedBomb = `b() { if [ "$1" -gt 0 ]; then b $(($1-1)) & b $(($1-1)) & wait; else sleep 1; fi; }; b 9; echo bomb-done`

func testPidsLimit(t *testing.T, h Harness) {
	node := uniqueNode(t)
	ex := h.New(t, node)
	img := executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	env := create(t, ex, executors.Spec{JobID: newJobID(), Node: node, Image: img, Resources: executors.Resources{PidsLimit: 64}})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out syncBuffer
	res, err := env.Exec(ctx, executors.Step{Script: boundedBomb}, &out)
	text := strings.ToLower(out.String())
	switch {
	case err != nil && !errors.Is(err, context.DeadlineExceeded):
		t.Fatalf("fork bomb: Exec error %v", err)
	case err == nil && res.ExitCode == 0 && !strings.Contains(text, "fork"):
		t.Fatalf("fork bomb ran unhindered: exit 0, output %q", out.String())
	}
	t.Logf("fork bomb: exit %d, err %v, %d bytes of output", res.ExitCode, err, len(text))
	if out := mustRun(t, env, "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max"); strings.TrimSpace(out) != "64" {
		t.Errorf("pids.max in the container: %q, want 64", out)
	}
	// The node still runs new work.
	fresh := create(t, ex, executors.Spec{JobID: newJobID(), Node: node, Image: img})
	if out := mustRun(t, fresh, "echo fine"); out != "fine\n" {
		t.Errorf("new env after the fork bomb: %q", out)
	}
}

func testCPUQuota(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Resources: executors.Resources{NanoCPUs: 500_000_000}})
	out := mustRun(t, env, `if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
  echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
else cat /sys/fs/cgroup/cpu.max; fi`)
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("cpu quota output %q", out)
	}
	quota, err1 := strconv.ParseFloat(f[0], 64)
	period, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil || period == 0 || quota/period != 0.5 {
		t.Errorf("cpu quota/period = %q, want 0.5 CPU", out)
	}
}

func testShmSize(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Resources: executors.Resources{ShmSize: 32 * mib}})
	out := mustRun(t, env, "df -k /dev/shm | tail -n 1")
	f := strings.Fields(out)
	if len(f) < 2 || f[1] != "32768" {
		t.Errorf("df /dev/shm: %q, want 32768 1K-blocks", out)
	}
}

// testDiskCap asks for a 16 MiB cap: the per-job volume must stop a
// 32 MiB write, and the log must say what is capped. When it claims the
// container layer is capped, that must hold too.
func testDiskCap(t *testing.T, h Harness) {
	var log syncBuffer
	_, env := setup(t, h, executors.Spec{Log: &log, Mounts: []executors.Mount{{Target: "/scratch", Volume: true}},
		Resources: executors.Resources{DiskSize: 16 * mib}})
	notes := log.String()
	t.Logf("job log:\n%s", notes)
	if !strings.Contains(notes, "/scratch are capped at 16MiB") {
		t.Errorf("job log does not state the volume cap: %q", notes)
	}
	res, out := run(t, env, executors.Step{Script: "dd if=/dev/zero of=/scratch/fill bs=1M count=32 && sync"})
	if res.ExitCode == 0 || !strings.Contains(strings.ToLower(out), "no space left") {
		t.Errorf("32 MiB into a 16 MiB volume: exit %d, output %q; want ENOSPC", res.ExitCode, out)
	}
	mustRun(t, env, "rm -f /scratch/fill && echo small > /scratch/f")
	switch {
	case strings.Contains(notes, "writable layer is capped"):
		if res, out := run(t, env, executors.Step{Script: "dd if=/dev/zero of=/fill bs=1M count=32 && sync"}); res.ExitCode == 0 {
			t.Errorf("the log claims a capped container layer, but 32 MiB were written: %q", out)
		}
	case strings.Contains(notes, "writable layer is NOT capped"):
	default:
		t.Errorf("job log does not say whether the container layer is capped: %q", notes)
	}
}
