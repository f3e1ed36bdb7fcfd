package tfcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/zclconf/go-cty/cty"

	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/terraform/tfrender"
)

// fleetCase is one set of module inputs the render tests run.
type fleetCase struct {
	name     string
	platform string
	warm     bool
	in       tfrender.Inputs
}

// fleetCases: each platform, with and without a warm pool.
func fleetCases() []fleetCase {
	var out []fleetCase
	for _, platform := range []string{"gitlab", "github"} {
		in := tfrender.Sample(platform)
		out = append(out, fleetCase{platform, platform, false, in})
		out = append(out, fleetCase{platform + "-warm", platform, true, in.WithVars(map[string]cty.Value{
			"warm_pool": cty.ObjectVal(map[string]cty.Value{
				"min_size": cty.NumberIntVal(2), "pool_state": cty.StringVal("hibernated"), "reuse_on_scale_in": cty.True,
			}),
		})})
	}
	return out
}

// TestUserDataRenders evaluates the module's template variables from its real locals (as
// `terraform plan` would, for each platform, with and without a warm pool), renders both
// user-data templates with them, and checks what boots an instance: the script parses,
// verifies the binary it downloads, writes a systemd unit with a restart policy, holds no
// credential, and the configs it writes are ones the real loaders accept (the agent's here;
// the autoscaler's in cmd/autoscaler's TestTerraformConfig).
func TestUserDataRenders(t *testing.T) {
	dir := filepath.Join("modules", "aws-fleet")
	uses, findings := templateUses(loadModule(t, dir))
	for _, f := range findings {
		t.Fatal(f)
	}
	mod, err := tfrender.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	bash, bashErr := exec.LookPath("bash")
	for _, u := range uses {
		name := filepath.Base(u.path)
		if u.local == "" {
			t.Fatalf("%s: the module passes an object literal; the test evaluates a local", name)
		}
		for _, c := range fleetCases() {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				if err := mod.Check(c.in); err != nil {
					t.Fatalf("the module refuses the test's inputs: %v", err)
				}
				vars, err := mod.Local(u.local, c.in)
				if err != nil {
					t.Fatal(err)
				}
				out, err := tfrender.Render(u.path, vars)
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
					tfrender.SampleJoinTokenARN, tfrender.SampleSHA256, "sha256sum -c --quiet -",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("rendered %s lacks %q", name, want)
					}
				}
				// The platform credential's reader: GitLab's runner token is the nodes',
				// GitHub's App key the autoscaler's (it mints the nodes' JIT runners).
				readsCredential := strings.Contains(out, tfrender.SampleRunnerSecretARN)
				if unit == "runfleet-runner.service" {
					for _, want := range []string{"docker.io", "Requires=docker.service", "TimeoutStopSec=120"} {
						if !strings.Contains(out, want) {
							t.Errorf("rendered %s lacks %q", name, want)
						}
					}
					if want := c.platform == "gitlab"; readsCredential != want {
						t.Errorf("%s node reads the platform credential: %v, want %v", c.platform, readsCredential, want)
					}
					checkWarmNode(t, out, u.local == "warm_node_template_vars")
					checkAgentConfig(t, out, c.platform)
				} else {
					if want := c.platform == "github"; readsCredential != want {
						t.Errorf("%s autoscaler reads the platform credential: %v, want %v", c.platform, readsCredential, want)
					}
					checkAutoscalerText(t, out, c)
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

// checkWarmNode: a warm group's node completes its group's launching hook on every boot and
// does not start the agent while warming; a node of the spot group does neither.
func checkWarmNode(t *testing.T, script string, warm bool) {
	t.Helper()
	hook := strings.Contains(script, "complete-lifecycle-action") && strings.Contains(script, "--auto-scaling-group-name '"+tfrender.SampleFleet+"-warm'") &&
		strings.Contains(script, "--lifecycle-hook-name 'runfleet-node-ready'") && strings.Contains(script, "systemctl enable runfleet-runner.service runfleet-lifecycle.service") &&
		strings.Contains(script, "Warmed:*)") && strings.Contains(script, "ExecStartPre=-/bin/rm -f /var/lib/runfleet/fleet-node-token")
	if hook != warm {
		t.Errorf("warm pool %v, but the lifecycle hook handling is present: %v", warm, hook)
	}
	if started := strings.Contains(script, "systemctl enable --now runfleet-runner.service"); started == warm {
		t.Errorf("warm pool %v, but the agent is started unconditionally: %v", warm, started)
	}
}

// checkAgentConfig takes the config the node's script writes out of its here-documents,
// fills in what the shell would (instance ID, the secret, the config directory, the join
// token file), and loads it with the agent's own loader, which refuses unknown keys.
func checkAgentConfig(t *testing.T, script, platform string) {
	t.Helper()
	files := tfrender.Heredocs(script)
	dir := t.TempDir()
	expand := strings.NewReplacer("$INSTANCE_ID", "i-0123456789abcdef0", "$SECRET", "glrt-test", "$CONF_DIR", dir).Replace
	text := expand(files["$CONF.new"])
	if text == "" {
		t.Fatalf("the node user-data writes no config; here-documents: %v", keys(files))
	}
	if strings.Contains(text, "$") {
		t.Errorf("config still holds an unexpanded $:\n%s", text)
	}
	for _, want := range []string{`read_secret "$FLEET_JOIN_TOKEN_ARN"`, "> $CONF_DIR/join-token", `read_secret "$FLEET_CA_ARN"`, "> $CONF_DIR/fleet-ca.pem", tfrender.SampleFleetCAARN} {
		if !strings.Contains(script, want) {
			t.Errorf("the node user-data lacks %q", want)
		}
	}
	if strings.Contains(script, "RUNFLEET_FLEET_JOIN_TOKEN=") {
		t.Error("the node user-data puts the join token in the agent's environment")
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "join-token"), []byte("join-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Read(path)
	if err != nil {
		t.Fatalf("the agent refuses the config the user-data writes: %v\n%s", err, text)
	}
	if f.Concurrent != 2 || f.ShutdownTimeout != 90 || f.Interruption == nil || f.Interruption.Cloud != "aws" {
		t.Errorf("global keys not as rendered: %+v", f)
	}
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("the agent's loader refuses the %s config: %v", platform, err)
	}
	if fl := cfg.Fleet; !fl.Enabled() || fl.URL.String() != "https://"+tfrender.SampleAutoscalerIP+":8080" || fl.JoinToken != "join-test" ||
		fl.ProviderID != "i-0123456789abcdef0" || fl.Identity != "aws" || fl.CAFile != filepath.Join(dir, "fleet-ca.pem") {
		t.Errorf("fleet membership: %+v", fl)
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
		if d := r.Docker; d != nil && (d.CPUs != "1.5" || d.Memory != "2g" || d.PidsLimit != 4096 || d.ShmSize != "" || d.Privileged ||
			!strings.Contains(d.Image, "@sha256:")) {
			t.Errorf("job image and limits not as rendered: %+v", d)
		}
	case "github":
		// One [[github]] table with the fleet's credentials: no key, no token, no App id on
		// the node; the autoscaler mints its runners.
		if len(f.Runners) != 0 || len(cfg.GitHub) != 1 {
			t.Fatalf("github config: %d [[runners]], %d [[github]], want 0 and 1", len(f.Runners), len(cfg.GitHub))
		}
		g := cfg.GitHub[0]
		if !g.FromFleet() || g.URL != nil || g.AppID != 0 || g.PrivateKeyFile != "" || g.Token != "" ||
			g.RunnerImage != tfrender.SampleRunnerImage || !slices.Equal(g.Labels, []string{"self-hosted", "linux"}) {
			t.Errorf("github table not as rendered: %+v", g)
		}
		for _, never := range []string{"private_key", "private-key", "github-app.pem", "app_id", "app-id", "runner register", "RUNNER_SECRET_ARN\"", "$SECRET"} {
			if strings.Contains(script, never) {
				t.Errorf("github node user-data has %q: the App key stays on the autoscaler", never)
			}
		}
	}
}

// checkAutoscalerText checks the autoscaler config as text and TOML; cmd/autoscaler loads
// the same rendering with its loader.
func checkAutoscalerText(t *testing.T, script string, c fleetCase) {
	t.Helper()
	text := tfrender.Heredocs(script)["$CONF_DIR/autoscaler.toml"]
	var doc map[string]any
	if _, err := toml.Decode(text, &doc); err != nil {
		t.Fatalf("autoscaler.toml is not TOML: %v\n%s", err, text)
	}
	for _, want := range []string{`fleet = "` + tfrender.SampleFleet + `"`, `type = "aws"`, `auto_scaling_group = "` + tfrender.SampleGroup + `"`, `[[pools.offerings]]`,
		"[tls]", `fleet_url = "https://$PRIVATE_IP:8080"`} {
		if !strings.Contains(text, want) {
			t.Errorf("autoscaler.toml lacks %q:\n%s", want, text)
		}
	}
	// The fleet API's certificate: a CA kept on the state volume, a server certificate for
	// the private address, the CA certificate published where the nodes read it.
	for _, want := range []string{"subjectAltName=IP:%s", "-CAkey $TLS_DIR/ca.key", "TLS_DIR=$STATE_DIR/tls",
		"aws ssm put-parameter --name '" + tfrender.SampleFleetCAName + "' --type String --overwrite --value \"file://$TLS_DIR/ca.pem\""} {
		if !strings.Contains(script, want) {
			t.Errorf("the autoscaler user-data lacks %q", want)
		}
	}
	if got := strings.Contains(text, "[pools.warm_pool]"); got != c.warm {
		t.Errorf("warm pool %v, [pools.warm_pool] written: %v", c.warm, got)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
