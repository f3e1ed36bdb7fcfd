package tfcheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// finding is one problem a check found, with the place it points at.
type finding struct {
	check string
	rng   hcl.Range
	msg   string
}

func (f finding) String() string {
	return fmt.Sprintf("%s:%d: [%s] %s", f.rng.Filename, f.rng.Start.Line, f.check, f.msg)
}

// module is one Terraform module directory: its .tf files parsed into native syntax bodies.
type module struct {
	dir   string
	files []*tfFile
}

// tfFile is one parsed .tf file with its source, for checks that look at literal text.
type tfFile struct {
	name string
	src  []byte
	body *hclsyntax.Body
}

// text is the source text of rng in f.
func (f *tfFile) text(rng hcl.Range) string {
	if rng.End.Byte > len(f.src) || rng.Start.Byte > rng.End.Byte {
		return ""
	}
	return string(f.src[rng.Start.Byte:rng.End.Byte])
}

// loadModule parses every .tf file directly in dir. Parse errors fail the test.
func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	p := hclparse.NewParser()
	m := &module{dir: dir}
	for _, n := range names {
		src, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		f, diags := p.ParseHCL(src, n)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", n, diags.Error())
		}
		m.files = append(m.files, &tfFile{name: n, src: src, body: f.Body.(*hclsyntax.Body)})
	}
	if len(m.files) == 0 {
		t.Fatalf("%s: no .tf files", dir)
	}
	return m
}

// moduleDirs lists every directory under root holding .tf files, except testdata and
// Terraform's working directories.
func moduleDirs(t *testing.T, root string) []string {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == ".terraform") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".tf") {
			seen[filepath.Dir(path)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, 0, len(seen))
	for d := range seen {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// blocks returns the top-level blocks of type typ over all files, with their file.
func (m *module) blocks(typ string) []fileBlock {
	var out []fileBlock
	for _, f := range m.files {
		for _, b := range f.body.Blocks {
			if b.Type == typ {
				out = append(out, fileBlock{f, b})
			}
		}
	}
	return out
}

// resources returns resource (or data, with kind "data") blocks of one type.
func (m *module) resources(kind, typ string) []fileBlock {
	var out []fileBlock
	for _, fb := range m.blocks(kind) {
		if len(fb.b.Labels) == 2 && fb.b.Labels[0] == typ {
			out = append(out, fb)
		}
	}
	return out
}

// local returns the expression of the local value name, if declared.
func (m *module) local(name string) (*tfFile, hclsyntax.Expression) {
	for _, fb := range m.blocks("locals") {
		if a, ok := fb.b.Body.Attributes[name]; ok {
			return fb.f, a.Expr
		}
	}
	return nil, nil
}

// fileBlock is a block with the file it came from.
type fileBlock struct {
	f *tfFile
	b *hclsyntax.Block
}

// childBlocks returns b's nested blocks of type typ, plus the content blocks of
// `dynamic "typ"` blocks (their iterator is named typ).
func childBlocks(body *hclsyntax.Body, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, c := range body.Blocks {
		switch {
		case c.Type == typ:
			out = append(out, c)
		case c.Type == "dynamic" && len(c.Labels) == 1 && c.Labels[0] == typ:
			for _, cc := range c.Body.Blocks {
				if cc.Type == "content" {
					out = append(out, cc)
				}
			}
		}
	}
	return out
}

// literalString is the value of a string literal expression ("x" or a template with
// one literal part).
func literalString(e hclsyntax.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "string" {
		return "", false
	}
	return v.AsString(), true
}

// literalNumber is the value of a number literal expression.
func literalNumber(e hclsyntax.Expression) (string, bool) {
	v, diags := e.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type().FriendlyName() != "number" {
		return "", false
	}
	return v.AsBigFloat().Text('f', -1), true
}
