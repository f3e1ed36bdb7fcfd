// Package tfcheck, the Go package of the terraform/ directory (imported as
// github.com/runfleet/runfleet/terraform, named tfcheck), holds the checks CI runs on
// runfleet's deployment code: its tests parse every Terraform file under terraform/ with
// hashicorp/hcl/v2 and check what a reviewer would (variables typed and described, no secret
// with a default, references that resolve, pinned providers, IMDSv2 with hop limit 1, no open
// ingress, scoped IAM statements, user-data rendered by terraform/tfrender for both platforms
// into a valid agent config), and check the images under images/ (pinned base digests,
// labels, non-root user, scripts that parse). terraform/check.sh adds `terraform fmt`,
// `validate` and `test` where Terraform and an AWS provider mirror are available. The package
// itself has no non-test code; the renderer it uses is terraform/tfrender.
package tfcheck
