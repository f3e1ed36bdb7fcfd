package tfcheck

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	awsprovider "github.com/runfleet/runfleet/autoscaler/provider/aws"
	"github.com/runfleet/runfleet/terraform/tfrender"
)

var tagKey = regexp.MustCompile(`"(dev\.runfleet\.[A-Za-z0-9._-]+)"`)

// TestTagVocabulary: the module and the aws provider speak one tag vocabulary. The module
// uses exactly the provider's tag keys (all but the offering tag, which only EC2 Fleet
// launches set), nothing of the old runfleet:* keys, and tags nodes so that the provider's
// List (managed + fleet) finds them and never the autoscaler instance.
func TestTagVocabulary(t *testing.T) {
	dir := filepath.Join("modules", "aws-fleet")
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(dir, "templates", "*"))
	used := map[string]bool{}
	for _, f := range append(append(files, more...), filepath.Join(dir, "README.md"), filepath.Join(dir, "tests", "fleet.tftest.hcl")) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "runfleet:") {
			t.Errorf("%s still uses a runfleet:* tag key", f)
		}
		if strings.HasSuffix(f, ".tf") {
			for _, m := range tagKey.FindAllStringSubmatch(string(src), -1) {
				used[m[1]] = true
			}
		}
	}
	var got []string
	for k := range used {
		got = append(got, k)
	}
	want := slices.DeleteFunc(awsprovider.TagKeys(), func(k string) bool { return k == awsprovider.TagOffering })
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("the module's tag keys %v, the aws provider's %v", got, want)
	}

	mod, err := tfrender.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	in := tfrender.Sample("gitlab").WithVars(map[string]cty.Value{"tags": cty.MapVal(map[string]cty.Value{"team": cty.StringVal("platform")})})
	nodeTags, err := mod.Local("node_tags", in)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := mod.Local("pool_name", in)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		awsprovider.TagManaged: "true", awsprovider.TagFleet: tfrender.SampleFleet, awsprovider.TagPool: pool.AsString(), "team": "platform",
	} {
		if got := nodeTags.GetAttr(k); got.AsString() != v {
			t.Errorf("node tag %s = %q, want %q", k, got.AsString(), v)
		}
	}
	res, err := mod.Local("node_resource_tags", in)
	if err != nil {
		t.Fatal(err)
	}
	if res.GetAttr(awsprovider.TagRole).AsString() != "node" || res.GetAttr(awsprovider.TagManaged).AsString() != "true" ||
		res.GetAttr(awsprovider.TagPool).AsString() != pool.AsString() {
		t.Errorf("launch template tags of nodes: %#v", res)
	}
	all, err := mod.Local("tags", in)
	if err != nil {
		t.Fatal(err)
	}
	if all.Type().HasAttribute(awsprovider.TagManaged) {
		t.Errorf("every resource (the autoscaler instance too) carries %s: the provider would list it as a node", awsprovider.TagManaged)
	}
	if all.GetAttr(awsprovider.TagFleet).AsString() != tfrender.SampleFleet {
		t.Errorf("resources lack the fleet tag: %#v", all)
	}
	iam, err := os.ReadFile(filepath.Join(dir, "iam.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(iam), `variable = "aws:ResourceTag/${local.tag_fleet}"`) < 2 {
		t.Error("iam.tf does not scope the autoscaler's and the node's group actions by the fleet tag")
	}
	// The nodes' group propagates the node tags to its instances.
	nodes, err := os.ReadFile(filepath.Join(dir, "nodes.tf"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(nodes), "for_each = local.node_tags") || !strings.Contains(string(nodes), "propagate_at_launch = true") {
		t.Error("aws_autoscaling_group.nodes does not propagate local.node_tags at launch")
	}
}
