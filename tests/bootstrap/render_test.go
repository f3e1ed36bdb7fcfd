package bootstrap

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// moduleDir is the aws-fleet module, relative to this package.
var moduleDir = filepath.Join("..", "..", "terraform", "modules", "aws-fleet")

// nodeTemplateKeys reads the names the module passes to the node user-data template: the
// keys of local.node_template_vars in main.tf.
func nodeTemplateKeys(t *testing.T) []string {
	t.Helper()
	path := filepath.Join(moduleDir, "main.tf")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	for _, b := range f.Body.(*hclsyntax.Body).Blocks {
		if b.Type != "locals" {
			continue
		}
		a, ok := b.Body.Attributes["node_template_vars"]
		if !ok {
			continue
		}
		obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
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
	t.Fatal("main.tf has no local.node_template_vars")
	return nil
}

// renderNodeUserData renders templates/node-user-data.sh.tftpl with vars as templatefile
// does. Every key the module passes must have a value in vars, so the test follows the
// module when it grows a variable.
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
	path := filepath.Join(moduleDir, "templates", "node-user-data.sh.tftpl")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: vals})
	if diags.HasErrors() {
		t.Fatal(fmt.Errorf("render %s: %s", path, diags.Error()))
	}
	return v.AsString()
}
