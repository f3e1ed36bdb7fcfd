package tfcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// templateUse is one templatefile(path, vars) call: the template's file and the names the
// call passes to it.
type templateUse struct {
	rng   hcl.Range
	path  string          // resolved against the module directory
	keys  map[string]bool // variables the call provides
	local string          // the local holding them, when the call passes local.NAME
}

// templateUses finds every templatefile call whose path is "${path.module}/…" and whose
// variables are an object literal or a local holding one.
func templateUses(m *module) ([]templateUse, []finding) {
	var uses []templateUse
	var out []finding
	for _, f := range m.files {
		walkBody(f.body, map[string]bool{}, func(a *hclsyntax.Attribute, _ map[string]bool) {
			hclsyntax.VisitAll(a.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				call, ok := n.(*hclsyntax.FunctionCallExpr)
				if !ok || call.Name != "templatefile" {
					return nil
				}
				u, msg := resolveTemplateUse(m, call)
				if msg != "" {
					out = append(out, finding{"templates", call.Range(), msg})
					return nil
				}
				uses = append(uses, u)
				return nil
			})
		})
	}
	return uses, out
}

func resolveTemplateUse(m *module, call *hclsyntax.FunctionCallExpr) (templateUse, string) {
	u := templateUse{rng: call.Range(), keys: map[string]bool{}}
	if len(call.Args) != 2 {
		return u, "templatefile needs a path and a variables object"
	}
	tmpl, ok := call.Args[0].(*hclsyntax.TemplateExpr)
	if !ok || len(tmpl.Parts) != 2 {
		return u, `templatefile path must be "${path.module}/…"`
	}
	if tr, diags := hcl.AbsTraversalForExpr(tmpl.Parts[0]); diags.HasErrors() || tr.RootName() != "path" {
		return u, `templatefile path must be "${path.module}/…"`
	}
	rel, ok := literalString(tmpl.Parts[1])
	if !ok {
		return u, `templatefile path must be "${path.module}/…"`
	}
	u.path = filepath.Join(m.dir, filepath.FromSlash(rel))
	vars := call.Args[1]
	if tr, diags := hcl.AbsTraversalForExpr(vars); !diags.HasErrors() && tr.RootName() == "local" && len(tr) == 2 {
		name := tr[1].(hcl.TraverseAttr).Name
		_, e := m.local(name)
		if e == nil {
			return u, fmt.Sprintf("templatefile variables local.%s is not declared", name)
		}
		vars = e
		u.local = name
	}
	if msg := objectKeys(m, vars, u.keys, 0); msg != "" {
		return u, msg
	}
	return u, ""
}

// objectKeys adds the keys of an object literal, a local holding one, or merge() of those
// to keys.
func objectKeys(m *module, e hclsyntax.Expression, keys map[string]bool, depth int) string {
	const msg = "templatefile variables must be an object literal, a local holding one, or merge() of those"
	if depth > 8 {
		return msg
	}
	switch e := e.(type) {
	case *hclsyntax.ObjectConsExpr:
		for _, it := range e.Items {
			k, ok := literalKey(it.KeyExpr)
			if !ok {
				return "templatefile variables need literal keys"
			}
			keys[k] = true
		}
		return ""
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "merge" {
			return msg
		}
		for _, a := range e.Args {
			if s := objectKeys(m, a, keys, depth+1); s != "" {
				return s
			}
		}
		return ""
	}
	if tr, diags := hcl.AbsTraversalForExpr(e); !diags.HasErrors() && tr.RootName() == "local" && len(tr) == 2 {
		name := tr[1].(hcl.TraverseAttr).Name
		if _, le := m.local(name); le != nil {
			return objectKeys(m, le, keys, depth+1)
		}
		return fmt.Sprintf("templatefile variables local.%s is not declared", name)
	}
	return msg
}

// parseTemplate parses a .tftpl file as an HCL template.
func parseTemplate(path string) (hclsyntax.Expression, []byte, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	expr, diags := hclsyntax.ParseTemplate(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, nil, fmt.Errorf("parse template: %s", diags.Error())
	}
	return expr, src, nil
}

// renderTemplate evaluates the template with string variables and no functions, as
// templatefile would for a template that keeps to ${} interpolation and %{ } directives.
func renderTemplate(expr hclsyntax.Expression, vars map[string]string) (string, error) {
	vals := map[string]cty.Value{}
	for k, v := range vars {
		vals[k] = cty.StringVal(v)
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: vals})
	if diags.HasErrors() {
		return "", fmt.Errorf("render: %s", diags.Error())
	}
	if !v.Type().Equals(cty.String) || !v.IsKnown() || v.IsNull() {
		return "", fmt.Errorf("render: result is %s, not a string", v.Type().FriendlyName())
	}
	return v.AsString(), nil
}

// secretLiteral matches text that looks like a real credential.
var secretLiteral = regexp.MustCompile(`glrt-[A-Za-z0-9_-]{8,}|glpat-[A-Za-z0-9_-]{8,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}`)

// checkTemplates: every templatefile call names an existing template that parses, uses
// only variables the call passes and no functions, renders for both platforms, and
// holds no credential.
func checkTemplates(m *module) []finding {
	uses, out := templateUses(m)
	for _, u := range uses {
		expr, src, err := parseTemplate(u.path)
		if err != nil {
			out = append(out, finding{"templates", u.rng, err.Error()})
			continue
		}
		if loc := secretLiteral.FindIndex(src); loc != nil {
			out = append(out, finding{"templates", u.rng, fmt.Sprintf("%s holds a credential-looking literal %q", filepath.Base(u.path), redact(string(src[loc[0]:loc[1]])))})
		}
		var missing []string
		for _, tr := range hclsyntax.Variables(expr) {
			if !u.keys[tr.RootName()] {
				missing = append(missing, tr.RootName())
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			out = append(out, finding{"templates", u.rng, fmt.Sprintf("%s uses variables the templatefile call does not pass: %s", filepath.Base(u.path), strings.Join(missing, ", "))})
			continue
		}
		for _, platform := range []string{"gitlab", "github"} {
			vars := map[string]string{}
			for k := range u.keys {
				vars[k] = "sample-" + k
			}
			vars["platform"] = platform
			if _, err := renderTemplate(expr, vars); err != nil {
				out = append(out, finding{"templates", u.rng, fmt.Sprintf("%s (platform %s): %v", filepath.Base(u.path), platform, err)})
			}
		}
	}
	return out
}

func redact(s string) string {
	if len(s) > 8 {
		return s[:8] + "…"
	}
	return s
}
