package aws

import "github.com/runfleet/runfleet/autoscaler/provider"

// Tag keys of what a fleet holds on AWS: one vocabulary for this provider and the aws-fleet
// Terraform module (terraform/tags_test.go checks the module uses exactly TagKeys, but
// TagOffering, which only EC2 Fleet launches set). Nodes carry TagManaged ("true"),
// TagFleet and TagPool, and List finds them by the first two; every resource of the module
// carries TagFleet, which the control plane's IAM policy is scoped by; the autoscaler
// instance has no TagManaged, so it is never taken for a node.
const (
	TagManaged  = provider.LabelManaged
	TagFleet    = provider.LabelFleet
	TagPool     = provider.LabelPool
	TagOffering = provider.LabelOffering
	// TagRole says what a resource of the module is: node, autoscaler, autoscaler-state.
	TagRole = "dev.runfleet.role"
)

// TagKeys lists every tag key of the vocabulary.
func TagKeys() []string {
	return []string{TagManaged, TagFleet, TagPool, TagOffering, TagRole}
}
