package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/runfleet/runfleet/executors"
)

// metadataHost puts 169.254.169.254 on a veth inside a network namespace
// this test creates, serving HTTP there, with a host route to it: a stand-in
// cloud metadata endpoint from which no packet leaves the machine.
func metadataHost(t *testing.T) {
	t.Helper()
	var b [3]byte
	_, _ = rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ns, host, peer := "rfmeta"+id, "rfmh"+id, "rfmp"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := osexec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { _ = osexec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	t.Cleanup(func() { _ = osexec.Command("ip", "link", "del", host).Run() })
	run("ip", "link", "set", peer, "netns", ns)
	run("ip", "addr", "add", "169.254.170.1/30", "dev", host)
	run("ip", "link", "set", host, "up")
	run("ip", "netns", "exec", ns, "ip", "addr", "add", "169.254.170.2/30", "dev", peer)
	run("ip", "netns", "exec", ns, "ip", "addr", "add", "169.254.169.254/32", "dev", peer)
	run("ip", "netns", "exec", ns, "ip", "link", "set", peer, "up")
	run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
	run("ip", "netns", "exec", ns, "ip", "route", "add", "default", "via", "169.254.170.1")
	run("ip", "route", "replace", "169.254.169.254/32", "via", "169.254.170.2")
	t.Cleanup(func() { _ = osexec.Command("ip", "route", "del", "169.254.169.254/32").Run() })
	www := t.TempDir()
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("instance-credentials\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	busybox, err := osexec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox-static is needed for the metadata stand-in: %v", err)
	}
	srv := osexec.Command("ip", "netns", "exec", ns, busybox, "httpd", "-f", "-p", "80", "-h", www)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	// The stand-in answers from the host: the setup works.
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := osexec.Command(busybox, "wget", "-qO-", "http://169.254.169.254/").CombinedOutput()
		if err == nil && strings.Contains(string(out), "instance-credentials") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metadata stand-in unreachable from the host: %v %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

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
