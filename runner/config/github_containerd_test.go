package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestGitHubContainerd(t *testing.T) {
	const (
		gh = "concurrent = 2\n[[github]]\nurl = \"https://github.com/acme\"\ntoken = \"ghp_x\"\n"
		ss = "concurrent = 2\n[[github_scale_set]]\nurl = \"https://github.com/acme\"\ntoken = \"ghp_x\"\nscale_set = \"fleet\"\n"
	)
	cases := []struct {
		name    string
		body    string
		wantErr string
		want    GitHub // Executor and Containerd are compared
	}{
		{name: "docker by default", body: gh, want: GitHub{Executor: "docker"}},
		{name: "containerd with defaults", body: gh + "executor = \"containerd\"\n", want: GitHub{Executor: "containerd"}},
		{
			name: "containerd sub-table",
			body: gh + `executor = "containerd"
[github.containerd]
address = "/run/k3s/containerd/containerd.sock"
namespace = "gh"
snapshotter = "native"
state_dir = "/srv/runfleet/ctrd"
bridge = "rf-gh0"
subnet = "10.240.0.0/16"
`,
			want: GitHub{Executor: "containerd", Containerd: Containerd{Address: "/run/k3s/containerd/containerd.sock", Namespace: "gh",
				Snapshotter: "native", StateDir: "/srv/runfleet/ctrd", Bridge: "rf-gh0", Subnet: "10.240.0.0/16"}},
		},
		{
			name: "scale set on containerd",
			body: ss + "executor = \"containerd\"\n[github_scale_set.containerd]\nnamespace = \"ss\"\n",
			want: GitHub{Executor: "containerd", Containerd: Containerd{Namespace: "ss"}},
		},
		{name: "sub-table without executor", body: gh + "[github.containerd]\nnamespace = \"gh\"\n", wantErr: `needs executor = "containerd"`},
		{name: "docker_host on containerd", body: gh + "executor = \"containerd\"\ndocker_host = \"unix:///var/run/docker.sock\"\n", wantErr: "docker_host does not apply"},
		{name: "unknown executor", body: gh + "executor = \"podman\"\n", wantErr: "supported: docker, containerd"},
		{name: "bad namespace", body: gh + "executor = \"containerd\"\n[github.containerd]\nnamespace = \"a b\"\n", wantErr: `containerd sub-table: namespace "a b"`},
		{name: "relative address", body: gh + "executor = \"containerd\"\n[github.containerd]\naddress = \"containerd.sock\"\n", wantErr: "absolute"},
		{name: "bad subnet", body: gh + "executor = \"containerd\"\n[github.containerd]\nsubnet = \"fd00::/64\"\n", wantErr: "IPv4"},
		{name: "unknown key", body: gh + "executor = \"containerd\"\n[github.containerd]\nimage = \"x\"\n", wantErr: "unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tc.body), func(string) (string, bool) { return "", false })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var g GitHub
			switch {
			case len(c.GitHub) == 1:
				g = c.GitHub[0]
			case len(c.GitHubScaleSets) == 1:
				g = c.GitHubScaleSets[0].GitHub
			default:
				t.Fatalf("%d github tables, %d scale sets", len(c.GitHub), len(c.GitHubScaleSets))
			}
			if g.Executor != tc.want.Executor || g.Containerd != tc.want.Containerd {
				t.Fatalf("executor %q %+v, want %q %+v", g.Executor, g.Containerd, tc.want.Executor, tc.want.Containerd)
			}
		})
	}
}

// TestAppendGitHubContainerd: a [[github]] table with a containerd
// sub-table written by AppendGitHub loads back unchanged.
func TestAppendGitHubContainerd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	err := AppendGitHub(path, GitHubFile{Name: "gh", URL: "https://github.com/acme", Token: "ghp_x", Executor: "containerd",
		Containerd: &GitHubContainerdFile{Namespace: "gh", Bridge: "rf-gh0"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if g := c.GitHub[0]; g.Executor != "containerd" || g.Containerd != (Containerd{Namespace: "gh", Bridge: "rf-gh0"}) {
		t.Fatalf("loaded back: %q %+v", g.Executor, g.Containerd)
	}
}
