package helperimage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	dockerimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/executors/helperimage"
)

// testNamespace keeps the containerd objects apart from a real agent's
// (the containerd executor's tests use it too).
const testNamespace = "runfleet-test"

// engineUnderTest is an executor that Ensure can build into.
type engineUnderTest interface {
	executors.Executor
	helperimage.Engine
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testImageName is a private name, so the test never touches the
// runfleet/git-helper:latest other tests use.
func testImageName() string { return "runfleet/git-helper-test-" + randHex(4) + ":latest" }

func dockerEngine(t *testing.T, name, node string) (engineUnderTest, imageLabels) {
	t.Helper()
	c, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Ping(ctx); err != nil {
		t.Fatalf("DOCKER ENGINE UNREACHABLE (DOCKER_HOST=%q): %v", c.DaemonHost(), err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		if _, err := c.ImageRemove(ctx, name, dockerimage.RemoveOptions{Force: true, PruneChildren: true}); err != nil && !client.IsErrNotFound(err) {
			t.Errorf("remove %s: %v", name, err)
		}
	})
	ex, err := docker.New(docker.Options{Client: c, Node: node, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("docker.New: %v", err)
	}
	return ex, func(ctx context.Context) (map[string]string, error) {
		ins, err := c.ImageInspect(ctx, name)
		if err != nil || ins.Config == nil {
			return nil, err
		}
		return ins.Config.Labels, nil
	}
}

func containerdEngine(t *testing.T, name, node string) (engineUnderTest, imageLabels) {
	t.Helper()
	address := os.Getenv("CONTAINERD_ADDRESS")
	if address == "" {
		address = containerd.DefaultAddress
	}
	c, err := ctrd.New(address, ctrd.WithDefaultNamespace(testNamespace), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("CONTAINERD UNREACHABLE (CONTAINERD_ADDRESS=%q): %v", address, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("CONTAINERD UNREACHABLE (CONTAINERD_ADDRESS=%q): %v", address, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
		defer cancel()
		ctx = namespaces.WithNamespace(ctx, testNamespace)
		if err := c.ImageService().Delete(ctx, "docker.io/"+name, images.SynchronousDelete()); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("remove %s: %v", name, err)
		}
	})
	ex, err := containerd.New(containerd.Options{
		Address: address, Namespace: testNamespace, Node: node,
		StateDir: filepath.Join(t.TempDir(), "state"), Logger: testLogger(t),
	})
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	return ex, func(ctx context.Context) (map[string]string, error) {
		img, err := c.GetImage(namespaces.WithNamespace(ctx, testNamespace), "docker.io/"+name)
		if err != nil {
			return nil, err
		}
		spec, err := img.Spec(namespaces.WithNamespace(ctx, testNamespace))
		return spec.Config.Labels, err
	}
}

// imageLabels returns the labels of the image under test.
type imageLabels func(ctx context.Context) (map[string]string, error)

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestEnsure builds the helper image from the host into each real engine
// under a private name, then runs git and the shell in it the way the
// sources helper does (no network, image never pulled).
func TestEnsure(t *testing.T) {
	for _, tt := range []struct {
		engine string
		new    func(t *testing.T, name, node string) (engineUnderTest, imageLabels)
		host   helperimage.Host
	}{
		{"docker", dockerEngine, helperimage.Host{}},
		{"docker host tools", dockerEngine, helperimage.Host{Busybox: "-"}},
		{"containerd", containerdEngine, helperimage.Host{}},
	} {
		t.Run(tt.engine, func(t *testing.T) {
			name, node := testImageName(), "rft-helperimage-"+randHex(4)
			eng, labels := tt.new(t, name, node)
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			if has, err := eng.HasImage(ctx, name); err != nil || has {
				t.Fatalf("HasImage(%s) before the build = %v, %v; want false", name, has, err)
			}
			built, err := helperimage.Ensure(ctx, eng, name, tt.host, log)
			if err != nil || !built {
				t.Fatalf("Ensure = %v, %v; want a build", built, err)
			}
			if want := "sources helper image " + name + " built from the host's git "; !strings.Contains(logs.String(), want) {
				t.Fatalf("log %q lacks %q", logs.String(), want)
			}
			if l, err := labels(ctx); err != nil || l["dev.runfleet.image"] != "git-helper" {
				t.Fatalf("image labels = %v (%v), want dev.runfleet.image=git-helper", l, err)
			}
			built, err = helperimage.Ensure(ctx, eng, name, tt.host, log)
			if err != nil || built {
				t.Fatalf("second Ensure = %v, %v; want no build (the engine has it)", built, err)
			}
			env, err := eng.Create(ctx, executors.Spec{
				JobID: "j" + randHex(6), Node: node,
				Image:   executors.Image{Name: name, PullPolicy: executors.PullNever},
				Network: executors.NetworkNone,
			})
			if err != nil {
				t.Fatalf("Create from %s: %v", name, err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), time.Minute)
				defer cancel()
				if err := env.Close(ctx); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			for _, step := range []struct{ script, want string }{
				{"git --version", "git version "},
				{"echo ok", "ok\n"},
				{`echo "path=$PATH"`, "path=/usr/bin:/bin\n"},
				{"cd /tmp && git init -q r && cd r && git -c user.name=t -c user.email=t@t commit -q --allow-empty -m m && " +
					"git init -q ../c && cd ../c && git fetch -q ../r HEAD && git rev-parse FETCH_HEAD | head -c 7 && echo && " +
					"find . -mindepth 1 -maxdepth 1 -name .git && rm -rf .git && mkdir -p x && echo fetched", "fetched"},
			} {
				var out bytes.Buffer
				res, err := env.Exec(ctx, executors.Step{Script: step.script, Shell: []string{"/bin/sh", "-c"}}, &out)
				if err != nil || res.ExitCode != 0 || !strings.Contains(out.String(), step.want) {
					t.Fatalf("%q: exit %d, err %v, output %q; want %q", step.script, res.ExitCode, err, out.String(), step.want)
				}
			}
		})
	}
}
