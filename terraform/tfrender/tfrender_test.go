package tfrender

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// writeModule writes files into a temporary module directory.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const testModule = `
variable "name" {
  type = string
  validation {
    condition     = length(var.name) >= 3
    error_message = "name is too short."
  }
}
variable "limits" {
  type = object({
    cpus = optional(string, "1")
    pids = optional(number)
  })
  default = {}
}
variable "subnets" {
  type    = list(string)
  default = ["a", "b"]
}
locals {
  zones = [for s in data.aws_subnet.nodes : s.availability_zone]
  url   = "http://${aws_instance.cp.private_ip}:8080"
  image = replace("debian:12", "/:[0-9]+$/", "@sha256:x")
  vars = {
    name  = var.name
    cpus  = var.limits.cpus
    pids  = var.limits.pids == null ? "" : tostring(var.limits.pids)
    zones = join(",", local.zones)
    url   = local.url
    image = local.image
    first = startswith(var.name, "ci")
  }
  loop = local.loop
}
resource "aws_instance" "cp" {
  lifecycle {
    precondition {
      condition     = length(var.subnets) > 0
      error_message = "no subnets."
    }
  }
}
`

func TestLocal(t *testing.T) {
	m, err := Load(writeModule(t, map[string]string{"main.tf": testModule}))
	if err != nil {
		t.Fatal(err)
	}
	in := Inputs{
		Vars: map[string]cty.Value{"name": cty.StringVal("ci-fleet")},
		Resources: map[string]cty.Value{
			"data.aws_subnet.nodes[0].availability_zone": cty.StringVal("eu-west-1a"),
			"data.aws_subnet.nodes[1].availability_zone": cty.StringVal("eu-west-1b"),
			"aws_instance.cp.private_ip":                 cty.StringVal("10.0.0.1"),
		},
	}
	v, err := m.Local("vars", in)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]cty.Value{
		"name": cty.StringVal("ci-fleet"), "cpus": cty.StringVal("1"), "pids": cty.StringVal(""),
		"zones": cty.StringVal("eu-west-1a,eu-west-1b"), "url": cty.StringVal("http://10.0.0.1:8080"),
		"image": cty.StringVal("debian@sha256:x"), "first": cty.True,
	} {
		if got := v.GetAttr(k); !got.RawEquals(want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	for _, c := range []struct {
		name, local string
		in          Inputs
		want        string
	}{
		{"missing variable", "vars", Inputs{Resources: in.Resources}, `variable "name": has no default`},
		{"undeclared variable", "vars", in.WithVars(map[string]cty.Value{"nope": cty.True}), `variable "nope" is not declared`},
		{"wrong type", "vars", in.WithVars(map[string]cty.Value{"subnets": cty.StringVal("x")}), `variable "subnets": value does not fit`},
		{"missing resource", "url", Inputs{Vars: in.Vars}, "local.url"},
		{"cycle", "loop", in, "local.loop depends on itself"},
		{"undeclared local", "nothing", in, "local.nothing is not declared"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := m.Local(c.local, c.in)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	m, err := Load(writeModule(t, map[string]string{"main.tf": testModule}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		vars map[string]cty.Value
		want string
	}{
		{"ok", map[string]cty.Value{"name": cty.StringVal("ci-fleet")}, ""},
		{"validation", map[string]cty.Value{"name": cty.StringVal("ci")}, "var.name: name is too short."},
		{"precondition", map[string]cty.Value{"name": cty.StringVal("ci-fleet"), "subnets": cty.ListValEmpty(cty.String)}, "aws_instance.cp: no subnets."},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := m.Check(Inputs{Vars: c.vars})
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("err %v, want %q", err, c.want)
			}
		})
	}
}

func TestRenderAndHeredocs(t *testing.T) {
	dir := writeModule(t, map[string]string{"t.tftpl": "#!/bin/bash\ncat > $DIR/a.toml <<TOML\nname = \"${name}\"\n%{ if extra != \"\" ~}\nextra = ${extra}\n%{ endif ~}\nTOML\ncat >> $DIR/a.toml <<'TOML'\nmore = 1\nTOML\ncat > /etc/b <<UNIT\n[Unit]\nUNIT\n"})
	out, err := Render(filepath.Join(dir, "t.tftpl"), cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("x"), "extra": cty.StringVal("2")}))
	if err != nil {
		t.Fatal(err)
	}
	got := Heredocs(out)
	if got["$DIR/a.toml"] != "name = \"x\"\nextra = 2\nmore = 1\n" || got["/etc/b"] != "[Unit]\n" || len(got) != 2 {
		t.Errorf("here-documents: %q", got)
	}
	if _, err := Render(filepath.Join(dir, "t.tftpl"), cty.ObjectVal(map[string]cty.Value{"name": cty.StringVal("x")})); err == nil {
		t.Error("a template variable without a value rendered")
	}
}
