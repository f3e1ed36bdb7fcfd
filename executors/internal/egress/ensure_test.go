package egress

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestEnsureRule runs EnsureRule against the host's real iptables, in a
// chain of its own that nothing jumps to (so no packet is ever matched),
// removed when the test ends. The cases run in order: the first inserts
// the rule, the second finds it there.
func TestEnsureRule(t *testing.T) {
	var b [4]byte
	_, _ = rand.Read(b[:])
	chain := "RF-TEST-" + hex.EncodeToString(b[:])
	if out, err := exec.Command("iptables", "-w", "-N", chain).CombinedOutput(); err != nil {
		t.Fatalf("iptables -N %s (the test needs root and iptables): %v: %s", chain, err, out)
	}
	t.Cleanup(func() {
		_ = exec.Command("iptables", "-w", "-F", chain).Run()
		_ = exec.Command("iptables", "-w", "-X", chain).Run()
	})
	rule := []string{chain, "-d", "192.0.2.1/32", "-j", "RETURN", "-m", "comment", "--comment", "runfleet test: EnsureRule"}
	for _, tc := range []struct {
		name         string
		cmd          string
		rule         []string
		wantInserted bool
		wantErr      string // a part of the error, "" for none
	}{
		{"absent: inserted", "iptables", rule, true, ""},
		{"present: left as it is", "iptables", rule, false, ""},
		{"no such chain: the output in the error", "iptables", []string{chain + "-GONE", "-j", "RETURN"}, false, "No chain"},
		{"no such command", "runfleet-no-such-iptables", rule, false, "executable file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inserted, err := EnsureRule(tc.cmd, tc.rule)
			if inserted != tc.wantInserted {
				t.Errorf("inserted = %t, want %t", inserted, tc.wantInserted)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	out, err := exec.Command("iptables", "-w", "-S", chain).CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S %s: %v: %s", chain, err, out)
	}
	if n := strings.Count(string(out), "192.0.2.1/32"); n != 1 {
		t.Errorf("the chain holds the rule %d times, want once:\n%s", n, out)
	}
	var notFound *exec.Error
	if _, err := EnsureRule("runfleet-no-such-iptables", rule); !errors.As(err, &notFound) {
		t.Errorf("a missing command gave %v, want an error wrapping *exec.Error", err)
	}
}
