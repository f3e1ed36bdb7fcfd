package egress

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/runfleet/runfleet/executors"
)

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`-A INPUT -d 10.0.0.0/8 -j REJECT`, []string{"-A", "INPUT", "-d", "10.0.0.0/8", "-j", "REJECT"}},
		{`-A INPUT -m comment --comment "runfleet:n/0a no x for jobs" -j REJECT --reject-with icmp-port-unreachable`,
			[]string{"-A", "INPUT", "-m", "comment", "--comment", "runfleet:n/0a no x for jobs", "-j", "REJECT", "--reject-with", "icmp-port-unreachable"}},
		{`-A X --comment "a \"b\" c"`, []string{"-A", "X", "--comment", `a "b" c`}},
		{``, nil},
	} {
		if got := splitRule(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestScope(t *testing.T) {
	for _, tc := range []struct{ node, engine, want string }{
		{"node-1", "", "node-1/e3b0c442"},
		{`a b"c`, "", "a_b_c/e3b0c442"},
	} {
		if got := Scope(tc.node, tc.engine); got != tc.want {
			t.Errorf("Scope(%q, %q) = %q, want %q", tc.node, tc.engine, got, tc.want)
		}
	}
	if Scope("n", "unix:///a.sock") == Scope("n", "unix:///b.sock") {
		t.Error("two engines of one node share a scope")
	}
}

func TestRawRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    executors.EgressBlock
		want []string
	}{
		{"cidr", executors.EgressBlock{Net: netip.MustParsePrefix("10.1.0.0/16"), Why: "x"},
			[]string{"PREROUTING", "-t", "raw", "-i", "rf-+", "-d", "10.1.0.0/16", "-j", "DROP", "-m", "comment", "--comment", "runfleet:n/0a no x for jobs"}},
		{"port", executors.EgressBlock{Net: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Port: 9252, Why: "the agent"},
			[]string{"PREROUTING", "-t", "raw", "-i", "rf-+", "-p", "tcp", "--dport", "9252", "-j", "DROP", "-m", "comment", "--comment", "runfleet:n/0a no the agent for jobs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RawRule("n/0a", "rf-+", tc.b); !slices.Equal(got, tc.want) {
				t.Errorf("RawRule = %q, want %q", got, tc.want)
			}
		})
	}
}
