package tfrender

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Render renders the template file at path with vars (an object or map) as templatefile
// does: the template sees only vars and Terraform's functions.
func Render(path string, vars cty.Value) (string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return "", fmt.Errorf("parse %s: %s", path, diags.Error())
	}
	if !vars.Type().IsObjectType() && !vars.Type().IsMapType() {
		return "", fmt.Errorf("render %s: variables are %s, want an object", path, vars.Type().FriendlyName())
	}
	ctx := &hcl.EvalContext{Variables: vars.AsValueMap(), Functions: Functions()}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return "", fmt.Errorf("render %s: %s", path, diags.Error())
	}
	if !v.Type().Equals(cty.String) || !v.IsKnown() || v.IsNull() {
		return "", fmt.Errorf("render %s: result is %s, not a string", path, v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

// Heredocs returns what a shell script writes with `cat > FILE <<TAG` … `TAG` (or
// `cat >> FILE`, appended), by FILE as written in the script ("$CONF_DIR/autoscaler.toml").
func Heredocs(script string) map[string]string {
	out := map[string]string{}
	lines := strings.Split(script, "\n")
	for i := 0; i < len(lines); i++ {
		f := strings.Fields(lines[i])
		if len(f) != 4 || f[0] != "cat" || (f[1] != ">" && f[1] != ">>") || !strings.HasPrefix(f[3], "<<") {
			continue
		}
		file, tag := f[2], strings.Trim(strings.TrimPrefix(f[3], "<<"), `'"`)
		var body strings.Builder
		for i++; i < len(lines) && lines[i] != tag; i++ {
			body.WriteString(lines[i] + "\n")
		}
		if f[1] == ">" {
			out[file] = body.String()
		} else {
			out[file] += body.String()
		}
	}
	return out
}
