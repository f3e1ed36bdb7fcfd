package executortest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// EgressCase is the job egress policy check for one executor.
type EgressCase struct {
	// New returns an executor of the engine under test whose New installed
	// blocks (and the metadata guard).
	New func(t *testing.T, blocks []executors.EgressBlock) executors.Executor
	// Rules returns the iptables command and rules New installs for a
	// block, so the test removes them again.
	Rules func(b executors.EgressBlock) (cmd string, rules [][]string)
	// Remove deletes one rule (egress.Remove).
	Remove func(cmd string, rule []string)
	Image  string
	Node   string
}

// egressProbe prints NAME=REACHED or NAME=BLOCKED for each address; the
// node is the job network's gateway.
const egressProbe = `gw=$(ip route | awk '/^default/ {print $3}')
probe() { if timeout 5 wget -qO- "http://$1/" 2>/dev/null | grep -q "$3"; then echo "$2=REACHED"; else echo "$2=BLOCKED"; fi; }
`

// RunEgress checks the job egress policy with a real engine: a job
// reaches neither a blocked port of the node (an agent listener) nor a
// blocked network (a control plane), while another port of the node and
// the same network before it was blocked stay reachable, so a block is a
// rule and not a missing route.
func RunEgress(t *testing.T, c EgressCase) {
	stand := MetadataStandIn(t)
	blockedPort := hostListener(t, "agent-listener")
	openPort := hostListener(t, "open-port")
	ctrl := netip.MustParseAddr(stand.Control)
	blocks := []executors.EgressBlock{
		{Net: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Port: blockedPort, Why: "test agent listener"},
		{Net: netip.PrefixFrom(ctrl, 32), Why: "test control plane"},
	}
	script := egressProbe + fmt.Sprintf("probe $gw:%d listener agent-listener\nprobe $gw:%d open-port open-port\nprobe %s control-plane instance-credentials\n",
		blockedPort, openPort, stand.Control)

	before := runProbe(t, c.New(t, nil), c, script)
	if !strings.Contains(before, "control-plane=REACHED") || !strings.Contains(before, "open-port=REACHED") {
		t.Fatalf("without the blocks a job must reach the network and the node, or the test proves nothing:\n%s", before)
	}
	t.Cleanup(func() {
		for _, b := range blocks {
			cmd, rules := c.Rules(b)
			for _, r := range rules {
				c.Remove(cmd, r)
			}
		}
	})
	ex := c.New(t, blocks)
	after := runProbe(t, ex, c, script)
	for _, want := range []string{"listener=BLOCKED", "control-plane=BLOCKED", "open-port=REACHED"} {
		if !strings.Contains(after, want) {
			t.Errorf("with the egress policy, want %s:\n%s", want, after)
		}
	}
	// Close takes back the rules the executor inserted.
	closer, ok := ex.(interface{ Close() error })
	if !ok {
		t.Fatalf("%T has no Close", ex)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		cmd, rules := c.Rules(b)
		for _, r := range rules {
			if exec.Command(cmd, append([]string{"-w", "-C"}, r...)...).Run() == nil {
				t.Errorf("rule still installed after Close: %s %v", cmd, r)
			}
		}
	}
}

// hostListener serves body over HTTP on every address of the node.
func hostListener(t *testing.T, body string) uint16 {
	t.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, body) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// runProbe runs script in a fresh job environment and returns its output.
func runProbe(t *testing.T, ex executors.Executor, c EgressCase, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	spec := executors.Spec{JobID: newJobID(), Node: c.Node, Image: executors.Image{Name: c.Image, PullPolicy: executors.PullNever}}
	env, err := ex.Create(ctx, spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	defer env.Close(context.WithoutCancel(ctx))
	var out bytes.Buffer
	if _, err := env.Exec(ctx, executors.Step{Script: script}, &out); err != nil {
		t.Fatalf("exec: %v\n%s", err, out.String())
	}
	return out.String()
}
