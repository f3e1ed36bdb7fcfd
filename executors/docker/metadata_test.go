package docker_test

import (
	"bytes"
	"context"
	"fmt"
	osexec "os/exec"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/executortest"
)

// metadataHost puts a stand-in cloud metadata endpoint on this machine
// (see executortest.MetadataStandIn).
func metadataHost(t *testing.T) { executortest.MetadataStandIn(t) }

const fetchMetadata = "timeout 5 wget -qO- http://169.254.169.254/ && echo REACHED || echo BLOCKED"

func TestJobsCannotReachMetadata(t *testing.T) {
	node := uniqueNode(t)
	ex := newExecutor(t, node) // installs the guard
	metadataHost(t)
	ctx := context.Background()
	c := newClient(t)

	// Control: a plain container on a network runfleet did not make
	// reaches the stand-in, so the check below can fail.
	netName := "rf-control-" + node
	if _, err := c.NetworkCreate(ctx, netName, network.CreateOptions{Driver: "bridge"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.NetworkRemove(context.Background(), netName) })
	cr, err := c.ContainerCreate(ctx, &container.Config{Image: testImage, Cmd: []string{"sh", "-c", fetchMetadata}},
		&container.HostConfig{NetworkMode: container.NetworkMode(netName)}, nil, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ContainerRemove(context.Background(), cr.ID, container.RemoveOptions{Force: true}) })
	if err := c.ContainerStart(ctx, cr.ID, container.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	waitC, errC := c.ContainerWait(ctx, cr.ID, container.WaitConditionNotRunning)
	select {
	case <-waitC:
	case err := <-errC:
		t.Fatal(err)
	case <-time.After(time.Minute):
		t.Fatal("timed out after 1m waiting for the control container's metadata fetch to exit")
	}
	logs, err := c.ContainerLogs(ctx, cr.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		t.Fatal(err)
	}
	var control bytes.Buffer
	_, _ = control.ReadFrom(logs)
	if !strings.Contains(control.String(), "REACHED") {
		t.Fatalf("control container could not reach the stand-in, the test proves nothing: %q", control.String())
	}

	for _, svc := range []bool{false, true} {
		t.Run(fmt.Sprintf("services=%v", svc), func(t *testing.T) {
			spec := executors.Spec{JobID: jobIDFor(node) + fmt.Sprint(svc), Node: node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}}
			if svc {
				spec.Services = []executors.Service{{Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever, Entrypoint: []string{"sleep", "300"}}, Aliases: []string{"svc"}}}
			}
			env, err := ex.Create(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer env.Close(ctx)
			var out bytes.Buffer
			if _, err := env.Exec(ctx, executors.Step{Script: fetchMetadata}, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "BLOCKED") || strings.Contains(out.String(), "instance-credentials") {
				t.Fatalf("job reached the metadata endpoint: %q", out.String())
			}
		})
	}
}

// TestMetadataBlockedWhileForwardIsReordered: dockerd rewrites FORWARD
// when it starts (it deletes the jump to DOCKER-USER and inserts it again
// at the top, and a second engine on the host appends its own), and for
// such moments a bridge's ACCEPT rules can come before DOCKER-USER. The
// test puts an ACCEPT for the job's own bridge at the top of FORWARD
// (only its bridge: other tests' jobs are untouched): the job must still
// not reach the metadata endpoint (guardMetadata's raw-table rule).
func TestMetadataBlockedWhileForwardIsReordered(t *testing.T) {
	node := uniqueNode(t)
	ex := newExecutor(t, node)
	metadataHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	jobID := jobIDFor(node)
	env, err := ex.Create(ctx, executors.Spec{JobID: jobID, Node: node, Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	bridge := jobBridge(ctx, t, jobID)
	accept := []string{"FORWARD", "-i", bridge, "-j", "ACCEPT", "-m", "comment", "--comment", "runfleet test: FORWARD reordered"}
	if out, err := osexec.Command("iptables", append([]string{"-w", "-I"}, accept...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %v: %v: %s", accept, err, out)
	}
	t.Cleanup(func() { _ = osexec.Command("iptables", append([]string{"-w", "-D"}, accept...)...).Run() })
	var out bytes.Buffer
	if _, err := env.Exec(ctx, executors.Step{Script: fetchMetadata}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "BLOCKED") || strings.Contains(out.String(), "instance-credentials") {
		t.Fatalf("with its bridge accepted ahead of DOCKER-USER, the job reached the metadata endpoint: %q", out.String())
	}
}

// jobBridge is the bridge interface of the network of job's container.
func jobBridge(ctx context.Context, t *testing.T, job string) string {
	t.Helper()
	c := newClient(t)
	cs, err := c.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", executors.LabelJob+"="+job))})
	if err != nil || len(cs) == 0 {
		t.Fatalf("the job's container (label %s=%s): %v, %d found", executors.LabelJob, job, err, len(cs))
	}
	for _, n := range cs[0].NetworkSettings.Networks {
		nw, err := c.NetworkInspect(ctx, n.NetworkID, network.InspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if b := nw.Options["com.docker.network.bridge.name"]; b != "" {
			return b
		}
	}
	t.Fatalf("the job's container %s has no network with a bridge of its own", cs[0].ID)
	return ""
}
