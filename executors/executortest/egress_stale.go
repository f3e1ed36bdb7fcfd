package executortest

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

// StaleEgressCase is the check that an executor's egress rules do not
// pile up when the agent is killed, for one executor.
type StaleEgressCase struct {
	// New returns an executor of node whose New installed blocks; the
	// test closes it or drops it (a killed agent).
	New func(t *testing.T, node string, blocks []executors.EgressBlock) executors.Executor
	// Nodes are two distinct node names.
	Nodes [2]string
	// Scope is the scope of node's rules (egress.Scope).
	Scope func(node string) string
	// Chains are the iptables chains New inserts a rule for each block in
	// ("table:chain" for a table other than filter, such as raw:PREROUTING).
	Chains []string
	// Rules returns the rules of scope New inserts for b (iptables), so
	// the test removes what is left.
	Rules func(scope string, b executors.EgressBlock) [][]string
}

// scopeRules returns the lines of iptables -S chain that carry scope's
// marker.
func scopeRules(t *testing.T, chain, scope string) []string {
	t.Helper()
	table := "filter" // a chain may be written table:chain
	if tb, ch, ok := strings.Cut(chain, ":"); ok {
		table, chain = tb, ch
	}
	out, err := exec.Command("iptables", "-w", "-t", table, "-S", chain).CombinedOutput()
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

// RunStaleEgress: an executor dropped without Close (the agent
// SIGKILLed) leaves its rules; the next executor of the same node and
// engine ends with exactly one set, another node's rules stay, and Close
// of the new one removes its whole set.
func RunStaleEgress(t *testing.T, c StaleEgressCase) {
	node, other := c.Nodes[0], c.Nodes[1]
	scope, otherScope := c.Scope(node), c.Scope(other)
	blocks := []executors.EgressBlock{
		{Net: netip.MustParsePrefix("192.0.2.0/24"), Why: "test stale cidr"},
		{Net: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Port: 9, Why: "test stale listener"},
	}
	t.Cleanup(func() {
		for _, s := range []string{scope, otherScope} {
			for _, b := range blocks {
				for _, r := range c.Rules(s, b) {
					for range 3 { // a copy per instance at most
						_ = exec.Command("iptables", append([]string{"-w", "-D"}, r...)...).Run()
					}
				}
			}
		}
	})
	count := func(when string, s string, want int) {
		t.Helper()
		for _, chain := range c.Chains {
			if got := scopeRules(t, chain, s); len(got) != want {
				t.Errorf("%s: %s: want %d rules of %s, got %q", when, chain, want, s, got)
			}
		}
	}

	otherEx := c.New(t, other, blocks)
	defer otherEx.(interface{ Close() error }).Close()
	_ = c.New(t, node, blocks) // killed: never closed
	count("before the restart", scope, len(blocks))
	if t.Failed() {
		t.FailNow()
	}

	restarted := c.New(t, node, blocks)
	count("after the restart (one set)", scope, len(blocks))
	count("after the restart, the other node's", otherScope, len(blocks))

	if err := restarted.(interface{ Close() error }).Close(); err != nil {
		t.Fatal(err)
	}
	count("after Close", scope, 0)
	count("after Close, the other node's", otherScope, len(blocks))
}
