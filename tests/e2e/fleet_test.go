package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// TestFleetScalesOnQueue: a burst of jobs on a fake GitLab makes the
// control plane launch node containers (docker provider), which register,
// run every job once, and are drained and removed when the queue is empty.
func TestFleetScalesOnQueue(t *testing.T) {
	f := fleetNew(t, 3)
	ids := f.enqueue(6, "sleep 3; echo fleet job done")
	f.start()
	f.waitJobs(ids, 3*time.Minute)
	if n := f.everLaunched(); n < 2 || n > 3 {
		t.Errorf("%d nodes launched for 6 jobs of 2 slots per node, max 3", n)
	}
	waitFor(t, 2*time.Minute, "scale down to zero nodes", func() bool { return f.nodes() == 0 })
	if f.metric("runfleet_fleet_scale_events_total", map[string]string{"kind": "terminate"}) < 2 {
		t.Error("no terminate events counted")
	}
	if h := f.metric("runfleet_fleet_heartbeats_total", nil); h == 0 {
		t.Error("no heartbeats counted")
	}
}

// TestFleetRestartMidScaleUp: the control plane dies right after
// launching; the new one adopts the nodes from the store, launches no
// duplicates, and the nodes (with their stored tokens) keep working.
func TestFleetRestartMidScaleUp(t *testing.T) {
	f := fleetNew(t, 2)
	ids := f.enqueue(4, "sleep 4; echo done")
	f.start()
	waitFor(t, time.Minute, "a launched node running", func() bool { return len(f.running()) > 0 })
	f.stop()
	time.Sleep(2 * time.Second) // the nodes miss a heartbeat or two
	f.start()
	f.waitJobs(ids, 3*time.Minute)
	// A container the killed control plane created but never started (its
	// launch was cancelled half-way) is replaced, not a duplicate: count
	// the nodes that ran.
	if n := f.everRan(); n > 2 {
		t.Errorf("%d nodes ran across the restart, want at most 2 (no duplicates)", n)
	}
	for _, n := range f.cp.Status().Nodes {
		if n.State == "NotReady" {
			t.Errorf("node %s NotReady after the restart: %+v", n.Name, n)
		}
	}
	waitFor(t, 2*time.Minute, "scale down", func() bool { return f.nodes() == 0 })
}

// TestFleetProviderErrorsAndThrottling: the provider first throttles, then
// has no capacity; the control plane backs off, skips the offering for its
// TTL, and still gets the jobs done.
func TestFleetProviderErrorsAndThrottling(t *testing.T) {
	f := fleetNew(t, 2)
	fp := &faultyProvider{failures: []error{
		&provider.ThrottledError{RetryAfter: 2 * time.Second, Err: errors.New("RequestLimitExceeded")},
		&provider.CapacityError{Code: "InsufficientInstanceCapacity", Err: errors.New("no capacity")},
		errors.New("engine hiccup"),
	}}
	f.wrap = func(p controlplane.Provider) controlplane.Provider { fp.Provider = p; return fp }
	ids := f.enqueue(2, "echo ok")
	f.start()
	f.waitJobs(ids, 3*time.Minute)
	if f.metric("runfleet_fleet_provider_errors_total", map[string]string{"kind": "throttled"}) != 1 {
		t.Error("throttling not counted")
	}
	if f.metric("runfleet_fleet_capacity_errors_total", nil) != 1 {
		t.Error("capacity error not counted")
	}
	if f.metric("runfleet_fleet_provider_errors_total", map[string]string{"kind": "error"}) != 1 {
		t.Error("provider error not counted")
	}
}

// TestFleetReplacesVanishedNode: a node container killed under the
// control plane is replaced, and the jobs still finish.
func TestFleetReplacesVanishedNode(t *testing.T) {
	f := fleetNew(t, 1)
	f.pool.MinNodes = 1
	f.start()
	waitFor(t, time.Minute, "a ready node", func() bool { return f.readyNodes() == 1 })
	first := f.running()[0].Name
	c := dockerClient(t)
	if err := c.ContainerKill(context.Background(), first, "KILL"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a replacement", func() bool {
		st := f.cp.Status().Nodes
		return len(st) == 1 && st[0].Name != first && st[0].State == "Ready"
	})
	ids := f.enqueue(1, "echo on the replacement")
	f.waitJobs(ids, 2*time.Minute)
	if f.metric("runfleet_fleet_scale_events_total", map[string]string{"kind": "notready"}) < 1 {
		t.Error("the lost node was not marked NotReady")
	}
}

// TestFleetRejectsStrangers: an agent with a wrong join token, and one the
// control plane never launched, are both turned away and counted; they
// never get a node token.
func TestFleetRejectsStrangers(t *testing.T) {
	f := fleetNew(t, 1)
	f.start()
	tests := []struct {
		name, token, reason, log string
	}{
		{"wrong join token", "not-the-join-token", "join_token", "HTTP 401"},
		{"never launched", f.joinTok, "unknown_node", "HTTP 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.metric("runfleet_fleet_auth_failures_total", map[string]string{"reason": tt.reason})
			dir := t.TempDir()
			global := fmt.Sprintf("[fleet]\nurl = %q\nnode_token_file = %q\n", "http://"+f.addr, dir+"/node-token")
			tok := fmt.Sprintf("glrt-stranger%012d", time.Now().UnixNano()%1e12)
			f.gl.AddRunner(tok)
			node := nodeName(t)
			cfg, metrics := writeConfig(t, dir, node, f.gl, tok, agentConfig{Global: global})
			a := startAgentWithEnv(t, cfg, node, dir, metrics, "RUNFLEET_FLEET_JOIN_TOKEN="+tt.token)
			waitFor(t, 30*time.Second, "a rejection", func() bool {
				return f.metric("runfleet_fleet_auth_failures_total", map[string]string{"reason": tt.reason}) > before
			})
			waitFor(t, 10*time.Second, "the agent to log it", func() bool { return strings.Contains(a.out.String(), tt.log) })
			if f.nodes() != 0 || len(f.cp.Status().Nodes) != 0 {
				t.Errorf("a stranger joined: %+v", f.cp.Status().Nodes)
			}
			if _, err := readFileIfExists(dir + "/node-token"); err == nil {
				t.Error("the stranger got a node token")
			}
		})
	}
}
