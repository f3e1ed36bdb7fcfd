package tfcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModules runs every check on every module under terraform/ (the aws-fleet module and
// its examples) and expects no finding.
func TestModules(t *testing.T) {
	dirs := moduleDirs(t, ".")
	want := map[string]bool{
		filepath.Join("modules", "aws-fleet"):                       false,
		filepath.Join("modules", "aws-fleet", "examples", "gitlab"): false,
		filepath.Join("modules", "aws-fleet", "examples", "github"): false,
	}
	for _, dir := range dirs {
		want[dir] = true
		m := loadModule(t, dir)
		for _, c := range allChecks() {
			t.Run(dir+"/"+c.name, func(t *testing.T) {
				for _, f := range c.fn(m) {
					t.Error(f)
				}
			})
		}
	}
	for dir, found := range want {
		if !found {
			t.Errorf("module %s not found under terraform/", dir)
		}
	}
}

// TestFleetModuleShape guards against checks passing vacuously: the fleet module must hold
// the resources the checks are about.
func TestFleetModuleShape(t *testing.T) {
	m := loadModule(t, filepath.Join("modules", "aws-fleet"))
	for _, r := range []struct{ kind, typ string }{
		{"resource", "aws_launch_template"},
		{"resource", "aws_autoscaling_group"},
		{"resource", "aws_instance"},
		{"resource", "aws_ebs_volume"},
		{"resource", "aws_security_group"},
		{"resource", "aws_cloudwatch_log_group"},
		{"resource", "aws_s3_bucket_lifecycle_configuration"},
		{"resource", "aws_s3_bucket_public_access_block"},
		{"resource", "aws_cloudwatch_event_rule"},
		{"resource", "aws_sqs_queue"},
		{"data", "aws_iam_policy_document"},
	} {
		if len(m.resources(r.kind, r.typ)) == 0 {
			t.Errorf("aws-fleet has no %s %s", r.kind, r.typ)
		}
	}
	uses, findings := templateUses(m)
	for _, f := range findings {
		t.Error(f)
	}
	if len(uses) != 3 {
		t.Errorf("aws-fleet: %d templatefile calls, want 3 (node, warm-pool node and autoscaler user-data)", len(uses))
	}
	for _, fb := range m.resources("resource", "aws_autoscaling_group") {
		body := fb.f.text(fb.b.Body.SrcRange)
		want := map[string][]string{
			"nodes": {`"price-capacity-optimized"`, "capacity_rebalance", "protect_from_scale_in", `"AZRebalance"`},
			// AWS takes no warm pool on a group with a mixed instances policy.
			"warm": {"warm_pool {", "initial_lifecycle_hook {", "protect_from_scale_in", `"AZRebalance"`, "ignore_changes = [desired_capacity, warm_pool]"},
		}[fb.b.Labels[1]]
		if want == nil {
			t.Errorf("aws_autoscaling_group.%s: a group this test does not know", fb.b.Labels[1])
		}
		for _, s := range want {
			if !strings.Contains(body, s) {
				t.Errorf("aws_autoscaling_group.%s lacks %s", fb.b.Labels[1], s)
			}
		}
		if fb.b.Labels[1] == "warm" && strings.Contains(body, "mixed_instances_policy") {
			t.Error("aws_autoscaling_group.warm has a mixed instances policy: AWS refuses a warm pool there")
		}
	}
}

// TestChecksCatchBadModule proves each check can fail: testdata/bad breaks every rule.
func TestChecksCatchBadModule(t *testing.T) {
	m := loadModule(t, filepath.Join("testdata", "bad"))
	wants := map[string][]string{
		"variables":  {`"api_token" has no type`, `"api_token" has no description`},
		"secrets":    {`"api_token" looks like a secret and has a default`, "take the ARN", "credential-looking literal"},
		"references": {"var.missing is not declared", "local.nothing is not declared", "aws_instance.nope is not declared", "data.aws_ami.gone is not declared", "may reference only var.max_nodes"},
		"providers":  {`provider "aws" version "" is not pinned`, "no required_version", `uses provider "random"`},
		"imds":       {`http_tokens must be "required"`, "hop_limit must be 1", "aws_instance.bare has no metadata_options"},
		"ingress":    {"aws_security_group.open: ingress open to the world (cidr_blocks)", "aws_vpc_security_group_ingress_rule.v6", "aws_security_group_rule.by_var"},
		"iam":        {`resources = ["*"] without a condition`, "wildcard action", "write policy as a data.aws_iam_policy_document"},
		"templates":  {"uses variables the templatefile call does not pass: undeclared", "credential-looking literal", "not_there.tftpl"},
	}
	for _, c := range allChecks() {
		t.Run(c.name, func(t *testing.T) {
			want, ok := wants[c.name]
			if !ok {
				t.Fatalf("no negative case for check %q: add one to testdata/bad", c.name)
			}
			var got []string
			for _, f := range c.fn(m) {
				got = append(got, f.String())
			}
			all := strings.Join(got, "\n")
			for _, w := range want {
				if !strings.Contains(all, w) {
					t.Errorf("check %s did not report %q; it reported:\n%s", c.name, w, all)
				}
			}
		})
	}
}

// TestReadmeTables keeps the module README's inputs and outputs tables in step with
// variables.tf and outputs.tf.
func TestReadmeTables(t *testing.T) {
	dir := filepath.Join("modules", "aws-fleet")
	m := loadModule(t, dir)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"variable", "output"} {
		anchor := map[string]string{"variable": "input_", "output": "output_"}[kind]
		for _, fb := range m.blocks(kind) {
			if !strings.Contains(string(readme), `<a name="`+anchor+label(fb.b)+`">`) {
				t.Errorf("README.md has no row for %s %q", kind, label(fb.b))
			}
		}
	}
}
