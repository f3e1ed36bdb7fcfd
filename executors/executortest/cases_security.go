package executortest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var securityCases = []testCase{
	{"Hardening", testHardening},
}

// capSysAdmin is CAP_SYS_ADMIN's bit number.
const capSysAdmin = 21

func testHardening(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{})
	t.Run("no engine socket", func(t *testing.T) {
		out := mustRun(t, env, "for s in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock; do [ -e $s ] && echo $s; done; true")
		if out != "" {
			t.Errorf("engine sockets visible in the job container: %q", out)
		}
	})
	t.Run("mount refused", func(t *testing.T) {
		res, out := run(t, env, executors.Step{Script: "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"})
		if res.ExitCode == 0 {
			t.Errorf("unprivileged job mounted a tmpfs (output %q)", out)
		}
	})
	t.Run("no new privileges, seccomp filter", func(t *testing.T) {
		status := mustRun(t, env, "cat /proc/self/status")
		for _, want := range []string{"NoNewPrivs:\t1", "Seccomp:\t2"} {
			if !strings.Contains(status, want) {
				t.Errorf("/proc/self/status lacks %q", want)
			}
		}
	})
	t.Run("capabilities reduced", func(t *testing.T) {
		eff := capEff(t, env)
		bnd := capField(t, mustRun(t, env, "cat /proc/self/status"), "CapBnd")
		if eff&(1<<capSysAdmin) != 0 {
			t.Errorf("CapEff %x includes CAP_SYS_ADMIN", eff)
		}
		if full := uint64(1)<<41 - 1; eff&full == full {
			t.Errorf("CapEff %x is a full capability set", eff)
		}
		if bnd&(1<<capSysAdmin) != 0 {
			t.Errorf("CapBnd %x includes CAP_SYS_ADMIN", bnd)
		}
	})
}

// capEff returns the effective capability mask of a step's shell.
func capEff(t *testing.T, env executors.Env) uint64 {
	t.Helper()
	return capField(t, mustRun(t, env, "cat /proc/self/status"), "CapEff")
}

// capField parses one hex capability line of /proc/<pid>/status.
func capField(t *testing.T, status, field string) uint64 {
	t.Helper()
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatalf("%s: %v", field, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status:\n%s", field, status)
	return 0
}
