package tfrender

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Module is the variables and locals of one Terraform module directory.
type Module struct {
	Dir    string
	vars   map[string]*hclsyntax.Block
	locals map[string]hclsyntax.Expression
	// preconditions of resources and data sources, by the block's address.
	preconditions []condition
}

// condition is a validation or precondition block.
type condition struct {
	where     string
	condition hclsyntax.Expression
	message   hclsyntax.Expression
}

// Inputs are what Terraform knows when it evaluates a module.
type Inputs struct {
	// Vars are the caller's variable values; the others take their defaults.
	Vars map[string]cty.Value
	// Resources are the attributes the locals read from resources and data sources, by
	// address: "aws_instance.autoscaler.private_ip", "data.aws_ami.debian[0].id".
	Resources map[string]cty.Value
}

// Load parses every .tf file directly in dir.
func Load(dir string) (*Module, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no .tf files", dir)
	}
	sort.Strings(names)
	m := &Module{Dir: dir, vars: map[string]*hclsyntax.Block{}, locals: map[string]hclsyntax.Expression{}}
	p := hclparse.NewParser()
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		f, diags := p.ParseHCL(src, n)
		if diags.HasErrors() {
			return nil, fmt.Errorf("parse %s: %s", n, diags.Error())
		}
		for _, b := range f.Body.(*hclsyntax.Body).Blocks {
			switch {
			case b.Type == "variable" && len(b.Labels) == 1:
				m.vars[b.Labels[0]] = b
			case b.Type == "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			case (b.Type == "resource" || b.Type == "data") && len(b.Labels) == 2:
				where := strings.TrimPrefix(b.Type+".", "resource.") + b.Labels[0] + "." + b.Labels[1]
				for _, lc := range b.Body.Blocks {
					if lc.Type == "lifecycle" {
						m.preconditions = append(m.preconditions, conditions(where, lc, "precondition")...)
					}
				}
			}
		}
	}
	return m, nil
}

func conditions(where string, b *hclsyntax.Block, typ string) []condition {
	var out []condition
	for _, c := range b.Body.Blocks {
		if c.Type != typ {
			continue
		}
		cond, msg := c.Body.Attributes["condition"], c.Body.Attributes["error_message"]
		if cond == nil || msg == nil {
			continue
		}
		out = append(out, condition{where: where, condition: cond.Expr, message: msg.Expr})
	}
	return out
}

// Check evaluates what `terraform plan` would with in: every variable's validation blocks
// and every precondition of a resource or data source. The error lists each failed rule
// with its error_message.
func (m *Module) Check(in Inputs) error {
	vars, err := m.Variables(in)
	if err != nil {
		return err
	}
	e, err := m.evaluator(vars, in)
	if err != nil {
		return err
	}
	var errs []error
	names := make([]string, 0, len(m.vars))
	for name := range m.vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		// A validation sees only its own variable (and functions).
		ctx := &hcl.EvalContext{Functions: Functions(), Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{name: vars[name]}),
		}}
		for _, c := range conditions("var."+name, m.vars[name], "validation") {
			if err := c.eval(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, c := range m.preconditions {
		if err := e.needLocals(c.condition); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.where, err))
			continue
		}
		if err := c.eval(e.ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c condition) eval(ctx *hcl.EvalContext) error {
	v, diags := c.condition.Value(ctx)
	if diags.HasErrors() {
		return fmt.Errorf("%s: condition: %s", c.where, diags.Error())
	}
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.Bool) {
		return fmt.Errorf("%s: condition is %s, not a known bool", c.where, v.Type().FriendlyName())
	}
	if v.True() {
		return nil
	}
	msg, diags := c.message.Value(ctx)
	if diags.HasErrors() || msg.Type() != cty.String || msg.IsNull() {
		return fmt.Errorf("%s: failed (error_message does not evaluate)", c.where)
	}
	return fmt.Errorf("%s: %s", c.where, msg.AsString())
}

// LocalExpr returns the expression of local value name.
func (m *Module) LocalExpr(name string) (hclsyntax.Expression, bool) {
	e, ok := m.locals[name]
	return e, ok
}

// Variables returns the module's variable values for in: the caller's, converted to their
// declared types, or the defaults. A variable without default and without value is an error,
// as is a value for a variable the module does not declare.
func (m *Module) Variables(in Inputs) (map[string]cty.Value, error) {
	var errs []error
	for name := range in.Vars {
		if _, ok := m.vars[name]; !ok {
			errs = append(errs, fmt.Errorf("variable %q is not declared by %s", name, m.Dir))
		}
	}
	out := map[string]cty.Value{}
	for name, b := range m.vars {
		v, err := variableValue(b, in.Vars[name])
		if err != nil {
			errs = append(errs, fmt.Errorf("variable %q: %w", name, err))
			continue
		}
		out[name] = v
	}
	return out, errors.Join(errs...)
}

// variableValue converts given (or the default when given is cty.NilVal) to the
// variable's type, applying optional attribute defaults.
func variableValue(b *hclsyntax.Block, given cty.Value) (cty.Value, error) {
	v := given
	if v == cty.NilVal {
		d, ok := b.Body.Attributes["default"]
		if !ok {
			return cty.NilVal, errors.New("has no default: give it a value")
		}
		var diags hcl.Diagnostics
		if v, diags = d.Expr.Value(nil); diags.HasErrors() {
			return cty.NilVal, errors.New(diags.Error())
		}
	}
	ta, ok := b.Body.Attributes["type"]
	if !ok {
		return v, nil
	}
	ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(ta.Expr)
	if diags.HasErrors() {
		return cty.NilVal, errors.New(diags.Error())
	}
	if defaults != nil && !v.IsNull() {
		v = defaults.Apply(v)
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("value does not fit type %s: %w", typeexpr.TypeString(ty), err)
	}
	return cv, nil
}

// Local evaluates local value name, and the locals it reads, as Terraform would with in.
func (m *Module) Local(name string, in Inputs) (cty.Value, error) {
	vars, err := m.Variables(in)
	if err != nil {
		return cty.NilVal, err
	}
	e, err := m.evaluator(vars, in)
	if err != nil {
		return cty.NilVal, err
	}
	return e.local(name)
}

func (m *Module) evaluator(vars map[string]cty.Value, in Inputs) (*evaluator, error) {
	res, err := nest(in.Resources)
	if err != nil {
		return nil, err
	}
	e := &evaluator{m: m, done: map[string]cty.Value{}, busy: map[string]bool{}}
	e.ctx = &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: Functions()}
	for k, v := range res {
		e.ctx.Variables[k] = v
	}
	e.ctx.Variables["var"] = cty.ObjectVal(vars)
	abs, _ := filepath.Abs(m.Dir)
	e.ctx.Variables["path"] = cty.ObjectVal(map[string]cty.Value{
		"module": cty.StringVal(abs), "root": cty.StringVal(abs), "cwd": cty.StringVal(abs),
	})
	e.ctx.Variables["local"] = cty.EmptyObjectVal
	return e, nil
}

type evaluator struct {
	m    *Module
	ctx  *hcl.EvalContext
	done map[string]cty.Value
	busy map[string]bool
}

func (e *evaluator) local(name string) (cty.Value, error) {
	if v, ok := e.done[name]; ok {
		return v, nil
	}
	expr, ok := e.m.locals[name]
	if !ok {
		return cty.NilVal, fmt.Errorf("local.%s is not declared", name)
	}
	if e.busy[name] {
		return cty.NilVal, fmt.Errorf("local.%s depends on itself", name)
	}
	e.busy[name] = true
	if err := e.needLocals(expr); err != nil {
		return cty.NilVal, fmt.Errorf("local.%s: %w", name, err)
	}
	v, diags := expr.Value(e.ctx)
	if diags.HasErrors() {
		return cty.NilVal, fmt.Errorf("local.%s: %s", name, diags.Error())
	}
	e.done[name] = v
	delete(e.busy, name)
	return v, nil
}

// needLocals evaluates the locals expr reads and puts them in the context.
func (e *evaluator) needLocals(expr hclsyntax.Expression) error {
	for _, tr := range hclsyntax.Variables(expr) {
		if tr.RootName() != "local" || len(tr) < 2 {
			continue
		}
		attr, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			continue
		}
		if _, err := e.local(attr.Name); err != nil {
			return err
		}
	}
	e.ctx.Variables["local"] = cty.ObjectVal(e.done)
	return nil
}

// nest turns addresses ("data.aws_ami.debian[0].id" → v) into the nested objects and
// tuples HCL traversals read.
func nest(flat map[string]cty.Value) (map[string]cty.Value, error) {
	type node struct {
		kids map[string]*node
		val  cty.Value
	}
	root := &node{kids: map[string]*node{}}
	for addr, v := range flat {
		cur := root
		for _, seg := range splitAddress(addr) {
			if cur.val != cty.NilVal {
				return nil, fmt.Errorf("resource address %q: a prefix already has a value", addr)
			}
			next, ok := cur.kids[seg]
			if !ok {
				next = &node{kids: map[string]*node{}}
				cur.kids[seg] = next
			}
			cur = next
		}
		if len(cur.kids) > 0 {
			return nil, fmt.Errorf("resource address %q: has attributes below it", addr)
		}
		cur.val = v
	}
	var build func(n *node) (cty.Value, error)
	build = func(n *node) (cty.Value, error) {
		if n.val != cty.NilVal {
			return n.val, nil
		}
		vals := map[string]cty.Value{}
		indexed := true
		for k, kid := range n.kids {
			v, err := build(kid)
			if err != nil {
				return cty.NilVal, err
			}
			vals[k] = v
			if !strings.HasPrefix(k, "[") {
				indexed = false
			}
		}
		if !indexed {
			return cty.ObjectVal(vals), nil
		}
		elems := make([]cty.Value, len(vals))
		for k, v := range vals {
			i, err := strconv.Atoi(strings.Trim(k, "[]"))
			if err != nil || i < 0 || i >= len(vals) {
				return cty.NilVal, fmt.Errorf("index %s: want 0…%d without gaps", k, len(vals)-1)
			}
			elems[i] = v
		}
		return cty.TupleVal(elems), nil
	}
	out := map[string]cty.Value{}
	for k, kid := range root.kids {
		v, err := build(kid)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// splitAddress splits "data.aws_ami.debian[0].id" into data, aws_ami, debian, [0], id.
func splitAddress(addr string) []string {
	var out []string
	for _, part := range strings.Split(addr, ".") {
		name, rest, _ := strings.Cut(part, "[")
		out = append(out, name)
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			out = append(out, "["+idx+"]")
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}
