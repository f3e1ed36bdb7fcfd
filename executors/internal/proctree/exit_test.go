package proctree

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestInitExited(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	p := New(cmd.Process.Pid)
	if done, err := p.InitExited(); err != nil || done {
		t.Fatalf("a running process: exited %t, %v; want false, nil", done, err)
	}
	// A zombie has exited: killed, not yet reaped.
	if err := p.KillInit(); err != nil {
		t.Fatalf("KillInit: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := p.AwaitInitExit(ctx); err != nil {
		t.Fatalf("AwaitInitExit of a killed process: %v", err)
	}
	_ = cmd.Wait() // reaped: gone
	if done, err := p.InitExited(); err != nil || !done {
		t.Fatalf("a reaped process: exited %t, %v; want true, nil", done, err)
	}
	if err := p.KillInit(); err != nil {
		t.Fatalf("KillInit of an exited process: %v, want nil", err)
	}

	// Another process under the same PID (another start time): exited.
	reused := New(os.Getpid())
	reused.initStart++
	if done, err := reused.InitExited(); err != nil || !done {
		t.Fatalf("a PID taken by a later process: exited %t, %v; want true, nil", done, err)
	}
	// The same process in another cgroup (an exiting init leaves its
	// cgroups before it is gone): not exited.
	moved := New(os.Getpid())
	moved.cgroup = "0::/some/other/cgroup\n"
	if done, err := moved.InitExited(); err != nil || done {
		t.Fatalf("a live process whose cgroup changed: exited %t, %v; want false, nil", done, err)
	}
	// Not visible when made: nothing can be told.
	if _, err := (Procs{initPID: 1}).InitExited(); !errors.Is(err, ErrHidden) {
		t.Fatalf("hidden processes: %v, want ErrHidden", err)
	}

	// A live process: AwaitInitExit ends with ctx.
	live := New(os.Getpid())
	short, cancelShort := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelShort()
	if err := live.AwaitInitExit(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AwaitInitExit of a live process: %v, want the deadline", err)
	}
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		cgroup, id string
		want       bool
	}{
		{"0::/system.slice/docker-0123abcd.scope\n", "0123abcd", true},
		{"12:memory:/docker/0123abcd\n0::/docker/0123abcd\n", "0123abcd", true},
		{"0::/e2e/runfleet-7-ab\n", "runfleet-7-ab", true},
		{"0::/e2e/runfleet-7-ab-steps\n", "runfleet-7-ab", false},
		{"0::/e2e/runfleet-7-ab-steps\n0::/e2e/runfleet-7-ab/x\n", "runfleet-7-ab", true},
		{"0::/system.slice/docker-0123abcd.scope\n", "ffff", false},
		{"0::/system.slice/docker-0123abcd.scope\n", "", false},
	} {
		if got := (Procs{initPID: 1, cgroup: tc.cgroup}).Of(tc.id); got != tc.want {
			t.Errorf("Of(%q) in %q = %t, want %t", tc.id, tc.cgroup, got, tc.want)
		}
	}
	if (Procs{initPID: 1}).Of("0123abcd") {
		t.Error("hidden Procs are of a container")
	}
}
