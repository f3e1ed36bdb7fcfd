package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/github/scalesettest"
)

// TestGitHubFleetScaleSet: `autoscaler run` holds scale set "fleetbig"'s
// message session with [github_jit]'s token (on the strict fake scale-set
// service); the node it launches (a real node container of the docker
// provider) has a [[github_scale_set]] table with credentials = "fleet"
// and no token, gets its scale-set JIT runner config through the control
// plane, and runs the job GitHub assigned to the scale set to success. The
// token is nowhere in the node.
func TestGitHubFleetScaleSet(t *testing.T) {
	dockerClient(t) // fails loudly without an engine
	fleetBuildImage(t)
	fake := newScaleSetFake(t)

	dir := t.TempDir() // the control plane's; nodes see only dir/nodes/NAME
	fleet := fmt.Sprintf("e2ess%d", time.Now().UnixNano()%1e8)
	tokFile := writeFile(t, dir, "gh-token", scalesetPAT+"\n")
	nodeCfg, cfg := jitFleetFiles(t, dir, fleet, fmt.Sprintf(`[[github_scale_set]]
credentials = "fleet"
scale_set = "fleetbig"
runner_image = %q
`, githubStubImage), `["fleetbig"]`, fmt.Sprintf(`[github_jit]
url = %q
token_file = %q

[github_jit.scale_sets.fleetbig]
pool = "linux"
`, fake.ConfigURL("acme"), tokFile))
	out, nodes := startFleetControlPlane(t, dir, fleet, cfg)

	// The node's idle runner comes up on the scale set, minted through the control plane.
	waitFor(t, 3*time.Minute, "the node's idle scale-set runner online", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online
	})
	insts, err := nodes.List(context.Background())
	if err != nil || len(insts) != 1 {
		t.Fatalf("node containers: %+v %v, want 1", insts, err)
	}
	node := insts[0]
	idle := fake.Runners()[0]
	if !strings.HasPrefix(idle.Name, node.Name+"-") {
		t.Fatalf("runner %q is not named for node %s", idle.Name, node.Name)
	}
	if ss := fake.ScaleSets(); len(ss) != 1 || ss[0].Name != "fleetbig" {
		t.Fatalf("scale sets: %+v, want fleetbig, created by the control plane", ss)
	}
	id := fake.QueueJob(scalesettest.Job{Labels: []string{"fleetbig"},
		Steps: []string{"echo ran on $RUNFLEET_RUNNER_NAME", "test -z \"$GITHUB_TOKEN$RUNFLEET_TOKEN\""}})
	var j scalesettest.JobStatus
	waitFor(t, 3*time.Minute, "the scale-set job completed", func() bool {
		j, _ = fake.Job(id)
		return j.State == scalesettest.JobCompleted
	})
	if j.Result != "succeeded" || j.RunnerName != idle.Name || !strings.Contains(j.Output, "ran on "+node.Name) {
		t.Fatalf("job %+v, want succeeded on %s", j, idle.Name)
	}
	waitFor(t, 2*time.Minute, "a fresh idle runner of the node", func() bool {
		rs := fake.Runners()
		return len(rs) == 1 && rs[0].Online && rs[0].Name != j.RunnerName && strings.HasPrefix(rs[0].Name, node.Name+"-")
	})
	if len(fake.AcquireCalls()) == 0 {
		t.Error("nobody acquired the job: the control plane's session should")
	}

	// The token is on the control plane only.
	checkNoCredentialOnNode(t, node, filepath.Join(dir, "nodes", node.Name), nodeCfg, []byte(scalesetPAT), tokFile, "token_file")
	if !strings.Contains(out.String(), "minted a GitHub scale-set JIT runner for a node") {
		t.Error("the control plane logged no scale-set mint for the node")
	}
}
