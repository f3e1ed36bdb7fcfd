package controlplane_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

const adminToken = "admin-secret"

func newAdminHarness(t *testing.T) (*harness, *httptest.Server) {
	h := &harness{t: t, dbPath: t.TempDir() + "/fleet.db", demand: &fakeDemand{},
		clock: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	h.prov = newFakeProvider(h.clock.Now)
	h.tweak = func(o *controlplane.Options) {
		o.AdminToken, o.DrainTimeout, o.DrainHardLimit = adminToken, 10*time.Minute, time.Hour
	}
	h.start()
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.cp.AdminHandler(h.reg).ServeHTTP(w, r) // the current control plane, across restarts
	}))
	t.Cleanup(admin.Close)
	return h, admin
}

func adminPost(t *testing.T, admin *httptest.Server, action, node, tok string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, admin.URL+strings.Replace(action, "{name}", node, 1), nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func commandTypes(r fleetapi.HeartbeatResponse) string {
	var out []string
	for _, c := range r.Commands {
		out = append(out, string(c.Type))
	}
	return strings.Join(out, ",")
}

func TestAdminAuth(t *testing.T) {
	h, admin := newAdminHarness(t)
	h.demand.set(1)
	h.reconcile()
	h.register("node-0001", "i-0001")
	tests := []struct {
		name, action, node, tok string
		want                    int
	}{
		{"no token", controlplane.PathAdminCordon, "node-0001", "", 401},
		{"wrong token", controlplane.PathAdminDrain, "node-0001", "nope", 401},
		{"join token is not the admin token", controlplane.PathAdminDrain, "node-0001", joinToken, 401},
		{"unknown node", controlplane.PathAdminCordon, "node-9999", adminToken, 404},
		{"cordon", controlplane.PathAdminCordon, "node-0001", adminToken, 200},
		{"uncordon", controlplane.PathAdminUncordon, "node-0001", adminToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := adminPost(t, admin, tt.action, tt.node, tt.tok); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
		})
	}
	if got := testutil.ToFloat64(authFailures(h.reg, "admin_token")); got != 3 {
		t.Errorf("admin auth failures %v, want 3", got)
	}
	// Without an admin token the actions are disabled.
	h.tweak = nil
	h.start()
	if got := adminPost(t, admin, controlplane.PathAdminCordon, "node-0001", ""); got != http.StatusForbidden {
		t.Errorf("no admin token configured: status %d, want 403", got)
	}
}

func TestAdminCordonSurvivesRestart(t *testing.T) {
	h, admin := newAdminHarness(t)
	h.demand.set(1)
	h.reconcile()
	tok := h.register("node-0001", "i-0001")
	if got := commandTypes(h.heartbeat(tok, "node-0001", "i-0001", 0)); got != "" {
		t.Fatalf("commands %q before cordon", got)
	}
	if code := adminPost(t, admin, controlplane.PathAdminCordon, "node-0001", adminToken); code != 200 {
		t.Fatalf("cordon: %d", code)
	}
	if got := commandTypes(h.heartbeat(tok, "node-0001", "i-0001", 0)); got != "cordon" {
		t.Fatalf("commands %q after cordon, want cordon", got)
	}
	h.start() // restart: the cordon is in the store
	if got := commandTypes(h.heartbeat(tok, "node-0001", "i-0001", 0)); got != "cordon" {
		t.Fatalf("commands %q after a restart, want cordon", got)
	}
	// A cordoned idle node is never retired by the policy.
	h.demand.set(0)
	for range 3 {
		h.clock.Add(10 * time.Minute)
		h.heartbeat(tok, "node-0001", "i-0001", 0)
		h.reconcile()
	}
	if st := h.states()["node-0001"]; st != "Ready" {
		t.Fatalf("cordoned idle node is %q, want Ready", st)
	}
	if code := adminPost(t, admin, controlplane.PathAdminUncordon, "node-0001", adminToken); code != 200 {
		t.Fatalf("uncordon: %d", code)
	}
	if got := commandTypes(h.heartbeat(tok, "node-0001", "i-0001", 0)); got != "" {
		t.Fatalf("commands %q after uncordon", got)
	}
}

// TestDrainTimeout: two nodes are drained by an operator and never
// confirm it (their agents ignore the command). The idle one is
// terminated once the drain timeout passes; the busy one only at the hard
// limit.
func TestDrainTimeout(t *testing.T) {
	h, admin := newAdminHarness(t)
	h.demand.set(4) // 2 nodes
	h.reconcile()
	tok1 := h.register("node-0001", "i-0001")
	tok2 := h.register("node-0002", "i-0002")
	h.demand.set(0)
	beat := func() {
		h.heartbeat(tok1, "node-0001", "i-0001", 1)
		h.heartbeat(tok2, "node-0002", "i-0002", 0)
	}
	beat()
	for _, n := range []string{"node-0001", "node-0002"} {
		if code := adminPost(t, admin, controlplane.PathAdminDrain, n, adminToken); code != 200 {
			t.Fatalf("drain %s: %d", n, code)
		}
	}
	if got := commandTypes(h.heartbeat(tok1, "node-0001", "i-0001", 1)); got != "drain" {
		t.Fatalf("commands %q after drain, want drain", got)
	}
	steps := []struct {
		advance time.Duration
		want    map[string]string
	}{
		{time.Minute, map[string]string{"node-0001": "Draining", "node-0002": "Draining"}},
		{10 * time.Minute, map[string]string{"node-0001": "Draining"}},
		{30 * time.Minute, map[string]string{"node-0001": "Draining"}},
		{30 * time.Minute, map[string]string{}},
	}
	for i, s := range steps {
		h.clock.Add(s.advance)
		if _, ok := h.states()["node-0001"]; ok {
			h.heartbeat(tok1, "node-0001", "i-0001", 1)
		}
		if _, ok := h.states()["node-0002"]; ok {
			h.heartbeat(tok2, "node-0002", "i-0002", 0)
		}
		h.reconcile()
		got := h.states()
		for n, st := range s.want {
			if got[n] != st {
				t.Errorf("step %d: %s is %q, want %q", i, n, got[n], st)
			}
		}
		for n := range got {
			if _, ok := s.want[n]; !ok && (n == "node-0001" || n == "node-0002") {
				t.Errorf("step %d: %s still there (%s), want terminated", i, n, got[n])
			}
		}
	}
	if got := h.prov.count(); got != 0 {
		t.Errorf("provider still runs %d nodes", got)
	}
}
