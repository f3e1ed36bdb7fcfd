package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/runfleet/runfleet/runner/gitlab"
)

// TestHelperImageCommand runs 'runner helper-image' against the real
// containerd, in a namespace of its own that starts without the helper
// image: the first run builds it, the second finds it, --force rebuilds.
func TestHelperImageCommand(t *testing.T) {
	address := os.Getenv("CONTAINERD_ADDRESS")
	if address == "" {
		address = "/run/containerd/containerd.sock"
	}
	c, err := ctrd.New(address, ctrd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("CONTAINERD UNREACHABLE (CONTAINERD_ADDRESS=%q): %v", address, err)
	}
	t.Cleanup(func() { _ = c.Close() }) // after the cleanup below
	ns := fmt.Sprintf("runfleet-cmdtest-%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(namespaces.WithNamespace(context.Background(), ns), 30*time.Second)
		defer cancel()
		if err := c.ImageService().Delete(ctx, "docker.io/"+gitlab.DefaultHelperImage, images.SynchronousDelete()); err != nil {
			t.Errorf("removing the helper image from namespace %s: %v", ns, err)
		}
		if err := c.NamespaceService().Delete(ctx, ns); err != nil {
			t.Logf("namespace %s left: %v", ns, err)
		}
	})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[[runners]]\nname = \"ctr\"\nexecutor = \"containerd\"\n[runners.containerd]\naddress = %q\nnamespace = %q\nstate_dir = %q\n",
		address, ns, filepath.Join(dir, "state"))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"absent: built", nil, "built"},
		{"present: left alone", nil, "already present"},
		{"--force: rebuilt", []string{"--force"}, "built"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			root := newRootCmd()
			var out bytes.Buffer
			root.SetOut(&out)
			root.SetArgs(append([]string{"--config", cfg, "--log-level", "error", "helper-image"}, tt.args...))
			if err := root.ExecuteContext(ctx); err != nil {
				t.Fatalf("runner helper-image %v (containerd and git are required): %v", tt.args, err)
			}
			want := gitlab.DefaultHelperImage + " " + tt.want + "\n"
			if !strings.HasSuffix(out.String(), want) {
				t.Fatalf("output %q, want it to end in %q", out.String(), want)
			}
			if _, err := c.GetImage(namespaces.WithNamespace(ctx, ns), "docker.io/"+gitlab.DefaultHelperImage); err != nil {
				t.Fatalf("the image is not in namespace %s: %v", ns, err)
			}
		})
	}
}
