// Package egress turns the job egress policy (executors.EgressBlock) into
// iptables rules and installs them idempotently, for every executor.
// Every rule carries its executor's scope in its comment, so a new
// instance finds and removes the rules a killed one left behind without
// touching those of other agents or engines on the host.
package egress

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os/exec"
	"slices"
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

// Scope names one executor's rules: its node and the engine it drives
// (hashed, so any address fits a comment), such as "node-1/3fa2c1d0".
// Characters other than letters, digits, '.', '_' and '-' in node
// become '_', so the scope needs no quoting in iptables output.
func Scope(node, engine string) string {
	sum := sha256.Sum256([]byte(engine))
	clean := []rune(node)
	for i, r := range clean {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			clean[i] = '_'
		}
	}
	if len(clean) > 128 {
		clean = clean[:128]
	}
	return string(clean) + "/" + hex.EncodeToString(sum[:4])
}

// marker starts the comment of every rule of scope.
func marker(scope string) string { return "runfleet:" + scope + " " }

// Rule is b's REJECT rule of scope in chain, for traffic entering on
// iface (an iptables interface pattern such as "rf-+"; empty matches any).
func Rule(scope, chain, iface string, b executors.EgressBlock) []string {
	return rule(scope, []string{chain}, iface, "REJECT", b)
}

// rule is b's rule of scope with target, at where (a chain, and a table
// when not filter), for traffic entering on iface.
func rule(scope string, where []string, iface, target string, b executors.EgressBlock) []string {
	r := where
	if iface != "" {
		r = append(r, "-i", iface)
	}
	if b.Net.Bits() > 0 {
		r = append(r, "-d", b.Net.Masked().String())
	}
	if b.Port != 0 {
		r = append(r, "-p", "tcp", "--dport", strconv.Itoa(int(b.Port)))
	}
	return append(r, "-j", target, "-m", "comment", "--comment", marker(scope)+"no "+b.Why+" for jobs")
}

// RawRule is b's DROP rule of scope in the raw table's PREROUTING, for
// traffic entering on iface. The raw table sees a packet before any
// filter chain, and engines never rewrite it: the rule holds while an
// engine reorders FORWARD (dockerd does at its start), when a bridge's
// ACCEPT can come before the REJECT of Rule.
func RawRule(scope, iface string, b executors.EgressBlock) []string {
	return rule(scope, []string{"PREROUTING", "-t", "raw"}, iface, "DROP", b)
}

// Installed is the rules one executor inserted, so it removes them (and
// only them) when it closes, and the rules of its scope a previous
// instance left (killed before Close), which it removes once its own are
// in, so the block never lapses.
type Installed struct {
	// Scope is the executor's Scope; every rule it inserts carries it.
	Scope string

	mu    sync.Mutex
	rules [][]string // cmd, then the rule
	stale [][]string // cmd, then the rule spec as iptables -S prints it
}

// FindStale records the rules of in.Scope in cmd's chains (of the filter
// table), before this instance inserts any: a previous instance's. A
// missing chain holds none.
func (in *Installed) FindStale(cmd string, chains ...string) {
	in.FindStaleIn(cmd, "filter", chains...)
}

// FindStaleIn is FindStale for the chains of table.
func (in *Installed) FindStaleIn(cmd, table string, chains ...string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, chain := range chains {
		out, err := exec.Command(cmd, "-w", "-t", table, "-S", chain).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.Contains(line, `--comment "`+marker(in.Scope)) {
				continue
			}
			if f := splitRule(line); len(f) > 2 && f[0] == "-A" {
				rule := append([]string{cmd, f[1], "-t", table}, f[2:]...)
				in.stale = append(in.stale, rule)
			}
		}
	}
}

// RemoveStale deletes the rules FindStale found. Call it after Ensure
// inserted this instance's rules: a rule identical to a stale one then
// has two copies and one stays.
func (in *Installed) RemoveStale() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, r := range in.stale {
		Remove(r[0], r[1:])
	}
	in.stale = nil
}

// Ensure inserts rule with cmd unless this instance inserted it already.
func (in *Installed) Ensure(cmd string, rule []string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	full := append([]string{cmd}, rule...)
	for _, r := range in.rules {
		if slices.Equal(r, full) {
			return nil
		}
	}
	out, err := exec.Command(cmd, append([]string{"-w", "-I"}, rule...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s -I %s: %v: %s", executors.ErrEgressGuard, cmd, strings.Join(rule, " "), err, strings.TrimSpace(string(out)))
	}
	in.rules = append(in.rules, full)
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

// EnsureRule inserts rule with cmd (iptables or ip6tables) unless an
// identical rule is there already, and says whether it inserted it. It
// is for the rules that outlive the executor (the metadata guard);
// Installed.Ensure is for the scoped ones it removes. The error of a
// failed insert carries the command's output.
func EnsureRule(cmd string, rule []string) (inserted bool, err error) {
	if exec.Command(cmd, append([]string{"-w", "-C"}, rule...)...).Run() == nil {
		return false, nil
	}
	out, err := exec.Command(cmd, append([]string{"-w", "-I"}, rule...)...).CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("%s -I %s: %w: %s", cmd, strings.Join(rule, " "), err, strings.TrimSpace(string(out)))
	}
	return true, nil
}

// Remove deletes one copy of rule with cmd, if it is there.
func Remove(cmd string, rule []string) {
	_ = exec.Command(cmd, append([]string{"-w", "-D"}, rule...)...).Run()
}

// splitRule splits a line of iptables -S output into its arguments:
// fields separated by spaces, a double-quoted field (backslash escapes
// inside) being one argument.
func splitRule(line string) []string {
	var (
		out    []string
		cur    strings.Builder
		inWord bool
		quoted bool
	)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quoted && c == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case c == '"':
			quoted = !quoted
			inWord = true
		case !quoted && (c == ' ' || c == '\t' || c == '\r'):
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}
