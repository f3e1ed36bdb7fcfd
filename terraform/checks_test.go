package tfcheck

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// checkFunc is one reviewer's rule applied to a module.
type checkFunc func(m *module) []finding

// namedCheck is a rule and the name findings carry.
type namedCheck struct {
	name string
	fn   checkFunc
}

// allChecks are the rules every module under terraform/ must pass.
func allChecks() []namedCheck {
	return []namedCheck{
		{"variables", checkVariables},
		{"secrets", checkSecretVariables},
		{"references", checkReferences},
		{"providers", checkProviders},
		{"imds", checkIMDS},
		{"ingress", checkIngress},
		{"iam", checkIAM},
		{"templates", checkTemplates},
	}
}

// checkVariables: every variable has a type and a non-empty description.
func checkVariables(m *module) []finding {
	var out []finding
	for _, fb := range m.blocks("variable") {
		name := label(fb.b)
		if _, ok := fb.b.Body.Attributes["type"]; !ok {
			out = append(out, finding{"variables", fb.b.DefRange(), fmt.Sprintf("variable %q has no type", name)})
		}
		d, ok := fb.b.Body.Attributes["description"]
		if s, lit := literalOf(d, ok); !lit || strings.TrimSpace(s) == "" {
			out = append(out, finding{"variables", fb.b.DefRange(), fmt.Sprintf("variable %q has no description", name)})
		}
	}
	return out
}

func literalOf(a *hclsyntax.Attribute, ok bool) (string, bool) {
	if !ok {
		return "", false
	}
	return literalString(a.Expr)
}

// secretName matches variable names that look like they hold a secret.
var secretName = regexp.MustCompile(`(?i)(token|password|passwd|secret|private_key|privatekey|api_key|credential)`)

// checkSecretVariables: no credential literal in any file, and a secret-looking variable
// takes a reference (an ARN), never the secret: its name ends in _arn, and it has no default
// other than null.
func checkSecretVariables(m *module) []finding {
	var out []finding
	for _, f := range m.files {
		if loc := secretLiteral.FindIndex(f.src); loc != nil {
			out = append(out, finding{"secrets", hcl.Range{Filename: f.name, Start: hcl.Pos{Line: 1 + strings.Count(string(f.src[:loc[0]]), "\n")}}, fmt.Sprintf("credential-looking literal %q", redact(string(f.src[loc[0]:loc[1]])))})
		}
	}
	for _, fb := range m.blocks("variable") {
		name := label(fb.b)
		if !secretName.MatchString(name) {
			continue
		}
		if !strings.HasSuffix(name, "_arn") {
			out = append(out, finding{"secrets", fb.b.DefRange(), fmt.Sprintf("variable %q looks like a secret: take the ARN of an SSM parameter or Secrets Manager secret instead (name it …_arn)", name)})
		}
		if d, ok := fb.b.Body.Attributes["default"]; ok {
			if strings.TrimSpace(fb.f.text(d.Expr.Range())) != "null" {
				out = append(out, finding{"secrets", d.SrcRange, fmt.Sprintf("variable %q looks like a secret and has a default", name)})
			}
		}
	}
	return out
}

// decls are the names a module declares.
type decls struct {
	vars, locals, modules map[string]bool
	resources, data       map[string]map[string]bool
}

func declarations(m *module) decls {
	d := decls{map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]map[string]bool{}, map[string]map[string]bool{}}
	add := func(mm map[string]map[string]bool, typ, name string) {
		if mm[typ] == nil {
			mm[typ] = map[string]bool{}
		}
		mm[typ][name] = true
	}
	for _, f := range m.files {
		for _, b := range f.body.Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				d.vars[b.Labels[0]] = true
			case b.Type == "locals":
				for n := range b.Body.Attributes {
					d.locals[n] = true
				}
			case b.Type == "module" && len(b.Labels) == 1:
				d.modules[b.Labels[0]] = true
			case b.Type == "resource" && len(b.Labels) == 2:
				add(d.resources, b.Labels[0], b.Labels[1])
			case b.Type == "data" && len(b.Labels) == 2:
				add(d.data, b.Labels[0], b.Labels[1])
			}
		}
	}
	return d
}

// builtinRoots are reference roots Terraform provides everywhere it allows them.
var builtinRoots = map[string]bool{"each": true, "count": true, "path": true, "terraform": true, "self": true}

// checkReferences: every var., local., data., module. and resource reference names a
// declaration of this module; validation rules reference only their own variable (the
// Terraform 1.5 rule CI formats and validates with).
func checkReferences(m *module) []finding {
	d := declarations(m)
	var out []finding
	for _, f := range m.files {
		for _, b := range f.body.Blocks {
			switch b.Type {
			case "terraform", "moved", "import", "removed":
				continue
			}
			body := b.Body
			if b.Type == "variable" {
				out = append(out, checkValidationRefs(b)...)
				// A type constraint such as list(string) is not a reference.
				attrs := hclsyntax.Attributes{}
				for n, a := range b.Body.Attributes {
					if n != "type" {
						attrs[n] = a
					}
				}
				body = &hclsyntax.Body{Attributes: attrs, Blocks: b.Body.Blocks}
			}
			walkBody(body, map[string]bool{}, func(a *hclsyntax.Attribute, scope map[string]bool) {
				for _, tr := range hclsyntax.Variables(a.Expr) {
					if msg := resolve(d, tr, scope); msg != "" {
						out = append(out, finding{"references", tr.SourceRange(), msg})
					}
				}
			})
		}
	}
	return out
}

// walkBody calls fn on every attribute under body that holds references, with the dynamic
// block iterators in scope.
func walkBody(body *hclsyntax.Body, scope map[string]bool, fn func(*hclsyntax.Attribute, map[string]bool)) {
	for name, a := range body.Attributes {
		switch name {
		case "ignore_changes", "provider", "providers":
			// Bare attribute names and provider addresses, not references.
			continue
		}
		fn(a, scope)
	}
	for _, c := range body.Blocks {
		inner := scope
		if c.Type == "dynamic" && len(c.Labels) == 1 {
			inner = map[string]bool{}
			for k := range scope {
				inner[k] = true
			}
			iter := c.Labels[0]
			if it, ok := c.Body.Attributes["iterator"]; ok {
				if tr, diags := hcl.AbsTraversalForExpr(it.Expr); !diags.HasErrors() {
					iter = tr.RootName()
				}
			}
			inner[iter] = true
		}
		walkBody(c.Body, inner, fn)
	}
}

// resolve explains why tr does not resolve, or returns "".
func resolve(d decls, tr hcl.Traversal, scope map[string]bool) string {
	root := tr.RootName()
	attr := func(i int) string {
		if i < len(tr) {
			if a, ok := tr[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	switch {
	case builtinRoots[root] || scope[root]:
		return ""
	case root == "var":
		if !d.vars[attr(1)] {
			return fmt.Sprintf("var.%s is not declared", attr(1))
		}
	case root == "local":
		if !d.locals[attr(1)] {
			return fmt.Sprintf("local.%s is not declared", attr(1))
		}
	case root == "module":
		if !d.modules[attr(1)] {
			return fmt.Sprintf("module.%s is not declared", attr(1))
		}
	case root == "data":
		if !d.data[attr(1)][attr(2)] {
			return fmt.Sprintf("data.%s.%s is not declared", attr(1), attr(2))
		}
	default:
		if !d.resources[root][attr(1)] {
			return fmt.Sprintf("%s.%s is not declared", root, attr(1))
		}
	}
	return ""
}

// checkValidationRefs: a validation condition references its own variable only.
func checkValidationRefs(v *hclsyntax.Block) []finding {
	var out []finding
	for _, val := range v.Body.Blocks {
		if val.Type != "validation" {
			continue
		}
		for _, a := range val.Body.Attributes {
			for _, tr := range hclsyntax.Variables(a.Expr) {
				if tr.RootName() == "var" && len(tr) > 1 {
					if ta, ok := tr[1].(hcl.TraverseAttr); ok && ta.Name == label(v) {
						continue
					}
				}
				out = append(out, finding{"references", tr.SourceRange(), fmt.Sprintf("validation of %q may reference only var.%s (Terraform 1.5)", label(v), label(v))})
			}
		}
	}
	return out
}

// pinned is a version constraint with an upper bound: ~>, <, <=, or an exact version.
var pinned = regexp.MustCompile(`^\s*(~>\s*\d+\.\d+|=?\s*\d+\.\d+\.\d+\s*$|.*<)`)

// checkProviders: a terraform block with required_version, and every provider the module's
// resources and data sources use pinned in required_providers with an upper bound.
func checkProviders(m *module) []finding {
	var out []finding
	tfs := m.blocks("terraform")
	if len(tfs) == 0 {
		return []finding{{"providers", hcl.Range{Filename: m.dir}, "no terraform block (required_version, required_providers)"}}
	}
	required := map[string]bool{}
	hasVersion := false
	for _, fb := range tfs {
		if _, ok := fb.b.Body.Attributes["required_version"]; ok {
			hasVersion = true
		}
		for _, rp := range childBlocks(fb.b.Body, "required_providers") {
			for name, a := range rp.Body.Attributes {
				required[name] = true
				obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
				if !ok {
					out = append(out, finding{"providers", a.SrcRange, fmt.Sprintf("provider %q: use { source = …, version = … }", name)})
					continue
				}
				fields := map[string]string{}
				for _, it := range obj.Items {
					k, _ := literalKey(it.KeyExpr)
					v, _ := literalString(it.ValueExpr)
					fields[k] = v
				}
				if fields["source"] == "" {
					out = append(out, finding{"providers", a.SrcRange, fmt.Sprintf("provider %q has no source", name)})
				}
				if !pinned.MatchString(fields["version"]) {
					out = append(out, finding{"providers", a.SrcRange, fmt.Sprintf("provider %q version %q is not pinned (use ~> X.Y or an upper bound)", name, fields["version"])})
				}
			}
		}
	}
	if !hasVersion {
		out = append(out, finding{"providers", tfs[0].b.DefRange(), "terraform block has no required_version"})
	}
	for _, kind := range []string{"resource", "data"} {
		for _, fb := range m.blocks(kind) {
			if len(fb.b.Labels) != 2 {
				continue
			}
			p, _, _ := strings.Cut(fb.b.Labels[0], "_")
			if p == "terraform" || required[p] {
				continue
			}
			out = append(out, finding{"providers", fb.b.DefRange(), fmt.Sprintf("%s %q uses provider %q, which required_providers does not pin", kind, fb.b.Labels[0], p)})
			required[p] = true // report once
		}
	}
	return out
}

func literalKey(e hclsyntax.Expression) (string, bool) {
	if k, ok := e.(*hclsyntax.ObjectConsKeyExpr); ok {
		if tr, diags := hcl.AbsTraversalForExpr(k.Wrapped); !diags.HasErrors() && len(tr) == 1 {
			return tr.RootName(), true
		}
		return literalString(k.Wrapped)
	}
	return literalString(e)
}

// checkIMDS: launch templates and instances require IMDSv2 tokens with a hop limit of 1,
// so a job container (one hop further) cannot reach the metadata endpoint.
func checkIMDS(m *module) []finding {
	var out []finding
	for _, typ := range []string{"aws_launch_template", "aws_instance"} {
		for _, fb := range m.resources("resource", typ) {
			where := typ + "." + fb.b.Labels[1]
			mo := childBlocks(fb.b.Body, "metadata_options")
			if len(mo) == 0 {
				out = append(out, finding{"imds", fb.b.DefRange(), where + " has no metadata_options (IMDSv2 required, hop limit 1)"})
				continue
			}
			attrs := mo[0].Body.Attributes
			if v, _ := literalOf(attrs["http_tokens"], attrs["http_tokens"] != nil); v != "required" {
				out = append(out, finding{"imds", mo[0].DefRange(), where + `: metadata_options.http_tokens must be "required"`})
			}
			hop := attrs["http_put_response_hop_limit"]
			if hop == nil {
				out = append(out, finding{"imds", mo[0].DefRange(), where + ": metadata_options.http_put_response_hop_limit must be 1"})
			} else if v, _ := literalNumber(hop.Expr); v != "1" {
				out = append(out, finding{"imds", hop.SrcRange, where + ": metadata_options.http_put_response_hop_limit must be 1"})
			}
		}
	}
	return out
}

var openCIDR = regexp.MustCompile(`"(0\.0\.0\.0/0|::/0)"`)

// checkIngress: no security group ingress from 0.0.0.0/0 or ::/0, whether written inline,
// as aws_security_group_rule, as aws_vpc_security_group_ingress_rule, or through a variable
// whose default is open.
func checkIngress(m *module) []finding {
	var out []finding
	defaults := map[string]string{}
	for _, fb := range m.blocks("variable") {
		if d, ok := fb.b.Body.Attributes["default"]; ok {
			defaults[label(fb.b)] = fb.f.text(d.Expr.Range())
		}
	}
	open := func(f *tfFile, a *hclsyntax.Attribute) bool {
		if openCIDR.MatchString(f.text(a.Expr.Range())) {
			return true
		}
		for _, tr := range hclsyntax.Variables(a.Expr) {
			if tr.RootName() == "var" && len(tr) > 1 {
				if ta, ok := tr[1].(hcl.TraverseAttr); ok && openCIDR.MatchString(defaults[ta.Name]) {
					return true
				}
			}
		}
		return false
	}
	report := func(f *tfFile, body *hclsyntax.Body, where string, attrs ...string) {
		for _, n := range attrs {
			if a, ok := body.Attributes[n]; ok && open(f, a) {
				out = append(out, finding{"ingress", a.SrcRange, where + ": ingress open to the world (" + n + ")"})
			}
		}
	}
	for _, fb := range m.resources("resource", "aws_security_group") {
		for _, in := range childBlocks(fb.b.Body, "ingress") {
			report(fb.f, in.Body, "aws_security_group."+fb.b.Labels[1], "cidr_blocks", "ipv6_cidr_blocks")
		}
	}
	for _, fb := range m.resources("resource", "aws_security_group_rule") {
		if t, ok := fb.b.Body.Attributes["type"]; ok {
			if v, _ := literalString(t.Expr); v == "ingress" {
				report(fb.f, fb.b.Body, "aws_security_group_rule."+fb.b.Labels[1], "cidr_blocks", "ipv6_cidr_blocks")
			}
		}
	}
	for _, fb := range m.resources("resource", "aws_vpc_security_group_ingress_rule") {
		report(fb.f, fb.b.Body, "aws_vpc_security_group_ingress_rule."+fb.b.Labels[1], "cidr_ipv4", "cidr_ipv6")
	}
	return out
}

// wildcardAction matches "*" and "service:*".
var wildcardAction = regexp.MustCompile(`"([a-z0-9-]+:)?\*"`)

// checkIAM: in aws_iam_policy_document data sources every Allow statement scopes its
// resources (not just "*") unless a condition narrows it, and allows no wildcard action;
// IAM policies are written as aws_iam_policy_document (so this check sees them all).
func checkIAM(m *module) []finding {
	var out []finding
	for _, fb := range m.resources("data", "aws_iam_policy_document") {
		where := "data.aws_iam_policy_document." + fb.b.Labels[1]
		for _, st := range childBlocks(fb.b.Body, "statement") {
			if e, ok := st.Body.Attributes["effect"]; ok {
				if v, _ := literalString(e.Expr); v == "Deny" {
					continue
				}
			}
			if _, ok := st.Body.Attributes["not_actions"]; ok {
				out = append(out, finding{"iam", st.DefRange(), where + ": an Allow statement with not_actions grants nearly everything"})
			}
			if _, ok := st.Body.Attributes["not_resources"]; ok {
				out = append(out, finding{"iam", st.DefRange(), where + ": an Allow statement with not_resources grants nearly everything"})
			}
			if a, ok := st.Body.Attributes["actions"]; ok && wildcardAction.MatchString(fb.f.text(a.Expr.Range())) {
				out = append(out, finding{"iam", a.SrcRange, where + ": wildcard action in an Allow statement"})
			}
			r, ok := st.Body.Attributes["resources"]
			if !ok || !onlyStar(r.Expr) {
				continue
			}
			if len(childBlocks(st.Body, "condition")) == 0 {
				out = append(out, finding{"iam", r.SrcRange, where + `: resources = ["*"] without a condition`})
			}
		}
	}
	for _, typ := range []string{"aws_iam_role_policy", "aws_iam_policy", "aws_iam_role", "aws_s3_bucket_policy", "aws_sqs_queue_policy"} {
		for _, fb := range m.resources("resource", typ) {
			for _, n := range []string{"policy", "assume_role_policy", "inline_policy"} {
				a, ok := fb.b.Body.Attributes[n]
				if !ok {
					continue
				}
				usesDoc := false
				for _, tr := range hclsyntax.Variables(a.Expr) {
					if tr.RootName() == "data" && len(tr) > 1 {
						if ta, ok := tr[1].(hcl.TraverseAttr); ok && ta.Name == "aws_iam_policy_document" {
							usesDoc = true
						}
					}
				}
				if !usesDoc {
					out = append(out, finding{"iam", a.SrcRange, fmt.Sprintf("%s.%s: write %s as a data.aws_iam_policy_document", typ, fb.b.Labels[1], n)})
				}
			}
		}
	}
	return out
}

// onlyStar reports whether e is the literal list ["*"].
func onlyStar(e hclsyntax.Expression) bool {
	tup, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok || len(tup.Exprs) != 1 {
		return false
	}
	v, ok := literalString(tup.Exprs[0])
	return ok && v == "*"
}

func label(b *hclsyntax.Block) string {
	if len(b.Labels) == 0 {
		return ""
	}
	return b.Labels[len(b.Labels)-1]
}
