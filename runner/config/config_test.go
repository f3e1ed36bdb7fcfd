package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	const base = `
concurrent = 4
check_interval = 5
listen_address = "127.0.0.1:9252"
[[runners]]
name = "a"
url = "https://gitlab.example.com"
token = "glrt-abcdefghijkl"
executor = "docker"
limit = 2
[runners.docker]
image = "alpine:3"
pull_policy = ["never"]
cpus = "1.5"
memory = "512m"
memory_swap = "1g"
pids_limit = 100
shm_size = "64m"
volumes = ["/cache", "/srv:/srv:ro"]
[runners.cache]
dir = "/tmp/c"
max_size = "1g"
`
	tests := []struct {
		name    string
		body    string
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		{name: "full", body: base, check: func(t *testing.T, c *Config) {
			r := c.Runners[0]
			if c.Concurrent != 4 || c.CheckInterval != 5*time.Second || r.Limit != 2 {
				t.Errorf("globals: %+v", c)
			}
			if r.Docker.NanoCPUs != 1.5e9 || r.Docker.Memory != 512<<20 || r.Docker.MemorySwap != 1<<30 || r.Docker.ShmSize != 64<<20 {
				t.Errorf("docker: %+v", r.Docker)
			}
			if r.Docker.PullPolicy != "never" || r.Cache.MaxSize != 1<<30 || r.ShortToken() != "abcdefgh" {
				t.Errorf("runner: %+v", r)
			}
		}},
		{name: "env overrides", body: base, env: map[string]string{"RUNFLEET_CONCURRENT": "9", "RUNFLEET_DOCKER_IMAGE": "debian"},
			check: func(t *testing.T, c *Config) {
				if c.Concurrent != 9 || c.Runners[0].Docker.Image != "debian" {
					t.Errorf("overrides not applied: %d %s", c.Concurrent, c.Runners[0].Docker.Image)
				}
			}},
		{name: "defaults", body: "[[runners]]\nurl = \"http://h\"\ntoken = \"t\"\n", check: func(t *testing.T, c *Config) {
			r := c.Runners[0]
			if c.Concurrent != 1 || r.Executor != "docker" || r.Docker.PullPolicy != "if-not-present" || r.OutputLimit != DefaultOutputLimit || r.Docker.Privileged {
				t.Errorf("defaults: %+v %+v", c, r)
			}
		}},
		{name: "bad env", body: base, env: map[string]string{"RUNFLEET_CONCURRENT": "many"}, wantErr: "RUNFLEET_CONCURRENT"},
		{name: "unknown key", body: base + "\nbogus = 1\n", wantErr: "unknown key"},
		{name: "bad memory", body: strings.Replace(base, `"512m"`, `"lots"`, 1), wantErr: "memory"},
		{name: "swap below memory", body: strings.Replace(base, `"1g"`, `"1m"`, 1), wantErr: "memory_swap"},
		{name: "bad pull policy", body: strings.Replace(base, `"never"`, `"sometimes"`, 1), wantErr: "pull_policy"},
		{name: "bad url", body: strings.Replace(base, "https://gitlab.example.com", "gitlab", 1), wantErr: "url"},
		{name: "bad volume", body: strings.Replace(base, `"/cache"`, `"relative"`, 1), wantErr: "volume"},
		{name: "malformed toml", body: "concurrent = [", wantErr: "parse config"},
		{name: "interruption", body: base + "\n[interruption]\ncloud = \"aws\"\n", check: func(t *testing.T, c *Config) {
			if c.Interruption.Cloud != "aws" || c.Interruption.CheckInterval != 5*time.Second {
				t.Errorf("interruption: %+v", c.Interruption)
			}
		}},
		{name: "interruption from env", body: base, env: map[string]string{"RUNFLEET_INTERRUPTION_CLOUD": "gcp", "RUNFLEET_METADATA_ENDPOINT": "http://127.0.0.1:1"},
			check: func(t *testing.T, c *Config) {
				if c.Interruption.Cloud != "gcp" || c.Interruption.Endpoint != "http://127.0.0.1:1" {
					t.Errorf("interruption: %+v", c.Interruption)
				}
			}},
		{name: "bad cloud", body: base + "\n[interruption]\ncloud = \"ibm\"\n", wantErr: "cloud"},
		{name: "token times", body: strings.Replace(base, "executor = \"docker\"", "executor = \"docker\"\ntoken_obtained_at = \"2026-11-23T10:00:00Z\"\ntoken_expires_at = \"2026-12-23T10:00:00Z\"", 1),
			check: func(t *testing.T, c *Config) {
				if c.Runners[0].TokenExpiresAt.Sub(c.Runners[0].TokenObtainedAt) != 30*24*time.Hour {
					t.Errorf("token times: %+v", c.Runners[0])
				}
			}},
		{name: "bad token time", body: strings.Replace(base, "executor = \"docker\"", "executor = \"docker\"\ntoken_expires_at = \"soon\"", 1), wantErr: "token_expires_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeFile(t, tt.body), func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestAppendRunnerKeepsExisting(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.toml")
	r := RunnerFile{Name: "one", URL: "http://h", Token: "glrt-1", Executor: "docker", Docker: &DockerFile{Image: "alpine"}}
	if err := AppendRunner(p, r); err != nil {
		t.Fatal(err)
	}
	// An operator's comment must survive the next append.
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, append([]byte("# keep me\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	r.Name, r.Token = "two", "glrt-2"
	if err := AppendRunner(p, r); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != FileMode {
		t.Errorf("mode = %v", st.Mode())
	}
	b, _ = os.ReadFile(p)
	if !strings.HasPrefix(string(b), "# keep me\n") {
		t.Errorf("comment lost:\n%s", b)
	}
	c, err := Load(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Runners) != 2 || c.Runners[0].Name != "one" || c.Runners[1].Name != "two" {
		t.Fatalf("runners: %+v", c.Runners)
	}
	// A broken file is never appended to.
	if err := os.WriteFile(p, []byte("concurrent = ["), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := AppendRunner(p, r); err == nil {
		t.Fatal("append to broken config succeeded")
	}
}
