package config

import (
	"errors"
	"sort"
	"strings"
	"testing"
	"time"
)

func noEnv(string) (string, bool) { return "", false }

func warningKeys(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Key)
	}
	sort.Strings(out)
	return out
}

// TestGitLabRunnerConfigs loads gitlab-runner's documented config.toml
// examples (testdata/gitlab-runner/README.md) unchanged and checks the
// values runfleet takes from them and the one warning per setting it
// does not implement.
func TestGitLabRunnerConfigs(t *testing.T) {
	autoscalerWarn := []string{"runners.autoscaler", "runners.executor", "runners.shell"}
	tests := []struct {
		file  string
		warns []string
		check func(t *testing.T, c *Config)
	}{
		{"register-docker.toml", []string{"connection_max_age", "session_server"}, func(t *testing.T, c *Config) {
			r := c.Runners[0]
			if r.ID != 42 || r.Token != "glrt-t1_AbCdEfGhIjKlMnOpQrSt" || r.URL.String() != "https://gitlab.example.com" {
				t.Errorf("credentials: %+v", r)
			}
			if !r.TokenObtainedAt.Equal(time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)) || !r.TokenExpiresAt.IsZero() {
				t.Errorf("token times: obtained %v expires %v", r.TokenObtainedAt, r.TokenExpiresAt)
			}
			if r.Docker.Image != "alpine:latest" || r.Docker.ShmSize != 0 || r.Docker.Privileged || r.Cache.Type != "local" {
				t.Errorf("docker/cache: %+v %+v", r.Docker, r.Cache)
			}
			if c.Concurrent != 1 || c.CheckInterval != DefaultCheckInterval || c.ShutdownTimeout != DefaultShutdownTimeout {
				t.Errorf("globals: %d %v %v", c.Concurrent, c.CheckInterval, c.ShutdownTimeout)
			}
		}},
		{"docker-executor.toml", []string{"runners.docker.allowed_pull_policies", "runners.docker.allowed_services",
			"runners.docker.tls_verify", "runners.docker.volume_driver_ops"}, func(t *testing.T, c *Config) {
			d := c.Runners[0].Docker
			if c.Concurrent != 4 || d.Image != "my.registry.tld:5000/alpine:latest" || len(d.AllowedImages) != 1 || d.Volumes[0] != "/cache" {
				t.Errorf("docker: %+v", d)
			}
		}},
		{"docker-executor-network.toml", []string{"runners.docker.services_tmpfs", "runners.docker.tmpfs",
			"runners.feature_flags.FF_NETWORK_PER_BUILD"}, nil},
		{"advanced-global-session.toml", []string{"session_server"}, func(t *testing.T, c *Config) {
			if c.Concurrent != 4 || c.LogLevel != "warning" || len(c.Runners) != 0 {
				t.Errorf("globals: %+v", c)
			}
		}},
		{"advanced-runners.toml", nil, func(t *testing.T, c *Config) {
			r := c.Runners[0]
			if r.CloneURL.String() != "http://gitlab.example.local" || strings.Join(r.Environment, " ") != "ENV=value LC_ALL=en_US.UTF-8" {
				t.Errorf("runner: %+v", r)
			}
			if r.BuildsDir != DefaultBuildsDir || r.Limit != 0 {
				t.Errorf("builds_dir %q limit %d", r.BuildsDir, r.Limit)
			}
		}},
		{"advanced-docker.toml", []string{"runners.docker.allowed_services", "runners.docker.cap_add", "runners.docker.cap_drop",
			"runners.docker.cpuset_cpus", "runners.docker.devices", "runners.docker.dns", "runners.docker.dns_search",
			"runners.docker.links", "runners.docker.memory_reservation", "runners.docker.services", "runners.docker.sysctls",
			"runners.docker.tls_cert_path", "runners.docker.userns_mode", "runners.docker.volumes_from",
			"runners.docker.wait_for_services_timeout"}, func(t *testing.T, c *Config) {
			d := c.Runners[0].Docker
			if d.ShmSize != 300000 || d.Memory != 128<<20 || d.MemorySwap != 256<<20 || d.NanoCPUs != 2e9 || d.Image != "ruby:2.7" {
				t.Errorf("docker: %+v", d)
			}
			if strings.Join(d.ExtraHosts, ",") != "other-host:127.0.0.1" || len(d.AllowedImages) != 3 {
				t.Errorf("docker lists: %+v", d)
			}
		}},
		{"advanced-cache-s3.toml", []string{"runners.cache.s3.ServerSideEncryption", "runners.cache.s3.ServerSideEncryptionKeyID"},
			func(t *testing.T, c *Config) {
				cc := c.Runners[0].Cache
				if cc.Type != "s3" || cc.Path != "path/to/prefix" || cc.Shared || cc.S3.Bucket != "runners-cache" || cc.S3.Region != "eu-west-1" ||
					cc.S3.AccessKey != "AWS_S3_ACCESS_KEY" || cc.S3.SecretKey != "AWS_S3_SECRET_KEY" || cc.S3.Endpoint.String() != "https://s3.amazonaws.com" {
					t.Errorf("cache: %+v %+v", cc, cc.S3)
				}
			}},
		{"advanced-cache-gcs.toml", []string{"runners.cache.Type", "runners.cache.gcs"}, func(t *testing.T, c *Config) {
			if cc := c.Runners[0].Cache; cc.Type != "local" || cc.Path != "path/to/prefix" {
				t.Errorf("cache: %+v", cc)
			}
		}},
		{"advanced-machine.toml", []string{"runners.executor", "runners.machine"}, func(t *testing.T, c *Config) {
			if c.Runners[0].Executor != "docker" {
				t.Errorf("executor %q", c.Runners[0].Executor)
			}
		}},
		{"docker-machine-complete.toml", []string{"runners.executor", "runners.machine"}, func(t *testing.T, c *Config) {
			r := c.Runners[0]
			if c.Concurrent != 50 || r.Limit != 10 || r.Docker.Image != "ruby:2.7" || r.Cache.S3.Bucket != "runner" ||
				r.Cache.S3.Endpoint.String() != "https://s3.eu-west-1.amazonaws.com" || r.Cache.S3.Region != "us-east-1" {
				t.Errorf("runner: %+v %+v", r, r.Cache.S3)
			}
		}},
		{"docker-machine-distributed-cache.toml", []string{"runners.executor"}, func(t *testing.T, c *Config) {
			if cc := c.Runners[0].Cache; cc.S3.Endpoint.String() != "https://s3.example.com" || cc.S3.AccessKey != "access-key" {
				t.Errorf("cache: %+v", cc.S3)
			}
		}},
		{"docker-autoscaler-aws.toml", autoscalerWarn, nil},
		{"docker-autoscaler-gcp.toml", autoscalerWarn, nil},
		{"docker-autoscaler-azure.toml", autoscalerWarn, func(t *testing.T, c *Config) {
			if r := c.Runners[0]; c.Concurrent != 10 || r.Executor != "docker" || r.Docker.Image != "busybox:latest" || r.Token != "<token>" {
				t.Errorf("runner: %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			c, err := Load("testdata/gitlab-runner/"+tt.file, noEnv)
			if err != nil {
				t.Fatalf("does not load: %v", err)
			}
			if got, want := strings.Join(warningKeys(c.Warnings), " "), strings.Join(tt.warns, " "); got != want {
				t.Errorf("warnings:\n got %s\nwant %s", got, want)
			}
			for _, w := range c.Warnings {
				if w.Message == "" {
					t.Errorf("warning %s says nothing", w.Key)
				}
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestGitLabRunnerKeys(t *testing.T) {
	const head = "[[runners]]\nurl = \"https://gitlab.example.com\"\ntoken = \"glrt-x\"\n"
	tests := []struct {
		name, body string
		wantErr    string // substring; "" = loads
		warns      []string
		check      func(t *testing.T, c *Config)
	}{
		{name: "pull_policy as a string", body: head + "[runners.docker]\npull_policy = \"always\"\n",
			check: func(t *testing.T, c *Config) {
				if c.Runners[0].Docker.PullPolicy != "always" {
					t.Errorf("pull policy %q", c.Runners[0].Docker.PullPolicy)
				}
			}},
		{name: "pull_policy list warns about the fallback", body: head + "[runners.docker]\npull_policy = [\"if-not-present\", \"always\"]\n",
			warns: []string{"runners.docker.pull_policy"}},
		{name: "shm_size as a string", body: head + "[runners.docker]\nshm_size = \"64m\"\n", check: func(t *testing.T, c *Config) {
			if c.Runners[0].Docker.ShmSize != 64<<20 {
				t.Errorf("shm %d", c.Runners[0].Docker.ShmSize)
			}
		}},
		{name: "token times as RFC 3339 strings", body: head + "token_obtained_at = \"2026-01-10T10:00:00Z\"\ntoken_expires_at = \"2026-04-10T10:00:00Z\"\n",
			check: func(t *testing.T, c *Config) {
				if c.Runners[0].TokenExpiresAt.Month() != time.April {
					t.Errorf("expires %v", c.Runners[0].TokenExpiresAt)
				}
			}},
		{name: "false and zero settings need no warning", body: head + "[runners.docker]\ntls_verify = false\nnetwork_mtu = 0\ndisable_cache = false\n[runners.cache]\nMaxUploadedArchiveSize = 0\n"},
		{name: "a set unimplemented key warns", body: head + "[runners.docker]\noom_kill_disable = true\n", warns: []string{"runners.docker.oom_kill_disable"}},
		{name: "keys are matched ignoring case as gitlab-runner does", body: head + "[runners.docker]\nHelper_Image_Flavor = \"ubuntu\"\n",
			warns: []string{"runners.docker.Helper_Image_Flavor"}},
		{name: "feature flags", body: head + "[runners.feature_flags]\nFF_USE_FASTZIP = true\nFF_NOT_A_FLAG = true\n",
			warns: []string{"runners.feature_flags.FF_NOT_A_FLAG", "runners.feature_flags.FF_USE_FASTZIP"}},
		{name: "kubernetes table is one warning", body: head + "[runners.kubernetes]\nnamespace = \"ci\"\n[runners.kubernetes.pod_labels]\na = \"b\"\n",
			warns: []string{"runners.kubernetes"}},
		{name: "same key in two runners warns once", body: head + "shell = \"bash\"\n" + head + "shell = \"bash\"\n", warns: []string{"runners.shell"}},
		{name: "network_mode host is not given", body: head + "[runners.docker]\nnetwork_mode = \"host\"\n", warns: []string{"runners.docker.network_mode"},
			check: func(t *testing.T, c *Config) {
				if c.Runners[0].Docker.NetworkMode != "" {
					t.Errorf("network mode %q", c.Runners[0].Docker.NetworkMode)
				}
			}},
		{name: "the engine socket is never mounted", body: head + "[runners.docker]\nvolumes = [\"/cache\", \"/var/run/docker.sock:/var/run/docker.sock\"]\n",
			warns: []string{"runners.docker.volumes"}, check: func(t *testing.T, c *Config) {
				if v := c.Runners[0].Docker.Volumes; len(v) != 1 || v[0] != "/cache" {
					t.Errorf("volumes %v", v)
				}
			}},
		{name: "gitlab-runner's helper image is not used", body: head + "[runners.docker]\nhelper_image = \"registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper:x86_64-${CI_RUNNER_REVISION}\"\n",
			warns: []string{"runners.docker.helper_image"}, check: func(t *testing.T, c *Config) {
				if c.Runners[0].Docker.HelperImage != "" {
					t.Errorf("helper image %q", c.Runners[0].Docker.HelperImage)
				}
			}},
		{name: "typo in a runfleet key", body: head + "[runners.docker]\nimgae = \"alpine\"\n", wantErr: "unknown key runners.docker.imgae (did you mean image?)"},
		{name: "typo in a gitlab-runner key", body: head + "[runners.docker]\ntls_verfy = true\n", wantErr: "did you mean tls_verify?"},
		{name: "typo in a table name", body: head + "[runners.dockr]\nimage = \"alpine\"\n", wantErr: "unknown key runners.dockr (did you mean docker?)"},
		{name: "typo at the top", body: "concurrnet = 2\n", wantErr: "unknown key concurrnet (did you mean concurrent?)"},
		{name: "no suggestion for nonsense", body: "zzzzzzzzzz = 1\n", wantErr: "unknown key zzzzzzzzzz"},
		{name: "typo in s3", body: head + "[runners.cache]\nType = \"s3\"\n[runners.cache.s3]\nBucketNam = \"b\"\n", wantErr: "did you mean BucketName?"},
		{name: "s3 spelt twice differently", body: head + "[runners.cache]\nType = \"s3\"\n[runners.cache.s3]\nBucketName = \"a\"\nbucket_name = \"b\"\n",
			wantErr: "bucket_name and BucketName"},
		{name: "shell executor is refused", body: "[[runners]]\nurl = \"https://g\"\ntoken = \"t\"\nexecutor = \"shell\"\n", wantErr: `executor "shell" is not supported`},
		{name: "hooks and clone_url", body: head + "pre_get_sources_script = \"echo pre\"\npre_build_script = \"echo a\"\npost_build_script = \"echo b\"\nclone_url = \"https://10.0.0.1/gl\"\n",
			check: func(t *testing.T, c *Config) {
				r := c.Runners[0]
				if r.PreGetSourcesScript != "echo pre" || r.PreBuildScript != "echo a" || r.PostBuildScript != "echo b" || r.CloneURL.Host != "10.0.0.1" {
					t.Errorf("runner: %+v", r)
				}
			}},
		{name: "clone_url with credentials", body: head + "clone_url = \"https://u:p@h\"\n", wantErr: "clone_url"},
		{name: "tls-ca-file must exist", body: head + "tls-ca-file = \"/nonexistent/ca.pem\"\n", wantErr: "tls-ca-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.body), noEnv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want %q under ErrInvalid", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := strings.Join(warningKeys(c.Warnings), " "), strings.Join(tt.warns, " "); got != want {
				t.Errorf("warnings:\n got %s\nwant %s", got, want)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestUnknownKeyErrorIsTyped(t *testing.T) {
	_, err := Load(writeFile(t, "[[runners]]\nurl = \"https://g\"\ntoken = \"t\"\nlimt = 2\n"), noEnv)
	var uk *UnknownKeyError
	if !errors.As(err, &uk) || uk.Key != "runners.limt" || uk.Suggestion != "limit" {
		t.Fatalf("err = %v (%#v)", err, uk)
	}
}

func TestLoadLocalNeedsNoCoordinator(t *testing.T) {
	p := writeFile(t, "[[runners]]\nname = \"local\"\n[runners.docker]\nimage = \"alpine\"\n")
	if _, err := Load(p, noEnv); err == nil || !strings.Contains(err.Error(), "url") {
		t.Fatalf("Load without url: %v", err)
	}
	c, err := LoadLocal(p, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if r := c.Runners[0]; r.URL != nil || r.Token == "" || r.Docker.Image != "alpine" {
		t.Errorf("runner: %+v", r)
	}
}
