package containerd_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	dockerclient "github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
)

// testImage is built offline by images/busybox/build.sh into Docker and
// imported into containerd from `docker save` once per test binary.
const testImage = "runfleet/busybox:latest"

// testNamespace keeps the tests' objects apart from a real agent's.
const testNamespace = "runfleet-test"

// stateDir is shared by every executor of the test binary, so a
// "restarted agent" finds what a "dead" one left.
var stateDir = filepath.Join(os.TempDir(), "runfleet-containerd-test")

// address is containerd's socket: $CONTAINERD_ADDRESS or the default.
func address() string {
	if a := os.Getenv("CONTAINERD_ADDRESS"); a != "" {
		return a
	}
	return containerd.DefaultAddress
}

// newClient returns a client for containerd or fails the test loudly
// when the daemon does not answer.
func newClient(t testing.TB) *ctrd.Client {
	t.Helper()
	c, err := ctrd.New(address(), ctrd.WithDefaultNamespace(testNamespace), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("CONTAINERD UNREACHABLE (CONTAINERD_ADDRESS=%q): %v", address(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		t.Fatalf("CONTAINERD UNREACHABLE (CONTAINERD_ADDRESS=%q): %v", address(), err)
	}
	return c
}

var imported struct {
	once sync.Once
	err  error
}

// importTestImage copies testImage from Docker (docker save) into the
// test namespace, once per test binary.
func importTestImage(t testing.TB, ex *containerd.Executor) {
	t.Helper()
	imported.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
		defer cancel()
		dc, err := dockerclient.NewClientWithOpts(dockerclient.FromEnv, dockerclient.WithAPIVersionNegotiation())
		if err != nil {
			imported.err = err
			return
		}
		defer dc.Close()
		rc, err := dc.ImageSave(ctx, []string{testImage})
		if err != nil {
			imported.err = fmt.Errorf("docker save %s (is Docker up and the image built by images/busybox/build.sh?): %w", testImage, err)
			return
		}
		defer rc.Close()
		names, err := ex.ImportArchive(ctx, rc)
		if err != nil {
			imported.err = err
			return
		}
		t.Logf("imported %v from docker save", names)
	})
	if imported.err != nil {
		t.Fatalf("TEST IMAGE IMPORT FAILED: %v", imported.err)
	}
}

// newExecutor returns an Executor for node that logs to the test, with
// the test image imported.
func newExecutor(t testing.TB, node string, mod ...func(*containerd.Options)) *containerd.Executor {
	t.Helper()
	newClient(t) // fail loudly first when the daemon is down
	opts := containerd.Options{
		Address:   address(),
		Namespace: testNamespace,
		Node:      node,
		StateDir:  stateDir,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, m := range mod {
		m(&opts)
	}
	ex, err := containerd.New(opts)
	if err != nil {
		t.Fatalf("containerd.New: %v", err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	importTestImage(t, ex)
	return ex
}

// leftovers lists every container, snapshot, lease and job state
// directory of node.
func leftovers(t *testing.T, node string) []string {
	t.Helper()
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 30*time.Second)
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, testNamespace)
	filter := "labels." + strconv.Quote(executors.LabelNode) + "==" + strconv.Quote(node)
	var out []string
	cs, err := c.Containers(ctx, filter)
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	for _, x := range cs {
		out = append(out, "container "+x.ID())
	}
	err = c.SnapshotService(containerd.DefaultSnapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		out = append(out, "snapshot "+info.Name)
		return nil
	}, filter)
	if err != nil {
		t.Fatalf("list snapshots: %v", err)
	}
	ls, err := c.LeasesService().List(ctx, filter)
	if err != nil {
		t.Fatalf("list leases: %v", err)
	}
	for _, l := range ls {
		out = append(out, "lease "+l.ID)
	}
	dirs, _ := os.ReadDir(filepath.Join(stateDir, node))
	for _, d := range dirs {
		out = append(out, "state "+d.Name())
	}
	return out
}

// uniqueNode returns a node name for one test.
func uniqueNode(t *testing.T) string {
	name := strings.Trim(nonAlnum.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(name) > 30 {
		name = name[len(name)-30:]
	}
	return "rfc-" + strings.Trim(name, "-") + "-" + strconv.FormatInt(time.Now().UnixNano()%1e12, 36)
}

var nonAlnum = regexp.MustCompile(`[^a-z0-9]+`)
