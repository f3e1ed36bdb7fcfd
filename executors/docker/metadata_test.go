package docker_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
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
