package tfcheck

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestNodeImageRecipe checks the Packer recipe images/node/node.pkr.hcl: it bakes with the
// module's own node user-data (templatefile on the module's template, passing exactly the
// keys the module passes, so the two cannot drift), runs it in the install phase, and its
// builder instance keeps IMDSv2 with hop limit 1.
func TestNodeImageRecipe(t *testing.T) {
	path := filepath.Join("..", "images", "node", "node.pkr.hcl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	body := f.Body.(*hclsyntax.Body)

	var call *hclsyntax.FunctionCallExpr
	for _, b := range body.Blocks {
		for _, a := range b.Body.Attributes {
			hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && c.Name == "templatefile" {
					call = c
				}
				return nil
			})
		}
	}
	if call == nil || len(call.Args) != 2 {
		t.Fatal("node.pkr.hcl does not render a template with templatefile(path, vars)")
	}
	tmpl, ok := call.Args[0].(*hclsyntax.TemplateExpr)
	if !ok || len(tmpl.Parts) != 2 {
		t.Fatal(`templatefile path must be "${path.root}/…"`)
	}
	rel, ok := literalString(tmpl.Parts[1])
	if !ok || filepath.Clean(filepath.Join("images", "node", rel)) != filepath.Join("terraform", "modules", "aws-fleet", "templates", "node-user-data.sh.tftpl") {
		t.Fatalf("the recipe renders %q, not the module's node user-data", rel)
	}
	obj, ok := call.Args[1].(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("templatefile variables must be an object literal")
	}
	var got []string
	for _, it := range obj.Items {
		k, ok := literalKey(it.KeyExpr)
		if !ok {
			t.Fatal("templatefile variables need literal keys")
		}
		got = append(got, k)
	}
	m := loadModule(t, filepath.Join("modules", "aws-fleet"))
	_, e := m.local("node_template_vars")
	mobj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("local.node_template_vars is not an object literal")
	}
	var want []string
	for _, it := range mobj.Items {
		k, _ := literalKey(it.KeyExpr)
		want = append(want, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("the recipe passes %v to the node user-data, the module %v", got, want)
	}

	text := string(src)
	for _, s := range []string{
		"RUNFLEET_BOOTSTRAP_PHASE=install", "RUNFLEET_PREPULL_IMAGES=",
		`http_tokens                 = "required"`, "http_put_response_hop_limit = 1",
		"encrypt_boot  = true", "cloud-init clean",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("node.pkr.hcl lacks %q", s)
		}
	}
}
