package bootstrap

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/runfleet/runfleet/terraform/tfrender"
)

// moduleDir is the aws-fleet module, relative to this package.
var moduleDir = filepath.Join("..", "..", "terraform", "modules", "aws-fleet")

// nodeTemplateKeys reads the names the module passes to the node user-data template: the
// keys of local.node_template_vars.
func nodeTemplateKeys(t *testing.T) []string {
	t.Helper()
	m, err := tfrender.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.LocalExpr("node_template_vars")
	if !ok {
		t.Fatal("the module has no local.node_template_vars")
	}
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.node_template_vars is not an object literal")
	}
	var keys []string
	for _, it := range obj.Items {
		k, diags := it.KeyExpr.Value(nil)
		if diags.HasErrors() || k.Type() != cty.String {
			t.Fatalf("local.node_template_vars: a key is not a literal string")
		}
		keys = append(keys, k.AsString())
	}
	sort.Strings(keys)
	return keys
}

// renderNodeUserData renders templates/node-user-data.sh.tftpl with vars as templatefile
// does. Every key the module passes must have a value in vars, and vars may hold no other,
// so the test follows the module when it grows or drops a variable.
func renderNodeUserData(t *testing.T, vars map[string]string) string {
	t.Helper()
	vals := map[string]cty.Value{}
	for _, k := range nodeTemplateKeys(t) {
		v, ok := vars[k]
		if !ok {
			t.Fatalf("the module passes %q to the node user-data: give it a value in this test", k)
		}
		vals[k] = cty.StringVal(v)
	}
	for k := range vars {
		if _, ok := vals[k]; !ok {
			t.Fatalf("the module does not pass %q to the node user-data: drop it from this test", k)
		}
	}
	out, err := tfrender.Render(filepath.Join(moduleDir, "templates", "node-user-data.sh.tftpl"), cty.ObjectVal(vals))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNodeVarsFromModule: the values the bootstrap suite renders with are the ones the
// module computes for the same fleet, but for where the agent comes from and the sizes the
// suite varies: the suite boots what Terraform deploys.
func TestNodeVarsFromModule(t *testing.T) {
	m, err := tfrender.Load(moduleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, platform := range []string{"gitlab", "github"} {
		t.Run(platform, func(t *testing.T) {
			in := tfrender.Sample(platform).WithVars(map[string]cty.Value{
				"runner_secret_arn":    cty.StringVal(tokenARN),
				"fleet_join_token_arn": cty.StringVal(joinARN),
				"agent_url":            cty.StringVal("https://downloads.example.com/runner"),
			})
			if err := m.Check(in); err != nil {
				t.Fatalf("the module refuses the inputs: %v", err)
			}
			v, err := m.Local("node_template_vars", in)
			if err != nil {
				t.Fatal(err)
			}
			want := nodeVars(platform, tfrender.SampleSHA256)
			// Where the agent comes from (fakenode's file server), what the suite varies, and
			// what derives from the fleet's name (the suite's "ci" is shorter than the module allows).
			for _, k := range []string{"fleet_name", "log_group", "asg_name", "fleet_ca_arn", "agent_url", "slots_per_node", "job_image", "job_shm_size", "cache_bucket", "runner_labels_toml", "github_runner_image", "gitlab_url"} {
				delete(want, k)
			}
			for k, w := range want {
				if platform == "gitlab" && strings.HasPrefix(k, "github_") {
					continue // the suite fills them for both platforms; the template reads them for GitHub only
				}
				got := v.GetAttr(k)
				if got.Type() != cty.String || got.AsString() != w {
					t.Errorf("%s: the module gives %#v, the suite renders with %q", k, got, w)
				}
			}
		})
	}
}
