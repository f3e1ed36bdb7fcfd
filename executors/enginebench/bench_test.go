package enginebench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/executors/executortest"
)

const (
	testImage = "runfleet/busybox:latest"
	// benchNS and benchState keep the benchmark's containerd objects
	// apart from agents and other tests.
	benchNS    = "runfleet-bench"
	benchState = "/tmp/runfleet-enginebench"
)

// engines are the clients and executors of one benchmark run.
type engines struct {
	dc     *dockerclient.Client
	cc     *ctrd.Client
	dex    *docker.Executor
	cex    *containerd.Executor
	cimage ctrd.Image
	node   string
}

func setup(b *testing.B) *engines {
	b.Helper()
	ctx := b.Context()
	e := &engines{node: fmt.Sprintf("rfb-engines-%d", time.Now().UnixNano()%1e9)}
	var err error
	e.dc, err = dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.dc.Close() })
	if _, err := e.dc.ImageInspect(ctx, testImage); err != nil {
		b.Fatalf("DOCKER ENGINE OR TEST IMAGE MISSING (make images): %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if e.dex, err = docker.New(docker.Options{Client: e.dc, Node: e.node, Logger: log}); err != nil {
		b.Fatal(err)
	}
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		addr = containerd.DefaultAddress
	}
	if e.cex, err = containerd.New(containerd.Options{Address: addr, Namespace: benchNS, Node: e.node, StateDir: benchState, Logger: log}); err != nil {
		b.Fatalf("CONTAINERD UNREACHABLE: %v", err)
	}
	b.Cleanup(func() { e.cex.Close() })
	if e.cc, err = ctrd.New(addr, ctrd.WithDefaultNamespace(benchNS)); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.cc.Close() })
	rc, err := e.dc.ImageSave(ctx, []string{testImage})
	if err != nil {
		b.Fatal(err)
	}
	names, err := e.cex.ImportArchive(ctx, rc)
	rc.Close()
	if err != nil || len(names) == 0 {
		b.Fatalf("import %s into containerd: %v", testImage, err)
	}
	if e.cimage, err = e.cc.GetImage(namespaces.WithNamespace(ctx, benchNS), names[0]); err != nil {
		b.Fatal(err)
	}
	return e
}

// rawDocker creates and starts a container running `echo x` with the
// engine API alone, until its first output byte. Removal is not timed.
func (e *engines) rawDocker(b *testing.B, ctx context.Context) time.Duration {
	start := time.Now()
	resp, err := e.dc.ContainerCreate(ctx, &container.Config{Image: testImage, Cmd: []string{"echo", "x"},
		Labels: map[string]string{executors.LabelManaged: "true", executors.LabelNode: e.node}, AttachStdout: true},
		&container.HostConfig{}, nil, nil, "")
	if err != nil {
		b.Fatal(err)
	}
	att, err := e.dc.ContainerAttach(ctx, resp.ID, container.AttachOptions{Stream: true, Stdout: true})
	if err != nil {
		b.Fatal(err)
	}
	if err := e.dc.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		b.Fatal(err)
	}
	var first [9]byte // an 8-byte stream header, then "x"
	if _, err := io.ReadFull(att.Reader, first[:]); err != nil {
		b.Fatal(err)
	}
	d := time.Since(start)
	att.Close()
	if err := e.dc.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true}); err != nil {
		b.Fatal(err)
	}
	return d
}

// rawContainerd creates a container (with its snapshot) and a task
// running `echo x` with the containerd client alone, until its first
// output byte. Removal is not timed.
func (e *engines) rawContainerd(b *testing.B, ctx context.Context, i int) time.Duration {
	ctx = namespaces.WithNamespace(ctx, benchNS)
	id := fmt.Sprintf("%s-raw-%d", e.node, i)
	start := time.Now()
	c, err := e.cc.NewContainer(ctx, id,
		ctrd.WithContainerLabels(map[string]string{executors.LabelManaged: "true", executors.LabelNode: e.node}),
		ctrd.WithNewSnapshot(id, e.cimage),
		ctrd.WithNewSpec(oci.WithImageConfig(e.cimage), oci.WithProcessArgs("echo", "x")))
	if err != nil {
		b.Fatal(err)
	}
	w := executortest.NewFirstByte()
	task, err := c.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, w, io.Discard)))
	if err != nil {
		b.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		b.Fatal(err)
	}
	<-w.First
	d := time.Since(start)
	if _, err := task.Delete(ctx, ctrd.WithProcessKill); err != nil {
		b.Fatal(err)
	}
	if err := c.Delete(ctx, ctrd.WithSnapshotCleanup); err != nil {
		b.Fatal(err)
	}
	return d
}

// viaExecutor is what the agent does to start a job: Create (hardened
// container, per-job network or none) and Exec of `echo x` until its first
// output byte. Close is not timed.
func viaExecutor(b *testing.B, ctx context.Context, ex executors.Executor, node string, mode executors.NetworkMode, i int) time.Duration {
	start := time.Now()
	env, err := ex.Create(ctx, executors.Spec{JobID: "b" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), Node: node,
		Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}, Network: mode})
	if err != nil {
		b.Fatal(err)
	}
	w := executortest.NewFirstByte()
	done := make(chan error, 1)
	go func() {
		res, err := env.Exec(ctx, executors.Step{Script: "echo x"}, w)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit %d", res.ExitCode)
		}
		done <- err
	}()
	select {
	case <-w.First:
	case err := <-done:
		b.Fatalf("Exec ended before any output: %v", err)
	}
	d := time.Since(start)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if err := env.Close(ctx); err != nil {
		b.Fatal(err)
	}
	return d
}

// BenchmarkJobOverhead runs, in every iteration, each way of getting a
// job's first output byte once, interleaved so that all share the
// machine's state alike, and reports each one's mean time and the ratios
// that matter: each executor against its engine's raw lifecycle, and
// containerd against Docker.
func BenchmarkJobOverhead(b *testing.B) {
	e := setup(b)
	ctx := b.Context()
	kinds := []struct {
		name string
		run  func(i int) time.Duration
	}{
		{"docker-raw", func(int) time.Duration { return e.rawDocker(b, ctx) }},
		{"containerd-raw", func(i int) time.Duration { return e.rawContainerd(b, ctx, i) }},
		{"docker-nonet", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.dex, e.node, executors.NetworkNone, i)
		}},
		{"containerd-nonet", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.cex, e.node, executors.NetworkNone, i)
		}},
		{"docker-net", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.dex, e.node, executors.NetworkPerJob, i)
		}},
		{"containerd-net", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.cex, e.node, executors.NetworkPerJob, i)
		}},
	}
	// One warm-up round: first-use costs (image unpack, CNI) stay out.
	for _, k := range kinds {
		k.run(0)
	}
	total := map[string]time.Duration{}
	i := 0
	for b.Loop() {
		i++
		for _, k := range kinds {
			total[k.name] += k.run(i)
		}
	}
	mean := func(name string) float64 { return float64(total[name]) / float64(b.N) }
	for _, k := range kinds {
		b.ReportMetric(mean(k.name)/1e6, k.name+"-ms")
	}
	b.ReportMetric(mean("docker-nonet")/mean("docker-raw"), "docker-exec/raw")
	b.ReportMetric(mean("containerd-nonet")/mean("containerd-raw"), "containerd-exec/raw")
	b.ReportMetric(mean("containerd-nonet")/mean("docker-nonet"), "containerd/docker-nonet")
	b.ReportMetric(mean("containerd-net")/mean("docker-net"), "containerd/docker-net")
	b.ReportMetric(mean("containerd-raw")/mean("docker-raw"), "containerd/docker-raw")
}
