package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "join"), []byte("s3cret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "node.toml"), []byte("concurrent = 2\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "gl"), []byte("glpat-x"), 0o600)
	good := `fleet = "dev"
join_token_file = "` + dir + `/join"
store = "` + dir + `/fleet.db"
heartbeat_grace = "20s"
[provider]
type = "docker"
[provider.docker]
node_config = "` + dir + `/node.toml"
state_dir = "` + dir + `/nodes"
allow_host_docker_socket = true
[[pools]]
name = "linux"
labels = ["linux"]
slots_per_node = 2
max_nodes = 4
scale_down_delay = "5m"
idle_risk = 0.1
[[pools.periods]]
cron = "0 8 * * 1-5"
duration = "10h"
min_idle_slots = 4
[[demand.gitlab]]
url = "https://gitlab.example.com"
token_file = "` + dir + `/gl"
projects = ["42"]
`
	tests := []struct {
		name, body, wantErr string
	}{
		{"good", good, ""},
		{"unknown key", good + "bogus = 1\n", "unknown keys: demand.gitlab.bogus"},
		{"bad provider", strings.Replace(good, `type = "docker"`, `type = "gce"`, 1), "want docker or aws"},
		{"bad pool", strings.Replace(good, "max_nodes = 4", "max_nodes = -1", 1), "min/max nodes"},
		{"idle risk out of range", strings.Replace(good, "idle_risk = 0.1", "idle_risk = 1.5", 1), "idle risk 1.5"},
		{"missing join token", strings.Replace(good, dir+"/join", dir+"/nope", 1), "join_token_file"},
		{"host socket not allowed", strings.Replace(good, "allow_host_docker_socket = true\n", "", 1), "allow_host_docker_socket = true is required"},
		{"docker provider off loopback", `listen_address = "0.0.0.0:8780"` + "\n" + good, "the docker provider listens on loopback only"},
		{"clear text off loopback", `admin_address = "10.0.0.5:8781"` + "\n" + good, "serves no clear text off this host"},
		{"docker provider off loopback, clear text consented", `insecure_plaintext = true` + "\n" + `admin_address = "10.0.0.5:8781"` + "\n" + good, "the docker provider listens on loopback only"},
		{"tls without a key", good + "[tls]\ncert_file = \"" + dir + "/join\"\n", "cert_file and key_file are both required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "a.toml")
			os.WriteFile(p, []byte(tt.body), 0o600)
			c, err := loadConfig(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.JoinToken != "s3cret" || c.HeartbeatGrace != 20*time.Second || c.Pools[0].ScaleDownDelay != 5*time.Minute || c.Pools[0].IdleRisk != 0.1 ||
				c.Pools[0].Periods[0].Duration != 10*time.Hour || len(c.Pools[0].Offerings) != 1 || c.GitLab[0].Token != "glpat-x" {
				t.Errorf("config %+v", c)
			}
		})
	}
}
