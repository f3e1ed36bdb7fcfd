package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

// githubStubImage is the stand-in runner image (make images).
const githubStubImage = "runfleet/github-runner-stub:latest"

// newGitHubFake starts a fake GitHub where runner containers reach it: on
// the host's address on Docker's default bridge.
func newGitHubFake(t testing.TB) *githubtest.Server {
	t.Helper()
	c := dockerClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.ImageInspect(ctx, githubStubImage); err != nil {
		t.Fatalf("image %s is missing: run 'make images' (%v)", githubStubImage, err)
	}
	srv := githubtest.New(t, githubtest.WithListenAddress(bridgeGateway(t)+":0"))
	srv.AddRepo("acme/app")
	return srv
}

// bridgeGateway is the host's IPv4 address on Docker's default bridge,
// where containers reach the fakes: the IPAM gateway, or, when the engine
// leaves it out of the IPAM config, the subnet's first address (the
// engine gives it to the bridge).
func bridgeGateway(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := dockerClient(t).NetworkInspect(ctx, "bridge", network.InspectOptions{})
	if err != nil {
		t.Fatalf("inspect the docker bridge: %v", err)
	}
	for _, cfg := range n.IPAM.Config {
		if ip := net.ParseIP(cfg.Gateway); ip != nil && ip.To4() != nil {
			return ip.String()
		}
		if p, err := netip.ParsePrefix(cfg.Subnet); err == nil && p.Addr().Is4() {
			return p.Masked().Addr().Next().String()
		}
	}
	t.Fatal("the docker bridge has no IPv4 gateway")
	return ""
}

// githubAgentConfig writes a config with one [[github]] table using a
// personal access token, and returns its path, the node and metrics address.
func githubAgentConfig(t testing.TB, srv *githubtest.Server, dir string, concurrent int) (path, node, metrics string) {
	t.Helper()
	tok := fmt.Sprintf("ghp_e2e%020d", time.Now().UnixNano()%1e12)
	srv.AddPAT(tok, "orgs/acme")
	tokFile := filepath.Join(dir, "gh-token")
	if err := os.WriteFile(tokFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	node = nodeName(t)
	metrics = freePort(t)
	cfg := fmt.Sprintf(`concurrent = %d
check_interval = 1
listen_address = %q
shutdown_timeout = 30
node_name = %q
log_level = "debug"

[[github]]
name = "gh"
url = %q
token_file = %q
labels = ["self-hosted", "linux", "x64"]
runner_image = %q
pull_policy = "never"
memory = "256m"
pids_limit = 512
tool_cache_dir = %q
state_dir = %q
`, concurrent, metrics, node, srv.URL()+"/acme", tokFile, githubStubImage, filepath.Join(dir, "toolcache"), filepath.Join(dir, "state"))
	path = filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, node, metrics
}

// startGitHubAgent starts `runner run` with a [[github]] source.
func startGitHubAgent(t testing.TB, srv *githubtest.Server, concurrent int) *agent {
	t.Helper()
	dir := t.TempDir()
	cfg, node, metrics := githubAgentConfig(t, srv, dir, concurrent)
	return startAgentWith(t, cfg, node, dir, metrics)
}

// nodeRunners are the registrations whose names carry node.
func nodeRunners(srv *githubtest.Server, node string) []githubtest.RunnerInfo {
	var out []githubtest.RunnerInfo
	for _, r := range srv.Runners() {
		if len(r.Name) > len(node) && r.Name[:len(node)+1] == node+"-" {
			out = append(out, r)
		}
	}
	return out
}

// runnerContainers counts the containers of the runner named name.
func runnerContainers(t testing.TB, name string) int {
	t.Helper()
	cs, err := dockerClient(t).ContainerList(context.Background(), container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", github.LabelRunner+"="+name))})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}
