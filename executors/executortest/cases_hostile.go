package executortest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

var hostileCases = []testCase{
	{"MetadataBlocked", testMetadataBlocked},
	{"PrivilegedLoggedLoudly", testPrivilegedLogged},
	{"ReadOnlyRootfs", testReadOnlyRootfs},
	{"RuntimeByName", testRuntimeByName},
}

// fetch prints REACHED or BLOCKED for one URL, and what was served.
func fetch(url string) string {
	return fmt.Sprintf("if timeout 5 wget -qO- %s; then echo REACHED; else echo BLOCKED; fi", url)
}

// testMetadataBlocked puts a stand-in metadata endpoint on this machine
// and checks that jobs (with and without services) reach the stand-in's
// other address, so a route exists, but neither metadata address.
func testMetadataBlocked(t *testing.T, h Harness) {
	si := MetadataStandIn(t)
	node := uniqueNode(t)
	ex := h.New(t, node)
	img := executors.Image{Name: h.Image, PullPolicy: executors.PullNever}
	for _, svc := range []bool{false, true} {
		t.Run(fmt.Sprintf("services=%v", svc), func(t *testing.T) {
			spec := executors.Spec{JobID: newJobID(), Node: node, Image: img}
			if svc {
				spec.Services = []executors.Service{{Image: executors.Image{Name: h.Image, PullPolicy: executors.PullNever,
					Command: []string{"sleep", "300"}}, Aliases: []string{"svc"}}}
			}
			env := create(t, ex, spec)
			if out := mustRun(t, env, fetch("http://"+si.Control+"/")); !strings.Contains(out, "instance-credentials\nREACHED") {
				t.Fatalf("control: the job cannot reach the stand-in's other address %s, so the check proves nothing: %q", si.Control, out)
			}
			for _, addr := range []string{MetadataIPv4, "[" + MetadataIPv6 + "]"} {
				out := mustRun(t, env, fetch("http://"+addr+"/"))
				if !strings.Contains(out, "BLOCKED") || strings.Contains(out, "instance-credentials") {
					t.Errorf("job reached the metadata endpoint %s: %q", addr, out)
				}
			}
		})
	}
}

func testPrivilegedLogged(t *testing.T, h Harness) {
	node := uniqueNode(t)
	ex := h.New(t, node)
	var log syncBuffer
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	env, err := ex.Create(ctx, executors.Spec{JobID: newJobID(), Node: node, Privileged: true, Log: &log,
		Image: executors.Image{Name: h.Image, PullPolicy: executors.PullNever}})
	if !strings.Contains(log.String(), executors.PrivilegedWarning) {
		t.Errorf("job log of a privileged job lacks the warning: %q", log.String())
	}
	if err != nil && strings.Contains(err.Error(), "unable to apply caps") {
		// Hosts whose own bounding set lacks a capability (sandboxed CI
		// VMs) refuse privileged containers: then the refusal must be a
		// clean error that leaves nothing (checked here), not a skip.
		if !errors.Is(err, executors.ErrEngine) {
			t.Errorf("refused privileged Create: %v, want an error matching executors.ErrEngine", err)
		}
		if left := h.Leftovers(t, node); len(left) != 0 {
			t.Errorf("a refused privileged Create left %q", left)
		}
		t.Logf("this host cannot run privileged containers; checked the refusal: %v", err)
		return
	}
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { closeEnv(t, env) })
	if res, out := run(t, env, executors.Step{Script: "mkdir -p /tmp/m && mount -t tmpfs none /tmp/m"}); res.ExitCode != 0 {
		t.Errorf("privileged job cannot mount: %q", out)
	}
}

func testReadOnlyRootfs(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{ReadOnlyRootfs: true, Mounts: []executors.Mount{{Target: "/scratch", Volume: true}}})
	if res, _ := run(t, env, executors.Step{Script: "touch /rootfile"}); res.ExitCode == 0 {
		t.Error("wrote to a read-only root filesystem")
	}
	mustRun(t, env, "touch /scratch/ok")
}

// testRuntimeByName runs a job under an OCI runtime named in the spec
// ("runc", present wherever the engine runs) and checks that an unknown
// runtime fails Create and leaves nothing.
func testRuntimeByName(t *testing.T, h Harness) {
	_, env := setup(t, h, executors.Spec{Runtime: "runc"})
	if out := mustRun(t, env, "echo via-runc"); out != "via-runc\n" {
		t.Errorf("output %q", out)
	}
	node := uniqueNode(t)
	ex := h.New(t, node)
	ctx, cancel := context.WithTimeout(t.Context(), createTimeout)
	defer cancel()
	bad, err := ex.Create(ctx, executors.Spec{JobID: newJobID(), Node: node, Runtime: "no-such-runtime",
		Image: executors.Image{Name: h.Image, PullPolicy: executors.PullNever}})
	if err == nil {
		_ = bad.Close(ctx)
		t.Fatal("Create with an unknown runtime succeeded")
	}
	if !errors.Is(err, executors.ErrEngine) {
		t.Logf("unknown runtime: %v", err)
	}
	if left := h.Leftovers(t, node); len(left) != 0 {
		t.Errorf("failed Create left %q", left)
	}
}
