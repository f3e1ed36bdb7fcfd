package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// TestFleetNodesCannotPoseAsEachOther: with two real node containers
// registered, a holder of the join token (and of one node's secrets)
// cannot register as the other node nor heartbeat for it; both nodes stay
// Ready and uninterrupted.
func TestFleetNodesCannotPoseAsEachOther(t *testing.T) {
	f := fleetNew(t, 2)
	f.pool.MinNodes = 2
	f.start()
	waitFor(t, 2*time.Minute, "two nodes to register", func() bool { return f.readyNodes() == 2 })
	var a, b fleetapi.NodeStatus
	for i, n := range f.cp.Status().Nodes {
		if i == 0 {
			a = n
		} else {
			b = n
		}
	}
	// What node A holds: its bootstrap token (container environment) and
	// its node token (its token file).
	c := dockerClient(t)
	ci, err := c.ContainerInspect(context.Background(), a.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	var bootA string
	for _, e := range ci.Config.Env {
		if v, ok := strings.CutPrefix(e, "RUNFLEET_FLEET_BOOTSTRAP_TOKEN="); ok {
			bootA = v
		}
	}
	raw, err := os.ReadFile(filepath.Join(f.dir, "nodes", a.Name, "node-token"))
	if err != nil || bootA == "" {
		t.Fatalf("node A's secrets: bootstrap %q, node token %v", bootA, err)
	}
	tokA := strings.TrimSpace(string(raw))
	post := func(path, tok string, body any) int {
		t.Helper()
		js, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, "http://"+f.addr+path, bytes.NewReader(js))
		req.Header.Set("Content-Type", fleetapi.ContentType)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	before := f.metric("runfleet_fleet_auth_failures_total", map[string]string{"reason": "identity"})
	for name, id := range map[string]fleetapi.Identity{
		"with A's bootstrap token": {BootstrapToken: bootA},
		"with no proof":            {},
	} {
		if code := post(fleetapi.PathRegister, f.joinTok, fleetapi.RegisterRequest{Name: b.Name, ProviderID: b.ProviderID,
			Capacity: fleetapi.Capacity{Slots: 2}, Identity: id}); code != http.StatusForbidden {
			t.Errorf("register as node B %s: %d, want 403", name, code)
		}
	}
	if code := post(fleetapi.PathRegister, f.joinTok, fleetapi.RegisterRequest{Name: a.Name, ProviderID: a.ProviderID,
		Identity: fleetapi.Identity{BootstrapToken: bootA}}); code != http.StatusForbidden {
		t.Errorf("replay of node A's used bootstrap token: %d, want 403", code)
	}
	if got := f.metric("runfleet_fleet_auth_failures_total", map[string]string{"reason": "identity"}) - before; got != 3 {
		t.Errorf("identity failures went up by %v, want 3", got)
	}
	if code := post(fleetapi.PathHeartbeat, tokA, fleetapi.Heartbeat{Name: b.Name, ProviderID: b.ProviderID, Slots: 2,
		Conditions: []fleetapi.Condition{{Type: fleetapi.ConditionInterrupted}}}); code != http.StatusForbidden {
		t.Errorf("heartbeat as node B with node A's token: %d, want 403", code)
	}
	// Both nodes keep heartbeating with their own tokens (node A's was not
	// revoked by the failed attempts), and B was not reported interrupted.
	time.Sleep(3 * time.Second)
	if f.readyNodes() != 2 {
		t.Fatalf("nodes after the attempts: %+v", f.cp.Status().Nodes)
	}
	for _, n := range f.cp.Status().Nodes {
		if len(n.Conditions) != 0 || time.Since(n.LastHeartbeat) > 5*time.Second {
			t.Errorf("node %s: conditions %v, last heartbeat %s ago", n.Name, n.Conditions, time.Since(n.LastHeartbeat).Round(time.Second))
		}
	}
	if f.metric("runfleet_fleet_interruptions_total", nil) != 0 {
		t.Error("an interruption was counted")
	}
}
