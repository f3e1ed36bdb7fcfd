package tfcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/runfleet/runfleet/terraform/tfrender"
)

// TestModuleRules evaluates the aws-fleet module's variable validations and resource
// preconditions (as `terraform plan` would) on inputs that must pass and inputs that must
// be refused: binaries without checksums, images without digests, a warm pool on a spot
// group, demand without its token, reserved tag keys.
func TestModuleRules(t *testing.T) {
	mod, err := tfrender.Load(filepath.Join("modules", "aws-fleet"))
	if err != nil {
		t.Fatal(err)
	}
	str := cty.StringVal
	without := func(in tfrender.Inputs, keys ...string) tfrender.Inputs {
		out := in.WithVars(nil)
		for _, k := range keys {
			delete(out.Vars, k)
		}
		return out
	}
	gitlab, github := tfrender.Sample("gitlab"), tfrender.Sample("github")
	warm := cty.ObjectVal(map[string]cty.Value{"min_size": cty.NumberIntVal(1)})
	cases := []struct {
		name string
		in   tfrender.Inputs
		want string // "" = accepted
	}{
		{"gitlab sample", gitlab, ""},
		{"github sample", github, ""},
		{"no agent checksum", without(gitlab, "agent_sha256"), `variable "agent_sha256": has no default`},
		{"no autoscaler checksum", without(gitlab, "autoscaler_sha256"), `variable "autoscaler_sha256": has no default`},
		{"empty agent checksum", gitlab.WithVars(map[string]cty.Value{"agent_sha256": str("")}), "agent_sha256 must be 64 lower-case hex digits"},
		{"no join token", without(gitlab, "fleet_join_token_arn"), `variable "fleet_join_token_arn": has no default`},
		{"no identity certificate", without(gitlab, "instance_identity_certificate"), `variable "instance_identity_certificate": has no default`},
		{"tag-only job image", gitlab.WithVars(map[string]cty.Value{"job_image": str("debian:bookworm-slim")}), "must be pinned by digest"},
		{"tag-only job image allowed", gitlab.WithVars(map[string]cty.Value{"job_image": str("debian:bookworm-slim"), "allow_unpinned_images": cty.True}), ""},
		{"tag-only runner image", github.WithVars(map[string]cty.Value{"github_runner_image": str("acme/runner:latest")}), "must be pinned by digest"},
		{"github without runner image", without(github, "github_runner_image"), "needs github_url, github_app_id, github_installation_id and github_runner_image"},
		{"warm pool beside a spot group", gitlab.WithVars(map[string]cty.Value{"warm_pool": warm}), ""},
		{"warm pool bad state", gitlab.WithVars(map[string]cty.Value{"warm_pool": cty.ObjectVal(map[string]cty.Value{"pool_state": str("frozen")})}), "pool_state is stopped, hibernated or running"},
		{"warm pool above max_nodes", gitlab.WithVars(map[string]cty.Value{"warm_pool": cty.ObjectVal(map[string]cty.Value{"max_size": cty.NumberIntVal(11)})}), "warm_pool.max_size must not exceed max_nodes"},
		{"gitlab projects without token", without(gitlab, "platform_api_token_arn"), "gitlab_projects needs"},
		{"github repos without webhook", without(github, "github_webhook_secret_arn"), "github_repos needs"},
		{"reserved tag", gitlab.WithVars(map[string]cty.Value{"tags": cty.MapVal(map[string]cty.Value{"dev.runfleet.pool": str("x")})}), "reserved prefixes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mod.Check(c.in)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Errorf("accepted, want %q", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Errorf("refused with %v, want %q", err, c.want)
			}
		})
	}
	vars, err := mod.Variables(gitlab)
	if err != nil {
		t.Fatal(err)
	}
	if vars["enable_ssm_session_manager"].True() {
		t.Error("AmazonSSMManagedInstanceCore is attached by default: it grants every SSM parameter")
	}
	if img := vars["job_image"].AsString(); !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(img) {
		t.Errorf("default job_image %q is not pinned by digest", img)
	}
}

// TestDownloadsChecked: every binary the fleet downloads is checked against a SHA-256 with
// no way around it: the user-data scripts (rendered in TestUserDataRenders) refuse to run
// without a digest and stop on a mismatch, and the GitHub runner image build checks the
// runner tarball against a pinned default.
func TestDownloadsChecked(t *testing.T) {
	for _, c := range []struct{ file, sum string }{
		{"node-user-data.sh.tftpl", "AGENT_SHA256"},
		{"autoscaler-user-data.sh.tftpl", "AUTOSCALER_SHA256"},
	} {
		src, err := os.ReadFile(filepath.Join("modules", "aws-fleet", "templates", c.file))
		if err != nil {
			t.Fatal(err)
		}
		text := string(src)
		for _, want := range []string{
			`*) echo "runfleet bootstrap: no `, // an empty digest stops the boot
			`if ! echo "$` + c.sum + `  $tmp" | sha256sum -c --quiet -; then`,
			"exit 1",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("%s lacks %q", c.file, want)
			}
		}
		if strings.Contains(text, `[ -n "$`+c.sum+`" ]`) {
			t.Errorf("%s still skips the check when %s is empty", c.file, c.sum)
		}
	}
	src, err := os.ReadFile(filepath.Join("..", "images", "github-runner", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if !regexp.MustCompile(`(?m)^ARG RUNNER_SHA256_X64=[0-9a-f]{64}$`).MatchString(text) {
		t.Error("images/github-runner: RUNNER_SHA256_X64 has no pinned default")
	}
	if !strings.Contains(text, `| sha256sum -c -`) || strings.Contains(text, `if [ -n "${sum}" ]`) {
		t.Error("images/github-runner: the runner tarball is not always checked")
	}
}
