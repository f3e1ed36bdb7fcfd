package executortest

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// firstStepCases check executors.FirstStepCreator, for executors that
// offer it: the first step runs as the job container's own process with
// every limit and security option of Create, and the Env goes on running
// steps with Exec.
var firstStepCases = []testCase{
	{"FirstStepRuns", testFirstStepRuns},
	{"FirstStepLimitsAndHardening", testFirstStepLimits},
	{"FirstStepOOM", testFirstStepOOM},
	{"FirstStepMetadataBlocked", testFirstStepMetadata},
	{"FirstStepCancel", testFirstStepCancel},
	{"FirstStepUnusedCloses", testFirstStepUnused},
	{"FirstStepOrphanOutput", testFirstStepOrphan},
	{"FirstStepPrestart", testFirstStepPrestart},
}

// setupFirst creates a first-step Env for spec (JobID, Node and Image
// filled in) with first as its first step, closed at cleanup. It skips
// executors without the capability: it is optional.
func setupFirst(t *testing.T, h Harness, spec executors.Spec, first executors.Step) (string, executors.FirstStepEnv) {
	t.Helper()
	node, fc, spec := withCapability[executors.FirstStepCreator](t, h, spec)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := fc.CreateFirstStep(ctx, spec, first)
	if err != nil {
		t.Fatalf("CreateFirstStep(%s): %v", spec.JobID, err)
	}
	t.Cleanup(func() { closeEnv(t, env) })
	return node, env
}

// withCapability returns a new node's executor as the optional
// capability C, and spec with its JobID, Node and (unless set) Image
// filled in. It skips executors without C, and fails for one whose
// harness declares the first-step capabilities (Harness.FirstStep).
func withCapability[C any](t *testing.T, h Harness, spec executors.Spec) (string, C, executors.Spec) {
	t.Helper()
	node := uniqueNode(t)
	ex := h.New(t, node)
	c, ok := ex.(C)
	if !ok && h.FirstStep {
		t.Fatalf("%T does not implement %T, which its harness declares (FirstStep)", ex, &c)
	}
	if !ok {
		t.Skipf("%T does not implement the optional %T", ex, &c)
	}
	spec.JobID, spec.Node = newJobID(), node
	if spec.Image.Name == "" {
		spec.Image = executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	}
	return node, c, spec
}

// runFirst runs the first step, failing the test on an error.
func runFirst(t *testing.T, env executors.FirstStepEnv) (executors.Result, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	var out syncBuffer
	res, err := env.RunFirst(ctx, &out)
	if err != nil {
		t.Fatalf("RunFirst: %v (output %q)", err, out.String())
	}
	return res, out.String()
}

func testFirstStepRuns(t *testing.T, h Harness) {
	spec := executors.Spec{
		Env:     []string{"A=spec-a", "B=spec-b"},
		WorkDir: "/work/dir",
		Mounts:  []executors.Mount{{Target: "/shared", Volume: true}},
	}
	first := executors.Step{
		Script: `echo a; echo b >&2; echo "$A $B $C $(pwd) $(id -u)"; echo d >&2; exit 42`,
		Env:    []string{"B=step-b", "C=step-c"},
		User:   "65534",
	}
	_, env := setupFirst(t, h, spec, first)
	res, out := runFirst(t, env)
	if res.ExitCode != 42 || res.OOMKilled {
		t.Errorf("first step: exit %d, OOMKilled %t; want 42, false (output %q)", res.ExitCode, res.OOMKilled, out)
	}
	if want := "a\nb\nspec-a step-b step-c /work/dir 65534\nd\n"; out != want {
		t.Errorf("first step output %q, want %q", out, want)
	}
	if _, err := env.RunFirst(t.Context(), &syncBuffer{}); !errors.Is(err, executors.ErrFirstStepUsed) {
		t.Errorf("second RunFirst: %v, want ErrFirstStepUsed", err)
	}
	// Later steps run with Exec, with the spec's environment and mounts.
	if got := mustRun(t, env, `echo "$A $B $(pwd) $(id -u)"`); got != "spec-a spec-b /work/dir 0\n" {
		t.Errorf("Exec after RunFirst: %q", got)
	}
	if res, out := run(t, env, executors.Step{Script: "exit 3"}); res.ExitCode != 3 {
		t.Errorf("Exec exit 3 after RunFirst: exit %d (%q)", res.ExitCode, out)
	}

	// What the first step writes to a volume is there for Exec; long
	// output arrives complete.
	_, root := setupFirst(t, h, executors.Spec{Mounts: []executors.Mount{{Target: "/shared", Volume: true}}},
		executors.Step{Script: "echo kept > /shared/f; seq 1 20000"})
	res, out = runFirst(t, root)
	if lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); res.ExitCode != 0 || len(lines) != 20000 || lines[19999] != "20000" {
		t.Errorf("seq 1 20000 as the first step: exit %d, %d lines", res.ExitCode, len(lines))
	}
	if got := mustRun(t, root, "cat /shared/f"); got != "kept\n" {
		t.Errorf("volume content after the first step: %q", got)
	}
}

// testFirstStepLimits checks, from inside a first step, what the limit
// and hardening cases check for Exec: the same cgroup limits, no engine
// socket, no mount, no new privileges, seccomp, reduced capabilities and
// the disk cap; then that the container of later steps has them too.
func testFirstStepLimits(t *testing.T, h Harness) {
	var log syncBuffer
	_, env := setupFirst(t, h, limitsSpec(&log), executors.Step{Script: limitsProbe})
	if !strings.Contains(log.String(), "/scratch are capped at 16MiB") {
		t.Errorf("job log does not state the volume cap: %q", log.String())
	}
	res, out := runFirst(t, env)
	if res.ExitCode != 0 {
		t.Fatalf("probe exited %d:\n%s", res.ExitCode, out)
	}
	t.Run("first step", func(t *testing.T) { checkLimits(t, out) })
	mustRun(t, env, "rm -f /scratch/fill")
	t.Run("later steps", func(t *testing.T) { checkLimits(t, mustRun(t, env, limitsProbe)) })
}

// limitsSpec is the spec whose limits limitsProbe shows and checkLimits
// checks.
func limitsSpec(log *syncBuffer) executors.Spec {
	return executors.Spec{
		Log:    log,
		Mounts: []executors.Mount{{Target: "/scratch", Volume: true}},
		Resources: executors.Resources{
			Memory: 128 * mib, MemorySwap: 128 * mib, PidsLimit: 64, NanoCPUs: 500_000_000,
			ShmSize: 32 * mib, DiskSize: 16 * mib,
		},
	}
}

// limitsProbe prints, from inside a container of limitsSpec, its limits
// and hardening.
const limitsProbe = `echo "pids $(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max)"
if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then echo "cpu $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"
else echo "cpu $(cat /sys/fs/cgroup/cpu.max)"; fi
echo "mem $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)"
echo "shm $(df -k /dev/shm | tail -n 1 | awk '{print $2}')"
for s in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do [ -e $s ] && echo "socket $s"; done
mkdir -p /tmp/m && mount -t tmpfs none /tmp/m 2>/dev/null && echo "mounted"
grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/self/status
if dd if=/dev/zero of=/scratch/fill bs=1M count=32 2>/dev/null; then echo "disk uncapped"; else echo "disk capped"; fi
true`

// checkLimits checks limitsProbe's output: the limits of limitsSpec, no
// engine socket, no mount, no new privileges, seccomp, reduced
// capabilities and the disk cap.
func checkLimits(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{"pids 64\n", "shm 32768\n", "mem 134217728\n", "NoNewPrivs:\t1\n", "Seccomp:\t2\n", "disk capped\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "cpu 50000 100000\n") && !strings.Contains(out, "cpu 50000 100000 \n") {
		t.Errorf("cpu quota is not 0.5 CPU:\n%s", out)
	}
	for _, bad := range []string{"socket ", "mounted", "disk uncapped"} {
		if strings.Contains(out, bad) {
			t.Errorf("output has %q:\n%s", bad, out)
		}
	}
	for _, field := range []string{"CapEff", "CapBnd"} {
		if c := capField(t, out, field); c&(1<<capSysAdmin) != 0 || c&(1<<41-1) == 1<<41-1 {
			t.Errorf("%s %x includes CAP_SYS_ADMIN or is full", field, c)
		}
	}
}

func testFirstStepOOM(t *testing.T, h Harness) {
	_, env := setupFirst(t, h, executors.Spec{Resources: executors.Resources{Memory: 64 * mib, MemorySwap: 64 * mib}},
		executors.Step{Script: "echo hog; tail /dev/zero"})
	res, out := runFirst(t, env)
	if res.ExitCode == 0 || !res.OOMKilled {
		t.Fatalf("memory hog as the first step: exit %d, OOMKilled %t (output %q); want a non-zero exit reported as OOMKilled", res.ExitCode, res.OOMKilled, out)
	}
	if out := mustRun(t, env, "echo ok"); out != "ok\n" {
		t.Errorf("Exec after an OOM-killed first step: %q", out)
	}
}

func testFirstStepMetadata(t *testing.T, h Harness) {
	si := MetadataStandIn(t)
	script := fetch("http://"+si.Control+"/") + "\n" + fetch("http://"+MetadataIPv4+"/") + "\n" + fetch("http://["+MetadataIPv6+"]/")
	_, env := setupFirst(t, h, executors.Spec{}, executors.Step{Script: script})
	_, out := runFirst(t, env)
	if !strings.HasPrefix(out, "instance-credentials\nREACHED\n") {
		t.Fatalf("control: the first step cannot reach the stand-in's other address %s, so the check proves nothing: %q", si.Control, out)
	}
	if strings.Count(out, "instance-credentials") != 1 || strings.Count(out, "BLOCKED") != 2 {
		t.Errorf("the first step reached a metadata endpoint: %q", out)
	}
}

// cancelScript is a first step that runs until cancelled, with a
// process of its own in the background.
const cancelScript = "(sleep 300 &); echo started; sleep 300"

func testFirstStepCancel(t *testing.T, h Harness) {
	_, env := setupFirst(t, h, executors.Spec{}, executors.Step{Script: cancelScript})
	checkFirstCancel(t, env, "RunFirst", func(ctx context.Context, out io.Writer) error {
		_, err := env.RunFirst(ctx, out)
		return err
	})
}

// checkFirstCancel runs a first step of cancelScript with run, cancels it
// once it started, and checks that run returns context.Canceled in time
// and that the Env still runs steps with Exec.
func checkFirstCancel(t *testing.T, env executors.Env, name string, run func(ctx context.Context, out io.Writer) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out) }()
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") }, 20*time.Second, name+"'s step to start")
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled %s returned %v, want an error wrapping context.Canceled", name, err)
		}
	case <-time.After(cancelDeadline):
		t.Fatalf("cancelled %s still running after %s", name, cancelDeadline)
	}
	if got := mustRun(t, env, "echo after"); got != "after\n" {
		t.Errorf("Exec after a cancelled %s: %q", name, got)
	}
}

func testFirstStepUnused(t *testing.T, h Harness) {
	node, env := setupFirst(t, h, richSpec(h), executors.Step{Script: "echo never"})
	if got := mustRun(t, env, "echo exec-first"); got != "exec-first\n" {
		t.Errorf("Exec before RunFirst: %q", got)
	}
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	if err := env.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close, still labelled for the node: %q", left)
	}
	if _, err := env.RunFirst(ctx, &syncBuffer{}); err == nil {
		t.Error("RunFirst after Close succeeded")
	}
}

// testFirstStepOrphan runs first steps that leave a process behind which
// goes on writing (or only holds the output open) after the script
// exits: RunFirst returns the script's exit status without waiting for
// that process, and nothing reaches the writer after RunFirst returned
// (what an orphan writes after the step's end is dropped).
func testFirstStepOrphan(t *testing.T, h Harness) {
	const writer = `(trap '' HUP TERM; while :; do echo orphan; sleep 0.01; done) & `
	for _, tt := range []struct {
		name, script string
		code         int
	}{
		{"writing orphan, exit 0", writer + "echo main; exit 0", 0},
		{"writing orphan, exit 5", writer + "echo main; exit 5", 5},
		{"silent orphan", "sleep 300 & echo main; exit 3", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, env := setupFirst(t, h, executors.Spec{}, executors.Step{Script: tt.script})
			ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
			defer cancel()
			var out syncBuffer
			res, err := env.RunFirst(ctx, &out)
			if err != nil {
				t.Fatalf("RunFirst: %v (output %q)", err, out.String())
			}
			got := out.String()
			if res.ExitCode != tt.code || res.OOMKilled {
				t.Errorf("exit %d, OOMKilled %t; want %d, false (output %q)", res.ExitCode, res.OOMKilled, tt.code, got)
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			mains := 0
			for _, l := range lines {
				switch l {
				case "main":
					mains++
				case "orphan":
				default:
					t.Errorf("unexpected output line %q in %q", l, got)
				}
			}
			if mains != 1 {
				t.Errorf("output has %d lines \"main\", want 1: %q", mains, got)
			}
			// Exec starts the Env's step container: time for an orphan to
			// write, had it survived; nothing more may reach the writer.
			if got := mustRun(t, env, "echo after"); got != "after\n" {
				t.Errorf("Exec after the first step: %q", got)
			}
			if later := out.String(); later != got {
				t.Errorf("output written after RunFirst returned: %q", strings.TrimPrefix(later, got))
			}
		})
	}
}

// testFirstStepPrestart checks executors.FirstStepPrestarter, for the
// executors that offer it: a prestarted first step waits at the gate,
// running nothing, until RunFirst, which then runs it with its whole
// output and an empty stdin; a second Prestart is refused; an Env
// prestarted and never run closes leaving nothing.
func testFirstStepPrestart(t *testing.T, h Harness) {
	const script = `echo ran > /shared/ran; echo out; if read -r x; then echo "stdin had $x"; else echo stdin-empty; fi; exit 7`
	_, env := setupFirst(t, h, executors.Spec{Mounts: []executors.Mount{{Target: "/shared", Volume: true}}}, executors.Step{Script: script})
	p, ok := env.(executors.FirstStepPrestarter)
	if !ok {
		t.Skipf("%T does not implement the optional executors.FirstStepPrestarter", env)
	}
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	if err := p.Prestart(ctx); err != nil {
		t.Fatalf("Prestart: %v", err)
	}
	time.Sleep(500 * time.Millisecond) // time for a step not held at the gate to run
	if got := mustRun(t, env, "cat /shared/ran 2>/dev/null || echo gated"); got != "gated\n" {
		t.Errorf("after Prestart, before RunFirst, the step already ran: %q", got)
	}
	res, out := runFirst(t, env)
	if res.ExitCode != 7 || out != "out\nstdin-empty\n" {
		t.Errorf("prestarted first step: exit %d, output %q; want 7, \"out\\nstdin-empty\\n\"", res.ExitCode, out)
	}
	if got := mustRun(t, env, "cat /shared/ran"); got != "ran\n" {
		t.Errorf("after RunFirst the step's file holds %q", got)
	}
	if err := p.Prestart(ctx); err == nil {
		t.Error("Prestart after RunFirst succeeded")
	}

	// Closed before RunFirst, a prestarted step never runs: its gate
	// does not open when its stdin ends.
	marks := t.TempDir()
	spec := richSpec(h)
	spec.Mounts = append(spec.Mounts, executors.Mount{Source: marks, Target: "/mnt/marks"})
	node, unused := setupFirst(t, h, spec, executors.Step{Script: "echo ran > /mnt/marks/ran"})
	if err := unused.(executors.FirstStepPrestarter).Prestart(ctx); err != nil {
		t.Fatalf("Prestart: %v", err)
	}
	if err := unused.Close(ctx); err != nil {
		t.Fatalf("Close of a prestarted Env: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("after Close of a prestarted Env, still labelled for the node: %q", left)
	}
	if _, err := os.Stat(filepath.Join(marks, "ran")); !os.IsNotExist(err) {
		t.Errorf("the step of a prestarted Env closed before RunFirst ran (%v)", err)
	}
}
