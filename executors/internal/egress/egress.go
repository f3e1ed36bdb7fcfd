// Package egress turns the job egress policy (executors.EgressBlock) into
// iptables rules and installs them idempotently, for every executor.
package egress

import (
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/runfleet/runfleet/executors"
)

// Command is the iptables binary for b's address family.
func Command(b executors.EgressBlock) string {
	if b.Net.Addr().Is6() {
		return "ip6tables"
	}
	return "iptables"
}

// Rule is b's REJECT rule in chain, for traffic entering on iface (an
// iptables interface pattern such as "rf-+"; empty matches any).
func Rule(chain, iface string, b executors.EgressBlock) []string {
	r := []string{chain}
	if iface != "" {
		r = append(r, "-i", iface)
	}
	if b.Net.Bits() > 0 {
		r = append(r, "-d", b.Net.Masked().String())
	}
	if b.Port != 0 {
		r = append(r, "-p", "tcp", "--dport", strconv.Itoa(int(b.Port)))
	}
	return append(r, "-j", "REJECT", "-m", "comment", "--comment", "runfleet: no "+b.Why+" for jobs")
}

// Installed is the rules one executor inserted, so it removes them (and
// only them) when it closes: a rule another agent inserted first stays.
type Installed struct {
	mu    sync.Mutex
	rules [][]string // cmd, then the rule
}

// Ensure inserts rule with cmd unless it is there already.
func (in *Installed) Ensure(cmd string, rule []string) error {
	if exec.Command(cmd, append([]string{"-w", "-C"}, rule...)...).Run() == nil {
		return nil
	}
	out, err := exec.Command(cmd, append([]string{"-w", "-I"}, rule...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s -I %s: %v: %s", executors.ErrEgressGuard, cmd, strings.Join(rule, " "), err, strings.TrimSpace(string(out)))
	}
	in.mu.Lock()
	in.rules = append(in.rules, append([]string{cmd}, rule...))
	in.mu.Unlock()
	return nil
}

// RemoveAll deletes the rules Ensure inserted.
func (in *Installed) RemoveAll() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.rules {
		Remove(r[0], r[1:])
	}
	in.rules = nil
}

// Remove deletes one copy of rule with cmd, if it is there.
func Remove(cmd string, rule []string) {
	_ = exec.Command(cmd, append([]string{"-w", "-D"}, rule...)...).Run()
}
