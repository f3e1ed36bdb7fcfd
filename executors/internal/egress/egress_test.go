package egress

import (
	"slices"
	"testing"
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
