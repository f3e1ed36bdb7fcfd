package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/runfleet/runfleet/terraform/tfrender"
)

// TestTerraformConfig: the control plane the aws-fleet Terraform module deploys starts. The
// module's autoscaler user-data is rendered from the module's real locals (as `terraform
// plan` would, with its defaults, types and checks) for GitLab and GitHub, and the
// autoscaler.toml it writes, with the files beside it, is loaded with loadConfig, which
// refuses unknown keys.
func TestTerraformConfig(t *testing.T) {
	dir := filepath.Join("..", "..", "terraform", "modules", "aws-fleet")
	mod, err := tfrender.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	warm := map[string]cty.Value{
		"max_jobs_per_node": cty.NumberIntVal(1),
		"warm_pool": cty.ObjectVal(map[string]cty.Value{
			"min_size": cty.NumberIntVal(2), "max_size": cty.NumberIntVal(6), "pool_state": cty.StringVal("hibernated"), "reuse_on_scale_in": cty.True,
		}),
	}
	cases := []struct {
		name      string
		in        tfrender.Inputs
		offerings int
		warm      bool
	}{
		// 2 instance types x 2 zones, all spot.
		{"gitlab", tfrender.Sample("gitlab"), 4, false},
		{"github", tfrender.Sample("github"), 4, false},
		// A base of on-demand nodes adds the on-demand market.
		{"gitlab-on-demand-base", tfrender.Sample("gitlab").WithVars(map[string]cty.Value{"on_demand_base_capacity": cty.NumberIntVal(1)}), 8, false},
		// A warm pool: a second, on-demand group beside the spot one (AWS takes no Spot there).
		{"gitlab-warm", tfrender.Sample("gitlab").WithVars(warm), 4, true},
		{"github-warm", tfrender.Sample("github").WithVars(warm), 4, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, text := loadTerraformConfig(t, mod, dir, c.in)
			platform := c.in.Vars["platform"].AsString()
			if cfg.Fleet != tfrender.SampleFleet || cfg.Provider.Type != "aws" || cfg.ListenAddress != "0.0.0.0:8080" ||
				cfg.FleetURL != "https://10.0.1.20:8080" || cfg.JoinToken != "join-test" || !strings.HasSuffix(cfg.Store, "/state/state.db") {
				t.Errorf("globals: fleet %q provider %q listen %q fleet_url %q store %q join token read: %v\n%s",
					cfg.Fleet, cfg.Provider.Type, cfg.ListenAddress, cfg.FleetURL, cfg.Store, cfg.JoinToken == "join-test", text)
			}
			if cfg.AWS.Region != "eu-west-1" || len(cfg.AWS.Pools) != 1 || cfg.AWS.Pools["default"].AutoScalingGroup != tfrender.SampleGroup {
				t.Errorf("[provider.aws]: %+v", cfg.AWS)
			}
			if len(cfg.Pools) != 1 {
				t.Fatalf("%d pools, want 1", len(cfg.Pools))
			}
			p := cfg.Pools[0]
			if p.Name != "default" || p.SlotsPerNode != 2 || p.MinNodes != 0 || p.MaxNodes != 10 || p.MinIdleSlots != 2 ||
				!slices.Equal(p.Labels, []string{"self-hosted", "linux"}) || len(p.Offerings) != c.offerings {
				t.Errorf("pool: %+v, want %d offerings", p, c.offerings)
			}
			switch wp := p.WarmPool; {
			case !c.warm && (wp != nil || p.MaxJobsPerNode != 0):
				t.Errorf("warm pool %+v, max jobs per node %d, without a warm_pool in the module", wp, p.MaxJobsPerNode)
			case c.warm && (wp == nil || wp.MinSize != 2 || wp.MaxSize != 6 || wp.State != "hibernated" || !wp.ReuseOnScaleIn ||
				wp.Offering.InstanceType != "m7i.large" || wp.Offering.Spot || wp.Offering.PricePerHour != 0.1008 || p.MaxJobsPerNode != 1 ||
				!strings.Contains(text, `warm_group = "`+tfrender.SampleFleet+`-warm"`)):
				t.Errorf("warm pool %+v, max jobs per node %d: not the module's\n%s", wp, p.MaxJobsPerNode, text)
			}
			if !c.warm && strings.Contains(text, "warm_group") {
				t.Errorf("a warm group without a warm pool:\n%s", text)
			}
			for _, o := range p.Offerings {
				if o.InstanceType == "m7i.large" && o.Spot && o.PricePerHour != 0.0381 || o.InstanceType == "m7i.large" && !o.Spot && o.PricePerHour != 0.1008 ||
					o.InstanceType == "m6i.large" && !o.Spot && o.PricePerHour != 1 {
					t.Errorf("offering %+v: price not from instance_prices (or the documented fallback)", o)
				}
			}
			switch platform {
			case "gitlab":
				if len(cfg.GitLab) != 1 || cfg.GitLab[0].URL != "https://gitlab.example.com" || cfg.GitLab[0].Token != "api-test" ||
					!slices.Equal(cfg.GitLab[0].Projects, []string{"acme/app", "42"}) || cfg.GitHub != nil {
					t.Errorf("gitlab demand: %+v, github %+v", cfg.GitLab, cfg.GitHub)
				}
			case "github":
				if g := cfg.GitHub; len(cfg.GitLab) != 0 || g == nil || g.Secret != "webhook-test" || g.Token != "api-test" ||
					!slices.Equal(g.Repos, []string{"acme/app"}) || g.APIURL != "" {
					t.Errorf("github demand: %+v, gitlab %+v", cfg.GitHub, cfg.GitLab)
				}
			}
			// GitHub: the autoscaler holds the App key and mints the nodes' runners.
			switch j := cfg.GitHubJIT; {
			case platform == "gitlab" && j != nil:
				t.Errorf("[github_jit] on a GitLab fleet:\n%s", text)
			case platform == "github" && (j == nil || j.URL != "https://github.com/acme" || j.Auth.AppID != 123456 || j.Auth.InstallationID != 7654321 ||
				string(j.Auth.PrivateKey) != "app-key-test" || !slices.Equal(j.Pools["default"].Labels, []string{"self-hosted", "linux"})):
				t.Errorf("[github_jit]: %+v\n%s", j, text)
			}
		})
	}
}

// TestTerraformConfigWithoutDemand: with no demand source configured the control plane
// still starts (it scales on busy slots and the idle buffer).
func TestTerraformConfigWithoutDemand(t *testing.T) {
	dir := filepath.Join("..", "..", "terraform", "modules", "aws-fleet")
	mod, err := tfrender.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, platform := range []string{"gitlab", "github"} {
		t.Run(platform, func(t *testing.T) {
			in := tfrender.Sample(platform)
			for _, k := range []string{"gitlab_projects", "github_repos", "github_webhook_secret_arn", "platform_api_token_arn"} {
				delete(in.Vars, k)
			}
			cfg, text := loadTerraformConfig(t, mod, dir, in)
			if len(cfg.GitLab) != 0 || cfg.GitHub != nil || strings.Contains(text, "[demand") {
				t.Errorf("demand configured from nothing:\n%s", text)
			}
		})
	}
}

// loadTerraformConfig renders the autoscaler user-data for in, writes what the script
// writes (the config, the secret files with stand-in values, the identity certificate)
// into a temporary /etc/runfleet and state directory, and loads the config.
func loadTerraformConfig(t *testing.T, mod *tfrender.Module, dir string, in tfrender.Inputs) (*config, string) {
	t.Helper()
	if err := mod.Check(in); err != nil {
		t.Fatalf("the module refuses the inputs: %v", err)
	}
	vars, err := mod.Local("autoscaler_template_vars", in)
	if err != nil {
		t.Fatal(err)
	}
	script, err := tfrender.Render(filepath.Join(dir, "templates", "autoscaler-user-data.sh.tftpl"), vars)
	if err != nil {
		t.Fatal(err)
	}
	files := tfrender.Heredocs(script)
	root := t.TempDir()
	conf, state := filepath.Join(root, "etc"), filepath.Join(root, "state")
	for _, d := range []string{conf, state} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// The secrets the script reads from the store, when it reads them.
	secrets := []struct{ file, arn, value string }{
		{"join-token", "FLEET_JOIN_TOKEN_ARN", "join-test"},
		{"platform-api-token", "PLATFORM_API_TOKEN_ARN", "api-test"},
		{"github-webhook-secret", "GITHUB_WEBHOOK_SECRET_ARN", "webhook-test"},
	}
	if in.Vars["platform"].AsString() == "github" {
		secrets = append(secrets, struct{ file, arn, value string }{"github-app.pem", "GITHUB_APP_KEY_ARN", "app-key-test"})
	}
	for _, sec := range secrets {
		if !strings.Contains(script, `read_secret "$`+sec.arn+`" > $CONF_DIR/`+sec.file) {
			t.Fatalf("the script does not write %s from $%s", sec.file, sec.arn)
		}
		if err := os.WriteFile(filepath.Join(conf, sec.file), []byte(sec.value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The fleet API's CA and certificate: the script's own openssl commands make them.
	tlsDir := makeFleetTLS(t, script, state, "10.0.1.20")
	expand := strings.NewReplacer("$CONF_DIR", conf, "$STATE_DIR", state, "$TLS_DIR", tlsDir, "$PRIVATE_IP", "10.0.1.20").Replace
	for name, body := range files {
		if !strings.HasPrefix(name, "$CONF_DIR/") {
			continue
		}
		if err := os.WriteFile(expand(name), []byte(expand(body)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(conf, "autoscaler.toml")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the autoscaler user-data writes no $CONF_DIR/autoscaler.toml: %v", err)
	}
	if strings.Contains(string(text), "$") {
		t.Errorf("autoscaler.toml holds an unexpanded $:\n%s", text)
	}
	cfg, err := loadConfig(path)
	if err != nil {
		t.Fatalf("the autoscaler refuses the config the Terraform module writes: %v\n%s", err, text)
	}
	return cfg, string(text)
}

// makeFleetTLS runs the TLS part of the autoscaler's script (its openssl commands, up to
// publishing the CA certificate) with STATE_DIR and PRIVATE_IP set, and checks that the
// server certificate it makes verifies against its CA for the private address, as a node's
// TLS client will. It returns the TLS directory.
func makeFleetTLS(t *testing.T, script, state, ip string) string {
	t.Helper()
	start, end := strings.Index(script, "TLS_DIR=$STATE_DIR/tls\n"), strings.Index(script, "retry aws ssm put-parameter")
	if start < 0 || end < start {
		t.Fatal("the autoscaler user-data has no TLS section (TLS_DIR=… up to the CA's publication)")
	}
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl is needed to run the script's TLS section: %v", err)
	}
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script[start:end])
	cmd.Env = append(os.Environ(), "STATE_DIR="+state, "PRIVATE_IP="+ip)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the TLS section fails: %v\n%s", err, out)
	}
	dir := filepath.Join(state, "tls")
	read := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s is not PEM", name)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, server := read("ca.pem"), read("server.pem")
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := server.Verify(x509.VerifyOptions{DNSName: ip, Roots: roots}); err != nil {
		t.Errorf("the server certificate does not verify for %s against the fleet CA: %v", ip, err)
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "10.9.9.9", Roots: roots}); err == nil {
		t.Error("the server certificate verifies for another address")
	}
	for _, f := range []string{"ca.key", "server.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v, want 0600", f, err, fi.Mode().Perm())
		}
	}
	return dir
}
