package config

import (
	"slices"
	"strings"
	"testing"
)

func TestContainerdAndCacheSections(t *testing.T) {
	const head = `
[[runners]]
name = "c"
url = "https://gitlab.example.com"
token = "glrt-abcdefghijkl"
`
	const ctrd = head + `executor = "containerd"
[runners.containerd]
address = "/run/k3s/containerd/containerd.sock"
namespace = "ci.jobs"
snapshotter = "native"
runtime = "runsc"
bridge = "rf-ci0"
subnet = "10.77.0.0/16"
image = "alpine:3"
pull_policy = ["never"]
cpus = "0.5"
memory = "256m"
pids_limit = 64
shm_size = "32m"
disk_size = "2g"
read_only = true
volumes = ["/srv:/srv:ro"]
`
	tests := []struct {
		name    string
		body    string
		check   func(t *testing.T, r Runner)
		wantErr string
	}{
		{name: "containerd", body: ctrd, check: func(t *testing.T, r Runner) {
			c := r.Containerd
			if r.Executor != "containerd" || c.Address != "/run/k3s/containerd/containerd.sock" || c.Namespace != "ci.jobs" || c.Snapshotter != "native" ||
				c.Bridge != "rf-ci0" || c.Subnet != "10.77.0.0/16" {
				t.Errorf("engine settings: %+v", c)
			}
			d := r.Docker
			if d.Image != "alpine:3" || d.PullPolicy != "never" || d.NanoCPUs != 5e8 || d.Memory != 256<<20 || d.PidsLimit != 64 ||
				d.ShmSize != 32<<20 || d.DiskSize != 2<<30 || !d.ReadOnly || d.Runtime != "runsc" || !slices.Equal(d.Volumes, []string{"/srv:/srv:ro"}) {
				t.Errorf("job settings: %+v", d)
			}
		}},
		{name: "containerd defaults", body: head + "executor = \"containerd\"\n", check: func(t *testing.T, r Runner) {
			if r.Containerd != (Containerd{}) || r.Docker.Image != DefaultImage || r.Docker.PullPolicy != "if-not-present" {
				t.Errorf("defaults: %+v %+v", r.Containerd, r.Docker)
			}
		}},
		{name: "docker section with containerd", body: head + "executor = \"containerd\"\n[runners.docker]\nimage = \"x\"\n", wantErr: "[runners.containerd]"},
		{name: "bad namespace", body: strings.Replace(ctrd, `"ci.jobs"`, `"../x"`, 1), wantErr: "namespace"},
		{name: "bad subnet", body: strings.Replace(ctrd, `"10.77.0.0/16"`, `"10.77.0.0"`, 1), wantErr: "subnet"},
		{name: "long bridge", body: strings.Replace(ctrd, `"rf-ci0"`, `"a-very-long-bridge-name"`, 1), wantErr: "bridge"},
		{name: "relative address", body: strings.Replace(ctrd, `"/run/k3s/containerd/containerd.sock"`, `"containerd.sock"`, 1), wantErr: "address"},
		{name: "containerd limits validated", body: strings.Replace(ctrd, `"256m"`, `"much"`, 1), wantErr: "memory"},
		{name: "unknown containerd key", body: ctrd + "host = \"tcp://x\"\n", wantErr: "unknown key"},
		{name: "unknown executor", body: head + "executor = \"podman\"\n", wantErr: "supported: docker, containerd"},
		{name: "s3", body: head + `[runners.cache]
type = "s3"
path = "ci/"
shared = true
[runners.cache.s3]
server_address = "127.0.0.1:9000"
access_key = "AK"
secret_key = "SK"
bucket_name = "runner"
insecure = true
`, check: func(t *testing.T, r Runner) {
			c := r.Cache
			if c.Type != "s3" || c.Path != "ci" || !c.Shared || c.S3.Endpoint.String() != "http://127.0.0.1:9000" ||
				c.S3.Bucket != "runner" || c.S3.Region != "us-east-1" || c.S3.AccessKey != "AK" || c.S3.SecretKey != "SK" {
				t.Errorf("s3: %+v %+v", c, c.S3)
			}
		}},
		{name: "s3 without bucket", body: head + "[runners.cache]\ntype = \"s3\"\n", wantErr: "bucket_name"},
		{name: "s3 half credentials", body: head + "[runners.cache]\ntype = \"s3\"\n[runners.cache.s3]\nbucket_name = \"b\"\naccess_key = \"AK\"\n", wantErr: "secret_key"},
		{name: "s3 url as address", body: head + "[runners.cache]\ntype = \"s3\"\n[runners.cache.s3]\nbucket_name = \"b\"\nserver_address = \"http://h:9000\"\n", wantErr: "server_address"},
		{name: "s3 section on local", body: head + "[runners.cache]\n[runners.cache.s3]\nbucket_name = \"b\"\n", wantErr: `type = "s3"`},
		{name: "bad cache type", body: head + "[runners.cache]\ntype = \"memcached\"\n", wantErr: "supported: local, s3"},
		{name: "escaping path", body: head + "[runners.cache]\npath = \"../other\"\n", wantErr: "path"},
		{name: "tool cache", body: head + "[runners.cache]\ntools_dir = \"/srv/tools\"\n[runners.docker]\nvolumes = [\"/cache\"]\n", check: func(t *testing.T, r Runner) {
			want := []string{"/cache", "/srv/tools:" + DefaultToolsPath + ":ro"}
			if !slices.Equal(r.Docker.Volumes, want) || r.Cache.Tools.Writable {
				t.Errorf("volumes %q, want %q", r.Docker.Volumes, want)
			}
		}},
		{name: "writable tool cache on containerd", body: head + "executor = \"containerd\"\n[runners.cache]\ntools_dir = \"/srv/tools\"\ntools_path = \"/tools\"\ntools_writable = true\n",
			check: func(t *testing.T, r Runner) {
				if !slices.Equal(r.Docker.Volumes, []string{"/srv/tools:/tools:rw"}) {
					t.Errorf("volumes %q", r.Docker.Volumes)
				}
			}},
		{name: "tools path without dir", body: head + "[runners.cache]\ntools_path = \"/tools\"\n", wantErr: "tools_dir"},
		{name: "relative tools dir", body: head + "[runners.cache]\ntools_dir = \"tools\"\n", wantErr: "absolute"},
		{name: "bad disk size", body: head + "[runners.docker]\ndisk_size = \"big\"\n", wantErr: "disk_size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.body), nil)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Runners[0])
		})
	}
}
