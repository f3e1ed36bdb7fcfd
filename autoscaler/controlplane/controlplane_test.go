package controlplane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/controlplane/sqlitestore"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

const joinToken = "join-secret"

var (
	spotA = policy.Offering{InstanceType: "m7i.large", Zone: "a", Spot: true, PricePerHour: 0.03}
	spotB = policy.Offering{InstanceType: "m7i.large", Zone: "b", Spot: true, PricePerHour: 0.04}
	odA   = policy.Offering{InstanceType: "m7i.large", Zone: "a", PricePerHour: 0.1}
	pool  = policy.Pool{Name: "linux", Labels: []string{"linux"}, SlotsPerNode: 2, MaxNodes: 10,
		ScaleDownDelay: 5 * time.Minute, Offerings: []policy.Offering{spotA, spotB, odA}}
)

type harness struct {
	t      *testing.T
	dbPath string
	store  *sqlitestore.Store
	prov   *fakeProvider
	demand *fakeDemand
	clock  *clock
	reg    *prometheus.Registry
	cp     *controlplane.ControlPlane
	srv    *httptest.Server
	// tweak, when set, adjusts the options before each start.
	tweak func(*controlplane.Options)
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, dbPath: filepath.Join(t.TempDir(), "fleet.db"), demand: &fakeDemand{},
		clock: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
	h.prov = newFakeProvider(h.clock.Now)
	h.start()
	return h
}

// start (re)creates the control plane on the same database and provider.
func (h *harness) start() {
	t := h.t
	if h.srv != nil {
		h.srv.Close()
		h.store.Close()
	}
	st, err := sqlitestore.Open(context.Background(), h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	h.store = st
	h.reg = prometheus.NewRegistry()
	o := controlplane.Options{
		Store: st, Provider: h.prov, Demand: []controlplane.Demand{h.demand}, Pools: []policy.Pool{pool},
		JoinToken: joinToken, FleetURL: "http://fleet.test", HeartbeatGrace: 30 * time.Second, BootTimeout: 3 * time.Minute,
		Now: h.clock.Now, Registry: h.reg,
	}
	if h.tweak != nil {
		h.tweak(&o)
	}
	h.cp, err = controlplane.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.cp.Handler())
	t.Cleanup(func() { h.srv.Close(); h.store.Close() })
}

func (h *harness) post(path, tok string, body any) (int, []byte) {
	h.t.Helper()
	code, b, _ := h.postHeader(path, tok, body)
	return code, b
}

// postHeader is post with the answer's headers.
func (h *harness) postHeader(path, tok string, body any) (int, []byte, http.Header) {
	h.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", fleetapi.ContentType)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes(), resp.Header
}

// identity is the proof node pid holds: its bootstrap token and its
// signed instance identity document (a provider checks the one it uses).
func (h *harness) identity(pid string) fleetapi.Identity {
	id := signedIdentity(pid)
	id.BootstrapToken = h.prov.bootToken(pid)
	return id
}

func (h *harness) register(name, pid string) string {
	h.t.Helper()
	return h.registerSlots(name, pid, 2)
}

// registerSlots registers node name reporting slots slots.
func (h *harness) registerSlots(name, pid string, slots int) string {
	h.t.Helper()
	code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: name, ProviderID: pid,
		Capacity: fleetapi.Capacity{Slots: slots}, Identity: h.identity(pid)})
	if code != http.StatusOK {
		h.t.Fatalf("register %s: %d %s", name, code, body)
	}
	var r fleetapi.RegisterResponse
	if err := json.Unmarshal(body, &r); err != nil || r.NodeToken == "" {
		h.t.Fatalf("register answer %s: %v", body, err)
	}
	return r.NodeToken
}

func (h *harness) heartbeat(tok, name, pid string, busy int, conds ...string) fleetapi.HeartbeatResponse {
	h.t.Helper()
	hb := fleetapi.Heartbeat{Name: name, ProviderID: pid, Slots: 2, Busy: busy}
	for _, c := range conds {
		hb.Conditions = append(hb.Conditions, fleetapi.Condition{Type: c})
	}
	code, body := h.post(fleetapi.PathHeartbeat, tok, hb)
	if code != http.StatusOK {
		h.t.Fatalf("heartbeat %s: %d %s", name, code, body)
	}
	var r fleetapi.HeartbeatResponse
	json.Unmarshal(body, &r)
	return r
}

func (h *harness) reconcile() {
	h.t.Helper()
	if err := h.cp.Reconcile(context.Background()); err != nil {
		h.t.Logf("reconcile: %v", err)
	}
}

func (h *harness) states() map[string]string {
	out := map[string]string{}
	for _, n := range h.cp.Status().Nodes {
		out[n.Name] = n.State
	}
	return out
}

func (h *harness) countState(st policy.NodeState) int {
	n := 0
	for _, s := range h.states() {
		if s == string(st) {
			n++
		}
	}
	return n
}

func TestAuth(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile() // launches node-0001 / i-0001
	tok := h.register("node-0001", "i-0001")
	tests := []struct {
		name   string
		path   string
		tok    string
		body   any
		want   int
		reason string
	}{
		{"wrong join token", fleetapi.PathRegister, "nope", fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001"}, 401, "join_token"},
		{"no join token", fleetapi.PathRegister, "", fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001"}, 401, "join_token"},
		{"never launched", fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "evil", ProviderID: "i-9999"}, 403, "unknown_node"},
		{"name of another instance", fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "evil", ProviderID: "i-0001"}, 403, "unknown_node"},
		{"missing fields", fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "x"}, 400, ""},
		{"heartbeat with a wrong token", fleetapi.PathHeartbeat, "rfn_forged", fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001"}, 401, "node_token"},
		{"heartbeat with the join token", fleetapi.PathHeartbeat, joinToken, fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001"}, 401, "node_token"},
		{"heartbeat for a never-launched node", fleetapi.PathHeartbeat, tok, fleetapi.Heartbeat{Name: "ghost", ProviderID: "i-7777"}, 403, "unknown_node"},
		{"heartbeat ok", fleetapi.PathHeartbeat, tok, fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001", Slots: 2}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before float64
			if tt.reason != "" {
				before = testutil.ToFloat64(authFailures(h.reg, tt.reason))
			}
			code, body := h.post(tt.path, tt.tok, tt.body)
			if code != tt.want {
				t.Fatalf("status %d (%s), want %d", code, body, tt.want)
			}
			if tt.reason != "" {
				if got := testutil.ToFloat64(authFailures(h.reg, tt.reason)) - before; got != 1 {
					t.Errorf("auth failures{reason=%s} went up by %v, want 1", tt.reason, got)
				}
			}
		})
	}
}

// authFailures reads one series of runfleet_fleet_auth_failures_total.
func authFailures(reg *prometheus.Registry, reason string) prometheus.Collector {
	return counterSeries(reg, "runfleet_fleet_auth_failures_total", "reason", reason)
}

// counterSeries reads the series of counter name whose label is value.
func counterSeries(reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label && l.GetValue() == value {
						ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, m.GetCounter().GetValue())
						return
					}
				}
			}
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("x", "x", nil, nil), prometheus.CounterValue, 0)
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

func TestScaleUpRunScaleDown(t *testing.T) {
	h := newHarness(t)
	h.demand.set(5) // 5 slots = 3 nodes
	h.reconcile()
	if n := h.prov.count(); n != 3 {
		t.Fatalf("%d instances, want 3", n)
	}
	h.reconcile() // booting nodes count: no double launch
	if n := h.prov.count(); n != 3 {
		t.Fatalf("%d instances after a second pass, want 3", n)
	}
	toks := map[string]string{}
	for _, id := range []string{"0001", "0002", "0003"} {
		toks[id] = h.register("node-"+id, "i-"+id)
		h.heartbeat(toks[id], "node-"+id, "i-"+id, 2)
	}
	h.demand.set(0)
	if h.countState(policy.NodeReady) != 3 {
		t.Fatalf("states %v", h.states())
	}
	// Jobs end; nodes idle past the delay are drained, then terminated
	// once they confirm the drain with nothing running.
	h.clock.Add(time.Minute)
	for id, tok := range toks {
		h.heartbeat(tok, "node-"+id, "i-"+id, 0)
	}
	h.reconcile()
	if d := h.countState(policy.NodeDraining); d != 0 {
		t.Fatalf("drained before the scale-down delay: %v", h.states())
	}
	h.clock.Add(6 * time.Minute)
	for id, tok := range toks {
		h.heartbeat(tok, "node-"+id, "i-"+id, 0)
	}
	h.reconcile()
	if d := h.countState(policy.NodeDraining); d != 3 {
		t.Fatalf("want 3 draining: %v", h.states())
	}
	h.reconcile()
	if h.prov.count() != 3 {
		t.Fatal("terminated before the nodes confirmed the drain")
	}
	for id, tok := range toks {
		r := h.heartbeat(tok, "node-"+id, "i-"+id, 0, fleetapi.ConditionDraining)
		if len(r.Commands) != 1 || r.Commands[0].Type != fleetapi.CommandDrain {
			t.Fatalf("commands %+v", r.Commands)
		}
	}
	h.reconcile()
	if n := h.prov.count(); n != 0 {
		t.Fatalf("%d instances left, want 0: %v", n, h.states())
	}
	ev, _ := h.store.ScaleEvents(context.Background(), 100)
	if len(ev) != 9 { // 3 launches, 3 drains, 3 terminations
		t.Errorf("%d scale events: %+v", len(ev), ev)
	}
}

// drainedNode launches and registers node-0001, then drains it (idle past
// the scale-down delay); it returns the node's token.
func (h *harness) drainedNode() string {
	h.t.Helper()
	h.demand.set(1)
	h.reconcile()
	tok := h.register("node-0001", "i-0001")
	h.demand.set(0)
	h.clock.Add(10 * time.Minute)
	h.heartbeat(tok, "node-0001", "i-0001", 0)
	h.reconcile()
	if st := h.states()["node-0001"]; st != "Draining" {
		h.t.Fatalf("node-0001 is %q, want Draining", st)
	}
	return tok
}

func TestBusyDrainingNodeIsKept(t *testing.T) {
	h := newHarness(t)
	tok := h.drainedNode()
	// A job slipped in before the node saw the drain command.
	h.heartbeat(tok, "node-0001", "i-0001", 1, fleetapi.ConditionDraining)
	h.reconcile()
	if h.prov.count() != 1 {
		t.Fatal("a busy node was terminated")
	}
	h.heartbeat(tok, "node-0001", "i-0001", 0, fleetapi.ConditionDraining)
	h.reconcile()
	if h.prov.count() != 0 {
		t.Fatal("the drained node was not terminated")
	}
}

func TestCapacityErrorThenFallback(t *testing.T) {
	h := newHarness(t)
	h.prov.noCap[spotA] = true
	h.prov.noCap[spotB] = true
	h.demand.set(1)
	for range 3 {
		h.reconcile()
	}
	fails, _ := h.store.CapacityFailures(context.Background(), time.Time{})
	if len(fails) != 2 {
		t.Fatalf("capacity failures %+v", fails)
	}
	if h.prov.count() != 1 {
		t.Fatalf("%d instances", h.prov.count())
	}
	for _, n := range h.cp.Status().Nodes {
		if n.Offering != "m7i.large/a/on-demand" {
			t.Errorf("fell back to %s", n.Offering)
		}
	}
}

func TestThrottlingBacksOff(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.prov.throttle = 1
	if err := h.cp.Reconcile(context.Background()); err == nil {
		t.Fatal("want an error from a throttled List")
	}
	err := h.cp.Reconcile(context.Background())
	if err == nil || !strings.Contains(err.Error(), "backing off") {
		t.Fatalf("second pass: %v, want backing off", err)
	}
	if h.prov.count() != 0 {
		t.Fatal("launched while backing off")
	}
	h.clock.Add(11 * time.Second) // RetryAfter
	h.reconcile()
	if h.prov.count() != 1 {
		t.Fatalf("%d instances after the backoff", h.prov.count())
	}
}

func TestSilentAndVanishedNodesAreReplaced(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(h *harness)
	}{
		{"missed heartbeats", func(h *harness) { h.clock.Add(31 * time.Second) }},
		{"instance killed", func(h *harness) { h.prov.kill("i-0001") }},
		{"never registered", func(h *harness) { h.clock.Add(4 * time.Minute) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.demand.set(1)
			h.reconcile()
			if tt.name != "never registered" {
				tok := h.register("node-0001", "i-0001")
				h.heartbeat(tok, "node-0001", "i-0001", 1)
			}
			tt.break_(h)
			h.reconcile()
			st := h.states()
			if _, ok := st["node-0001"]; ok {
				t.Fatalf("lost node still there: %v", st)
			}
			if st["node-0002"] != string(policy.NodeBooting) {
				t.Fatalf("no replacement: %v", st)
			}
		})
	}
}

func TestInterruptedNodeIsReplacedAtOnce(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile()
	tok := h.register("node-0001", "i-0001")
	h.heartbeat(tok, "node-0001", "i-0001", 1, fleetapi.ConditionInterrupted)
	h.reconcile()
	st := h.states()
	if st["node-0001"] != string(policy.NodeDraining) || st["node-0002"] != string(policy.NodeBooting) {
		t.Fatalf("states %v", st)
	}
}

func TestRestartLosesNothing(t *testing.T) {
	h := newHarness(t)
	h.demand.set(5)
	h.reconcile() // 3 launched
	tok := h.register("node-0001", "i-0001")
	h.start() // control plane restarts mid scale-up
	if n := len(h.cp.Status().Nodes); n != 3 {
		t.Fatalf("%d nodes after restart, want 3", n)
	}
	h.reconcile()
	if n := h.prov.count(); n != 3 {
		t.Fatalf("%d instances after restart: double launch", n)
	}
	h.heartbeat(tok, "node-0001", "i-0001", 2) // the old node token still works
	h.register("node-0002", "i-0002")          // booting nodes can still join
	if h.countState(policy.NodeReady) != 2 {
		t.Fatalf("states %v", h.states())
	}
}

func TestAdoptsUnrecordedInstances(t *testing.T) {
	h := newHarness(t)
	// An instance the store never heard of (the control plane died between
	// launch and saving it) but labelled for this fleet.
	h.prov.Launch(context.Background(), providerReq(1))
	h.reconcile()
	if st := h.states(); st["node-0001"] != string(policy.NodeBooting) {
		t.Fatalf("not adopted: %v", st)
	}
	// Its bootstrap token's hash was lost with the record: the join token
	// alone admits it no more than a stranger. It stays Booting (and is
	// replaced after the boot timeout).
	if code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001",
		Identity: h.identity("i-0001")}); code != http.StatusServiceUnavailable {
		t.Fatalf("adopted node without a known bootstrap token registered: %d %s", code, body)
	}
	// A provider whose instances carry signed identities adopts and admits it.
	restartWith(h, iidProvider{h.prov, newVerifying()})
	h.register("node-0001", "i-0001")
}

func TestNodesDyingBeforeRegisteringHoldLaunches(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile()
	h.prov.kill("i-0001") // a broken image: the container exits at once
	h.reconcile()         // replaced? not yet: launches are held back
	if _, ok := h.states()["node-0002"]; ok {
		t.Fatalf("relaunched at once: crash loop: %v", h.states())
	}
	h.clock.Add(3 * time.Second)
	h.reconcile()
	if h.states()["node-0002"] != string(policy.NodeBooting) {
		t.Fatalf("no relaunch after the backoff: %v", h.states())
	}
}
