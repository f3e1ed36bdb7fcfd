package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestJobsCannotReachTheAgent: an agent listening on every address of the
// node (listen_address 0.0.0.0:port) installs the egress rule for its
// port: a job reaches another listener of the node through its gateway,
// not the agent's; the rule goes when the agent stops.
func TestJobsCannotReachTheAgent(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second))
	tok := fmt.Sprintf("glrt-%020d", time.Now().UnixNano()%1e12*7927)
	srv.AddRunner(tok)
	dir := t.TempDir()
	node := nodeName(t)
	cfg, metrics := writeConfig(t, dir, node, srv, tok, agentConfig{Concurrent: 1})
	_, port, _ := net.SplitHostPort(metrics)
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	open := strings.Replace(string(data), fmt.Sprintf("listen_address = %q", metrics), fmt.Sprintf("listen_address = %q", "0.0.0.0:"+port), 1)
	if open == string(data) {
		t.Fatal("the harness config has no listen_address to open")
	}
	if err := os.WriteFile(cfg, []byte(open), 0o600); err != nil {
		t.Fatal(err)
	}
	// Another listener of the node, which jobs do reach.
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "other-listener") }),
		ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = other.Serve(ln) }()
	t.Cleanup(func() { _ = other.Close() })
	otherPort := ln.Addr().(*net.TCPAddr).Port

	a := startAgentWith(t, cfg, node, dir, "127.0.0.1:"+port)
	waitFor(t, 30*time.Second, "the agent's metrics on 0.0.0.0:"+port, func() bool {
		resp, err := probeClient().Get("http://127.0.0.1:" + port + "/metrics")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	id := srv.Enqueue(gitlabtest.JobSpec{
		Variables: []gitlabtest.Variable{{Key: "GIT_STRATEGY", Value: "none"}},
		Script: []string{
			`gw=$(ip route | awk '/^default/ {print $3}')`,
			fmt.Sprintf(`if timeout 5 wget -qO- http://$gw:%d/ | grep -q other-listener; then echo other=REACHED; else echo other=BLOCKED; fi`, otherPort),
			fmt.Sprintf(`if timeout 5 wget -qO- http://$gw:%s/metrics >/dev/null 2>&1; then echo agent=REACHED; else echo agent=BLOCKED; fi`, port),
		},
	})
	rec := srv.WaitFinal(t, id, jobWait)
	log := string(rec.Trace)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("job = %s (%s); log:\n%s", rec.State, rec.FailureReason, tail(log, 3000))
	}
	mustContain(t, log, "other=REACHED", "agent=BLOCKED")

	// The rule's comment carries the agent's scope (node and engine).
	listenerRule := func() bool {
		out, err := exec.Command("iptables", "-w", "-S", "INPUT").CombinedOutput()
		if err != nil {
			t.Fatalf("iptables -S INPUT: %v: %s", err, out)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "-i rf-+") && strings.Contains(l, "--dport "+port+" ") &&
				strings.Contains(l, `"runfleet:`) && strings.Contains(l, ` no agent listener for jobs"`) {
				return true
			}
		}
		return false
	}
	if !listenerRule() {
		t.Errorf("no INPUT rule for the agent's port %s while it runs", port)
	}
	if err := a.stop(time.Minute); err != nil {
		t.Fatalf("agent stop: %v", err)
	}
	if listenerRule() {
		t.Errorf("the INPUT rule for port %s outlived the agent", port)
	}
}
