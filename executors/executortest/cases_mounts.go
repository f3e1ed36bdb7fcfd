package executortest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var mountCases = []testCase{
	{"BindMounts", testBindMounts},
	{"VolumeMount", testVolumeMount},
}

func testBindMounts(t *testing.T, h Harness) {
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(rw, "in.txt"), []byte("from-host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "ro.txt"), []byte("read-only\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, env := setup(t, h, executors.Spec{Mounts: []executors.Mount{
		{Source: rw, Target: "/mnt/rw"},
		{Source: ro, Target: "/mnt/ro", ReadOnly: true},
	}})
	if out := mustRun(t, env, "cat /mnt/rw/in.txt /mnt/ro/ro.txt && echo from-job > /mnt/rw/out.txt"); out != "from-host\nread-only\n" {
		t.Errorf("reading mounts: got %q", out)
	}
	b, err := os.ReadFile(filepath.Join(rw, "out.txt"))
	if err != nil || string(b) != "from-job\n" {
		t.Errorf("host sees %q, %v; want the job's write", b, err)
	}
	res, out := run(t, env, executors.Step{Script: "echo x > /mnt/ro/new.txt"})
	if res.ExitCode == 0 {
		t.Errorf("write to a read-only mount succeeded")
	}
	if !strings.Contains(strings.ToLower(out), "read-only") {
		t.Logf("read-only write failed with %q", out)
	}
	if _, err := os.Stat(filepath.Join(ro, "new.txt")); err == nil {
		t.Errorf("file appeared in the read-only host directory")
	}
}

func testVolumeMount(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Mounts: []executors.Mount{{Target: "/cache", Volume: true}}})
	mustRun(t, env, "echo kept > /cache/f")
	if out := mustRun(t, env, "cat /cache/f"); out != "kept\n" {
		t.Errorf("volume content across steps: got %q", out)
	}
}
