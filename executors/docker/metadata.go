package docker

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/egress"
)

// Job networks get bridge interfaces named with this prefix, so one
// firewall rule covers every runfleet network and no other.
const bridgePrefix = "rf-"

// bridgeOption names a network's bridge interface.
const bridgeOption = "com.docker.network.bridge.name"

// metadataEndpoints are the cloud instance metadata addresses jobs must
// never reach: they hand out the node's cloud credentials.
var metadataEndpoints = []struct {
	cmd, addr string
}{
	{"iptables", "169.254.169.254/32"},
	{"ip6tables", "fd00:ec2::254/128"},
}

// ErrMetadataGuard means the firewall rules that keep jobs away from the
// cloud metadata endpoint could not be installed.
var ErrMetadataGuard = errors.New("cannot block the cloud metadata endpoint for jobs")

// newBridgeName returns a fresh bridge interface name (at most 15 bytes).
func newBridgeName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return bridgePrefix + hex.EncodeToString(b[:])
}

// guardMetadata installs, once and idempotently, two rules for traffic
// from runfleet bridges to the metadata endpoints (IPv4 and IPv6):
//   - a REJECT in Docker's DOCKER-USER chain, so a job's request fails at
//     once;
//   - a DROP in the raw table's PREROUTING, which Docker never rewrites.
//     Each time Docker creates a network (any job's, on any engine of the
//     host) it deletes FORWARD's jump to DOCKER-USER and inserts it again
//     at the top; for that moment the bridges' own ACCEPT rules come
//     first, and without this rule a job polling the endpoint gets through.
//
// The agent itself, on the host, keeps its access. An IPv6 failure is
// only logged when the host has no ip6tables DOCKER-USER chain (Docker
// without IPv6), an IPv4 failure is an error.
func (e *Executor) guardMetadata() error {
	for _, ep := range metadataEndpoints {
		const comment = "runfleet: no cloud metadata for jobs"
		raw := []string{"PREROUTING", "-t", "raw", "-i", bridgePrefix + "+", "-d", ep.addr, "-j", "DROP",
			"-m", "comment", "--comment", comment}
		rule := []string{"DOCKER-USER", "-i", bridgePrefix + "+", "-d", ep.addr, "-j", "REJECT",
			"-m", "comment", "--comment", comment}
		rawNew, err := egress.EnsureRule(ep.cmd, raw)
		ruleNew := false
		if err == nil {
			ruleNew, err = egress.EnsureRule(ep.cmd, rule)
		}
		if err == nil {
			if rawNew || ruleNew {
				e.log.Info("jobs cannot reach the cloud metadata endpoint", "address", ep.addr)
			}
			continue
		}
		if ep.cmd == "ip6tables" {
			e.log.Warn("no IPv6 metadata rule (Docker without IPv6 networks needs none)", "err", err)
			continue
		}
		return fmt.Errorf("%w: %v (run the agent as root on a host where Docker manages iptables, or set BlockMetadata=false knowingly)", ErrMetadataGuard, err)
	}
	return nil
}

// guardEgress installs the rules of the job egress policy for traffic
// from runfleet bridges: a DROP in the raw table's PREROUTING (which holds
// while dockerd reorders FORWARD), and REJECTs in DOCKER-USER for what the
// node forwards and in INPUT for what is addressed to the node itself (its
// listeners, a control plane on the same host). The rules carry the
// scope of this node and engine (host): the ones a killed instance of
// the same scope left are removed once the fresh ones are in, and other
// agents' rules stay. An IPv6 block is only logged when ip6tables fails
// (Docker without IPv6 networks). Close removes the rules this executor
// inserted.
func (e *Executor) guardEgress(host string, blocks []executors.EgressBlock) error {
	e.egress.Scope = egress.Scope(e.node, host)
	chains := []string{"DOCKER-USER", "INPUT"}
	for _, cmd := range []string{"iptables", "ip6tables"} {
		e.egress.FindStale(cmd, chains...)
		e.egress.FindStaleIn(cmd, "raw", "PREROUTING")
	}
	defer e.egress.RemoveStale()
	for _, b := range blocks {
		cmd := egress.Command(b)
		// The raw-table DROP first (see guardMetadata), then the REJECTs
		// that make a blocked request fail at once.
		rules := [][]string{egress.RawRule(e.egress.Scope, bridgePrefix+"+", b)}
		for _, chain := range chains {
			rules = append(rules, egress.Rule(e.egress.Scope, chain, bridgePrefix+"+", b))
		}
		for _, rule := range rules {
			err := e.egress.Ensure(cmd, rule)
			if err != nil && cmd == "ip6tables" {
				e.log.Warn("no IPv6 egress rule (Docker without IPv6 networks needs none)", "block", b.Why, "err", err)
				continue
			}
			if err != nil {
				return err
			}
		}
		e.log.Info("jobs cannot reach "+b.Why, "network", b.Net.String(), "port", b.Port)
	}
	return nil
}
