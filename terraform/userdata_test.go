package tfcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/runner/config"
)

// sampleVars are realistic values for every variable the module passes to its user-data
// templates; platform is set per case. A key the module passes without a sample here fails
// the test, so the two stay in step.
func sampleVars(platform string) map[string]string {
	return map[string]string{
		"platform":               platform,
		"fleet_name":             "ci",
		"gitlab_url":             "https://gitlab.example.com",
		"github_url":             "https://github.com/acme",
		"github_app_id":          "123456",
		"github_installation_id": "7654321",
		"github_runner_group":    "ci",
		"runner_labels":          "self-hosted,linux",
		"runner_labels_toml":     `"self-hosted", "linux"`,
		"runner_secret_arn":      "arn:aws:ssm:eu-west-1:123456789012:parameter/runfleet/ci/token",
		"fleet_join_token_arn":   "arn:aws:secretsmanager:eu-west-1:123456789012:secret:runfleet/join-AbCdEf",
		"platform_api_token_arn": "",
		"autoscaler_endpoint":    "http://10.0.1.10:8080",
		"region":                 "eu-west-1",
		"deb_arch":               "amd64",
		"agent_url":              "https://github.com/runfleet/runfleet/releases/download/v0.1.0/runner-linux-amd64",
		"autoscaler_url":         "https://github.com/runfleet/runfleet/releases/download/v0.1.0/autoscaler-linux-amd64",
		"agent_sha256":           strings.Repeat("ab", 32),
		"slots_per_node":         "2",
		"shutdown_timeout":       "90",
		"stop_timeout":           "120",
		"job_image":              "debian:bookworm-slim",
		"job_cpus":               "1.5",
		"job_memory":             "2g",
		"job_pids_limit":         "4096",
		"job_shm_size":           "",
		"log_group":              "/runfleet/ci/nodes",
		"cache_bucket":           "",
		"asg_name":               "ci-nodes",
		"listen_address":         "0.0.0.0:8080",
		"queue_url":              "https://sqs.eu-west-1.amazonaws.com/123456789012/ci-interruptions",
		"state_volume_id":        "vol-0123456789abcdef0",
		"min_nodes":              "0",
		"max_nodes":              "10",
	}
}

// heredoc matches `cat >[>] FILE <<TOML` … `TOML` blocks.
var heredoc = regexp.MustCompile(`(?ms)^cat >>? \S+ <<'?TOML'?\n(.*?)^TOML$`)

// TestUserDataRenders renders both user-data templates for both platforms exactly as
// templatefile would, and checks what boots a node: the script parses, installs the engine,
// writes a systemd unit with a restart policy, holds no credential, and the agent config it
// writes is one the agent's strict config reader accepts.
func TestUserDataRenders(t *testing.T) {
	m := loadModule(t, filepath.Join("modules", "aws-fleet"))
	uses, findings := templateUses(m)
	for _, f := range findings {
		t.Fatal(f)
	}
	bash, bashErr := exec.LookPath("bash")
	for _, u := range uses {
		name := filepath.Base(u.path)
		expr, _, err := parseTemplate(u.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, platform := range []string{"gitlab", "github"} {
			t.Run(name+"/"+platform, func(t *testing.T) {
				all := sampleVars(platform)
				vars := map[string]string{}
				for k := range u.keys {
					v, ok := all[k]
					if !ok {
						t.Fatalf("the module passes %q to %s: add a sample value to sampleVars", k, name)
					}
					vars[k] = v
				}
				out, err := renderTemplate(expr, vars)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(out, "#!/bin/bash\n") {
					t.Errorf("%s does not start with #!/bin/bash", name)
				}
				if loc := secretLiteral.FindStringIndex(out); loc != nil {
					t.Errorf("rendered %s holds a credential-looking literal %q", name, redact(out[loc[0]:loc[1]]))
				}
				unit := "runfleet-runner.service"
				if strings.HasPrefix(name, "autoscaler") {
					unit = "runfleet-autoscaler.service"
				}
				for _, want := range []string{
					"/etc/systemd/system/" + unit,
					"[Service]", "Restart=always", "WantedBy=multi-user.target",
					"systemctl enable --now " + unit,
					vars["runner_secret_arn"],
				} {
					if !strings.Contains(out, want) {
						t.Errorf("rendered %s lacks %q", name, want)
					}
				}
				if unit == "runfleet-runner.service" {
					for _, want := range []string{"docker.io", "Requires=docker.service", "TimeoutStopSec=120", "sha256sum -c"} {
						if !strings.Contains(out, want) {
							t.Errorf("rendered %s lacks %q", name, want)
						}
					}
					checkAgentConfig(t, out, platform)
				}
				if bashErr != nil {
					t.Fatalf("bash is needed to check the user-data syntax: %v", bashErr)
				}
				script := filepath.Join(t.TempDir(), "user-data.sh")
				if err := os.WriteFile(script, []byte(out), 0o600); err != nil {
					t.Fatal(err)
				}
				if msg, err := exec.Command(bash, "-n", script).CombinedOutput(); err != nil {
					t.Errorf("bash -n on rendered %s: %v\n%s", name, err, msg)
				}
			})
		}
	}
}

// checkAgentConfig pulls the TOML the script writes out of its here-documents, fills in
// what the shell would (instance ID, the secret), and reads it with the agent's own strict
// reader, which refuses unknown keys.
func checkAgentConfig(t *testing.T, script, platform string) {
	t.Helper()
	var doc strings.Builder
	for _, m := range heredoc.FindAllStringSubmatch(script, -1) {
		doc.WriteString(m[1])
	}
	if doc.Len() == 0 {
		t.Fatal("no config here-document found in the node user-data")
	}
	text := strings.NewReplacer("$INSTANCE_ID", "i-0123456789abcdef0", "$SECRET", "glrt-test").Replace(doc.String())
	if strings.Contains(text, "$") {
		t.Errorf("config still holds an unexpanded $: %s", text)
	}
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Read(path)
	if err != nil {
		t.Fatalf("the agent refuses the config the user-data writes: %v\n%s", err, text)
	}
	if f.Concurrent != 2 || f.ShutdownTimeout != 90 || f.Interruption == nil || f.Interruption.Cloud != "aws" {
		t.Errorf("global keys not as rendered: %+v", f)
	}
	switch platform {
	case "gitlab":
		if len(f.Runners) != 1 {
			t.Fatalf("gitlab config: %d runners, want 1", len(f.Runners))
		}
		r := f.Runners[0]
		if r.URL != "https://gitlab.example.com" || r.Token != "glrt-test" || r.Executor != "docker" || r.Docker == nil {
			t.Errorf("gitlab runner entry not as rendered: %+v", r)
		}
		if d := r.Docker; d != nil && (d.CPUs != "1.5" || d.Memory != "2g" || d.PidsLimit != 4096 || d.ShmSize != "" || d.Privileged) {
			t.Errorf("job limits not as rendered: %+v", d)
		}
		if _, err := config.Load(path, func(string) (string, bool) { return "", false }); err != nil {
			t.Errorf("the agent's loader refuses the gitlab config: %v", err)
		}
	case "github":
		// The runner entry is appended by `runner register` at boot; only globals here.
		if len(f.Runners) != 0 {
			t.Errorf("github config: %d runners written directly, want 0 (register adds it)", len(f.Runners))
		}
		if !strings.Contains(script, "runner register --non-interactive") || !strings.Contains(script, "--private-key-file") {
			t.Error("github user-data does not register the node with the App key file")
		}
	}
}
