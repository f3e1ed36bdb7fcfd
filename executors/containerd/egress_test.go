package containerd_test

import (
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/containerd"
	"github.com/runfleet/runfleet/executors/executortest"
	"github.com/runfleet/runfleet/executors/internal/egress"
)

// TestJobEgressPolicy: jobs reach neither a blocked port of the node nor
// a blocked network (executortest.RunEgress).
func TestJobEgressPolicy(t *testing.T) {
	node := uniqueNode(t)
	scope := egress.Scope(node, containerd.DefaultBridge)
	executortest.RunEgress(t, executortest.EgressCase{
		Node:  node,
		Image: testImage,
		New: func(t *testing.T, blocks []executors.EgressBlock) executors.Executor {
			return newExecutor(t, node, func(o *containerd.Options) { o.BlockedEgress = blocks })
		},
		Rules: func(b executors.EgressBlock) (string, [][]string) {
			return egress.Command(b), [][]string{egress.Rule(scope, "RUNFLEET-ADMIN", "", b), egress.Rule(scope, "INPUT", containerd.DefaultBridge, b)}
		},
		Remove: egress.Remove,
	})
}
