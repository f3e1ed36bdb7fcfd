package enginebench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
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
	dc  *dockerclient.Client
	cc  *ctrd.Client
	dex *docker.Executor
	// dexWarm and cexWarm keep per-job networks made ahead, as the
	// agent does.
	dexWarm *docker.Executor
	cexWarm *containerd.Executor
	cex     *containerd.Executor
	cimage  ctrd.Image
	node    string
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
	if e.dexWarm, err = docker.New(docker.Options{Client: e.dc, Node: e.node, Logger: log, WarmNetworks: 2}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.dexWarm.Close() })
	addr := os.Getenv("CONTAINERD_ADDRESS")
	if addr == "" {
		addr = containerd.DefaultAddress
	}
	if e.cex, err = containerd.New(containerd.Options{Address: addr, Namespace: benchNS, Node: e.node, StateDir: benchState, Logger: log}); err != nil {
		b.Fatalf("CONTAINERD UNREACHABLE: %v", err)
	}
	b.Cleanup(func() { e.cex.Close() })
	if e.cexWarm, err = containerd.New(containerd.Options{Address: addr, Namespace: benchNS, Node: e.node, StateDir: benchState, Logger: log, WarmNetworks: 2}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.cexWarm.Close() })
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

func (e *engines) rawDocker() Docker {
	return Docker{Client: e.dc, Image: testImage, Labels: ManagedLabels(e.node)}
}

func (e *engines) rawContainerd() Containerd {
	return Containerd{Client: e.cc, Namespace: benchNS, Image: e.cimage, Labels: ManagedLabels(e.node)}
}

// must fails the benchmark on a baseline's error.
func must(b *testing.B) func(time.Duration, error) time.Duration {
	return func(d time.Duration, err error) time.Duration {
		if err != nil {
			b.Helper()
			b.Fatalf("raw engine baseline: %v", err)
		}
		return d
	}
}

// viaExecutor is what the agent does to start a job: Create (hardened
// container, per-job network or none) and Exec of `echo x` until its first
// output byte, or with first set, as the agent does when it can,
// CreateFirstStep and RunFirst of that step. Close is not timed.
func viaExecutor(b *testing.B, ctx context.Context, ex executors.Executor, node string, mode executors.NetworkMode, first bool, i int) time.Duration {
	start := time.Now()
	spec := executors.Spec{JobID: "b" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), Node: node,
		Image: executors.Image{Name: testImage, PullPolicy: executors.PullNever}, Network: mode}
	step := executors.Step{Script: "echo x"}
	var env executors.Env
	var err error
	if first {
		var fe executors.FirstStepEnv
		fe, err = ex.(executors.FirstStepCreator).CreateFirstStep(ctx, spec, step)
		env = fe
	} else {
		env, err = ex.Create(ctx, spec)
	}
	if err != nil {
		b.Fatal(err)
	}
	w := executortest.NewFirstByte()
	done := make(chan error, 1)
	go func() {
		var res executors.Result
		var err error
		if first {
			res, err = env.(executors.FirstStepEnv).RunFirst(ctx, w)
		} else {
			res, err = env.Exec(ctx, step, w)
		}
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
		{"docker-raw", func(int) time.Duration { return must(b)(e.rawDocker().FirstByte(ctx)) }},
		{"containerd-raw", func(i int) time.Duration {
			return must(b)(e.rawContainerd().FirstByte(ctx, fmt.Sprintf("%s-raw-%d", e.node, i)))
		}},
		{"docker-nonet", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.dex, e.node, executors.NetworkNone, false, i)
		}},
		{"containerd-nonet", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.cex, e.node, executors.NetworkNone, false, i)
		}},
		{"docker-net", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.dex, e.node, executors.NetworkPerJob, false, i)
		}},
		{"containerd-net", func(i int) time.Duration {
			return viaExecutor(b, ctx, e.cex, e.node, executors.NetworkPerJob, false, i)
		}},
	}
	// As the agent starts a job's script: the first step as the
	// container's own process, the per-job network made ahead of time.
	for _, x := range []struct {
		name string
		ex   executors.Executor
	}{{"docker", e.dexWarm}, {"containerd", e.cexWarm}} {
		if _, ok := x.ex.(executors.FirstStepCreator); !ok {
			b.Logf("%s: no first-step capability; its first-* figures are missing", x.name)
			continue
		}
		kinds = append(kinds, []struct {
			name string
			run  func(i int) time.Duration
		}{
			{x.name + "-first-nonet", func(i int) time.Duration {
				return viaExecutor(b, ctx, x.ex, e.node, executors.NetworkNone, true, i)
			}},
			{x.name + "-first-net", func(i int) time.Duration {
				return viaExecutor(b, ctx, x.ex, e.node, executors.NetworkPerJob, true, i)
			}},
		}...)
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
	for _, engine := range []string{"docker", "containerd"} {
		if _, ok := total[engine+"-first-net"]; ok {
			b.ReportMetric(mean(engine+"-first-net")/mean(engine+"-raw"), engine+"-first-net/raw")
		}
	}
	b.ReportMetric(mean("docker-nonet")/mean("docker-raw"), "docker-exec/raw")
	b.ReportMetric(mean("containerd-nonet")/mean("containerd-raw"), "containerd-exec/raw")
	b.ReportMetric(mean("containerd-nonet")/mean("docker-nonet"), "containerd/docker-nonet")
	b.ReportMetric(mean("containerd-net")/mean("docker-net"), "containerd/docker-net")
	b.ReportMetric(mean("containerd-raw")/mean("docker-raw"), "containerd/docker-raw")
}
