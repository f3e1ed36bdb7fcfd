package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	cerrdefs "github.com/containerd/errdefs"

	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestHelperImageBuiltByAgent: on an engine that has the job image but
// no sources helper image (a private containerd namespace, so the shared
// runfleet/git-helper:latest other tests use is untouched), the agent
// builds the helper from the host's git at start, says so once, and the
// hostile-sources suite passes with it.
func TestHelperImageBuiltByAgent(t *testing.T) {
	t.Parallel()
	ns := fmt.Sprintf("runfleet-e2e-helper-%d", time.Now().UnixNano()%1e9)
	node := nodeName(t)
	importJobImageOnly(t, ns, node)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7907)
	srv.AddRunner(tok)
	dir := t.TempDir()
	metrics := freePort(t)
	cfg := containerdAgentConfig("e2e-helper-build", srv.URL(), tok, node, metrics, dir, ns)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startAgentWith(t, path, node, dir, metrics)
	runHostileSources(t, srv)
	want := "sources helper image " + helperImage + " built from the host's git "
	if n := strings.Count(a.out.String(), want); n != 1 {
		t.Fatalf("the agent logged %q %d times, want once; log:\n%s", want, n, tail(a.out.String(), 3000))
	}
}

// importJobImageOnly copies testImage (not the helper) from Docker into
// the containerd namespace ns, and at the end removes what node's agent
// left there, the images and the namespace.
func importJobImageOnly(t *testing.T, ns, node string) {
	t.Helper()
	t.Cleanup(func() { removeNamespace(t, ns, node) })
	importInto(t, ns, testImage)
	c, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("containerd: %v", err)
	}
	defer c.Close()
	ref := "docker.io/" + helperImage
	_, err = c.GetImage(namespaces.WithNamespace(t.Context(), ns), ref)
	if err == nil {
		t.Fatalf("namespace %s holds %s before the agent starts: the test proves nothing", ns, helperImage)
	}
	if !cerrdefs.IsNotFound(err) {
		t.Fatalf("look for %s in %s: %v", ref, ns, err)
	}
}

// removeNamespace reaps what node's agent left in the namespace ns (it
// is killed at the end of the test, maybe mid-cleanup), deletes every
// image, then the namespace.
func removeNamespace(t *testing.T, ns, node string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 2*time.Minute)
	defer cancel()
	ex, err := containerd.New(containerd.Options{
		Address: containerdAddress(), Namespace: ns, Node: node, StateDir: ctrdStateDir,
		Bridge: ctrdBridge, Subnet: ctrdSubnet, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Errorf("containerd: %v", err)
		return
	}
	defer ex.Close()
	if err := ex.Reap(ctx); err != nil {
		t.Errorf("reap %s in %s: %v", node, ns, err)
	}
	c, err := ctrd.New(containerdAddress(), ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Errorf("containerd: %v", err)
		return
	}
	defer c.Close()
	ctx = namespaces.WithNamespace(ctx, ns)
	imgs, err := c.ImageService().List(ctx)
	if err != nil {
		t.Errorf("list images of %s: %v", ns, err)
		return
	}
	for _, img := range imgs {
		if err := c.ImageService().Delete(ctx, img.Name, images.SynchronousDelete()); err != nil {
			t.Errorf("remove %s from %s: %v", img.Name, ns, err)
		}
	}
	if err := c.NamespaceService().Delete(ctx, ns); err != nil {
		t.Errorf("remove namespace %s: %v", ns, err)
	}
}
