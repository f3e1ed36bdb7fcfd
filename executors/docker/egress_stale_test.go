package docker_test

import (
	"net/netip"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/executors/internal/egress"
)

// scopeRules returns the lines of iptables -S chain that carry scope's
// marker.
func scopeRules(t *testing.T, chain, scope string) []string {
	t.Helper()
	out, err := osexec.Command("iptables", "-w", "-S", chain).CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S %s: %v: %s", chain, err, out)
	}
	var got []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, `"runfleet:`+scope+" ") {
			got = append(got, l)
		}
	}
	return got
}

// TestStaleEgressRulesRemoved: an executor dropped without Close (the
// agent SIGKILLed) leaves its rules; the next executor of the same node
// and engine ends with exactly one set, and another node's rules stay.
func TestStaleEgressRulesRemoved(t *testing.T) {
	node, other := uniqueNode(t), uniqueNode(t)
	scope, otherScope := egress.Scope(node, ""), egress.Scope(other, "")
	blocks := []executors.EgressBlock{
		{Net: netip.MustParsePrefix("192.0.2.0/24"), Why: "test stale cidr"},
		{Net: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Port: 9, Why: "test stale listener"},
	}
	t.Cleanup(func() {
		for _, s := range []string{scope, otherScope} {
			for _, b := range blocks {
				for _, chain := range []string{"DOCKER-USER", "INPUT"} {
					for range 3 {
						egress.Remove("iptables", egress.Rule(s, chain, "rf-+", b))
					}
				}
			}
		}
	})
	withBlocks := func(o *docker.Options) { o.BlockedEgress = blocks }

	otherEx := newExecutor(t, other, withBlocks)
	defer otherEx.Close()
	_ = newExecutor(t, node, withBlocks) // killed: never closed
	for _, chain := range []string{"DOCKER-USER", "INPUT"} {
		if got := scopeRules(t, chain, scope); len(got) != len(blocks) {
			t.Fatalf("%s before the restart: want %d rules of %s, got %q", chain, len(blocks), scope, got)
		}
	}

	restarted := newExecutor(t, node, withBlocks)
	for _, chain := range []string{"DOCKER-USER", "INPUT"} {
		if got := scopeRules(t, chain, scope); len(got) != len(blocks) {
			t.Errorf("%s after the restart: want exactly %d rules of %s (one set), got %q", chain, len(blocks), scope, got)
		}
		if got := scopeRules(t, chain, otherScope); len(got) != len(blocks) {
			t.Errorf("%s: the other node's %d rules must stay, got %q", chain, len(blocks), got)
		}
	}

	// The restarted instance owns its set: Close removes it all.
	if err := restarted.Close(); err != nil {
		t.Fatal(err)
	}
	for _, chain := range []string{"DOCKER-USER", "INPUT"} {
		if got := scopeRules(t, chain, scope); len(got) != 0 {
			t.Errorf("%s after Close: rules of %s left: %q", chain, scope, got)
		}
		if got := scopeRules(t, chain, otherScope); len(got) != len(blocks) {
			t.Errorf("%s after Close: the other node's rules must stay, got %q", chain, got)
		}
	}
}
