package docker_test

import (
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/executors/executortest"
	"github.com/runfleet/runfleet/executors/internal/egress"
)

// TestStaleEgressRulesRemoved: a restarted executor removes the rules a
// killed one of its node left, and no other node's
// (executortest.RunStaleEgress).
func TestStaleEgressRulesRemoved(t *testing.T) {
	executortest.RunStaleEgress(t, executortest.StaleEgressCase{
		Nodes:  [2]string{uniqueNode(t), uniqueNode(t) + "-o"},
		Chains: []string{"DOCKER-USER", "INPUT", "raw:PREROUTING"},
		Scope:  func(node string) string { return egress.Scope(node, "") },
		New: func(t *testing.T, node string, blocks []executors.EgressBlock) executors.Executor {
			return newExecutor(t, node, func(o *docker.Options) { o.BlockedEgress = blocks })
		},
		Rules: func(scope string, b executors.EgressBlock) [][]string {
			return [][]string{egress.Rule(scope, "DOCKER-USER", "rf-+", b), egress.Rule(scope, "INPUT", "rf-+", b), egress.RawRule(scope, "rf-+", b)}
		},
	})
}
