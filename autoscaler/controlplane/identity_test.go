package controlplane_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// twoNodes launches node-0001/i-0001 and node-0002/i-0002 (Booting).
func twoNodes(t *testing.T, h *harness) {
	t.Helper()
	one := pool
	one.Offerings = []policy.Offering{spotA}
	h.tweak = func(o *controlplane.Options) { o.Pools = []policy.Pool{one} }
	h.start()
	h.demand.set(4)
	h.reconcile()
	if st := h.states(); len(st) != 2 {
		t.Fatalf("launched %v, want 2 nodes", st)
	}
}

func (h *harness) registerAs(name, pid string, id fleetapi.Identity) (int, string) {
	h.t.Helper()
	code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: name, ProviderID: pid,
		Capacity: fleetapi.Capacity{Slots: 2}, Identity: id})
	return code, string(body)
}

// TestRegisterCannotPoseAsAnotherNode: a node holding the join token (and
// its own proof) cannot register under another node's name and provider
// id, with either kind of proof.
func TestRegisterCannotPoseAsAnotherNode(t *testing.T) {
	t.Run("bootstrap tokens", func(t *testing.T) {
		h := newHarness(t)
		twoNodes(t, h)
		mine := fleetapi.Identity{BootstrapToken: h.prov.bootToken("i-0001")}
		for name, id := range map[string]fleetapi.Identity{
			"with its own bootstrap token": mine,
			"with no proof":                {},
			"with a made-up token":         {BootstrapToken: "rfb_guess"},
		} {
			if code, body := h.registerAs("node-0002", "i-0002", id); code != http.StatusForbidden {
				t.Fatalf("node-0001 posing as node-0002 %s: %d %s, want 403", name, code, body)
			}
		}
		if got := testutil.ToFloat64(authFailures(h.reg, "identity")); got != 3 {
			t.Errorf("auth failures{reason=identity} = %v, want 3", got)
		}
		// node-0002 itself still registers; node-0001 still can.
		h.register("node-0002", "i-0002")
		h.register("node-0001", "i-0001")
	})
	t.Run("signed identity documents", func(t *testing.T) {
		h := newHarness(t)
		restartWith(h, iidProvider{h.prov, newVerifying()})
		// Instances that appear only in the provider's list (an Auto
		// Scaling group launched them): no bootstrap token, only IIDs.
		h.prov.Launch(t.Context(), providerReq(2))
		h.reconcile()
		mine := signedIdentity("i-0001")
		forged := signedIdentity("i-0002")
		forged.Signature = mine.Signature // the other's document with my signature
		for name, id := range map[string]fleetapi.Identity{
			"with its own signed document": mine,
			"with a re-signed document":    forged,
			"with no document":             {},
		} {
			if code, body := h.registerAs("node-0002", "i-0002", id); code != http.StatusForbidden {
				t.Fatalf("node-0001 posing as node-0002 %s: %d %s, want 403", name, code, body)
			}
		}
		h.register("node-0002", "i-0002")
	})
}

// TestBootstrapTokenIsOneTime: a bootstrap token admits one registration;
// a replay is refused and does not revoke the node's token.
func TestBootstrapTokenIsOneTime(t *testing.T) {
	h := newHarness(t)
	twoNodes(t, h)
	tok := h.register("node-0001", "i-0001")
	used := fleetapi.Identity{BootstrapToken: h.prov.bootToken("i-0001")}
	if code, body := h.registerAs("node-0001", "i-0001", used); code != http.StatusForbidden {
		t.Fatalf("replayed bootstrap token: %d %s, want 403", code, body)
	}
	h.heartbeat(tok, "node-0001", "i-0001", 0) // the node's own token still works
	// The store keeps the token used: a restarted control plane refuses it too.
	h.start()
	if code, body := h.registerAs("node-0001", "i-0001", used); code != http.StatusForbidden {
		t.Fatalf("replayed bootstrap token after a restart: %d %s, want 403", code, body)
	}
	h.heartbeat(tok, "node-0001", "i-0001", 0)
}

// TestHeartbeatCannotPoseAsAnotherNode: a node token speaks for its own
// node only; another node cannot report it Interrupted or idle.
func TestHeartbeatCannotPoseAsAnotherNode(t *testing.T) {
	h := newHarness(t)
	twoNodes(t, h)
	tokA := h.register("node-0001", "i-0001")
	tokB := h.register("node-0002", "i-0002")
	h.heartbeat(tokB, "node-0002", "i-0002", 2)
	for _, hb := range []fleetapi.Heartbeat{
		{Name: "node-0002", ProviderID: "i-0002", Slots: 2, Conditions: []fleetapi.Condition{{Type: fleetapi.ConditionInterrupted}}},
		{Name: "node-0002", ProviderID: "i-0001", Slots: 2},
		{Name: "node-0001", ProviderID: "i-0002", Slots: 2},
	} {
		if code, body := h.post(fleetapi.PathHeartbeat, tokA, hb); code != http.StatusForbidden {
			t.Fatalf("node-0001's token for %s/%s: %d %s, want 403", hb.Name, hb.ProviderID, code, body)
		}
	}
	h.reconcile()
	for _, n := range h.cp.Status().Nodes {
		if n.Name == "node-0002" && (n.State != string(policy.NodeReady) || n.Busy != 2 || len(n.Conditions) != 0) {
			t.Fatalf("node-0002 changed by another node's heartbeat: %+v", n)
		}
	}
}

// TestRegisterAgainRevokesEarlierToken: a registration revokes the node's
// earlier tokens, in memory and in the store.
func TestRegisterAgainRevokesEarlierToken(t *testing.T) {
	h := newHarness(t)
	restartWith(h, iidProvider{h.prov, newVerifying()})
	h.demand.set(1)
	h.reconcile()
	old := h.register("node-0001", "i-0001")
	cur := h.register("node-0001", "i-0001")
	hb := fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001", Slots: 2}
	if code, body := h.post(fleetapi.PathHeartbeat, old, hb); code != http.StatusUnauthorized {
		t.Fatalf("old token after a new registration: %d %s, want 401", code, body)
	}
	h.heartbeat(cur, "node-0001", "i-0001", 0)
	restartWith(h, iidProvider{h.prov, newVerifying()})
	if code, body := h.post(fleetapi.PathHeartbeat, old, hb); code != http.StatusUnauthorized {
		t.Fatalf("old token after a restart: %d %s, want 401", code, body)
	}
	h.heartbeat(cur, "node-0001", "i-0001", 0)
}

// TestReportedSlotsAreCapped: a node cannot claim more slots (or busy
// slots) than its pool gives a node.
func TestReportedSlotsAreCapped(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile()
	code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001",
		Capacity: fleetapi.Capacity{Slots: 500}, Identity: h.identity("i-0001")})
	if code != http.StatusOK {
		t.Fatalf("register: %d %s", code, body)
	}
	var r fleetapi.RegisterResponse
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	slots := func() (int, int) {
		for _, n := range h.cp.Status().Nodes {
			if n.Name == "node-0001" {
				return n.Slots, n.Busy
			}
		}
		t.Fatal("node-0001 gone")
		return 0, 0
	}
	if s, _ := slots(); s != pool.SlotsPerNode {
		t.Fatalf("registered with 500 slots: %d, want the pool's %d", s, pool.SlotsPerNode)
	}
	if code, body := h.post(fleetapi.PathHeartbeat, r.NodeToken, fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001", Slots: 500, Busy: 400}); code != http.StatusOK {
		t.Fatalf("heartbeat: %d %s", code, body)
	}
	if s, b := slots(); s != pool.SlotsPerNode || b != pool.SlotsPerNode {
		t.Fatalf("heartbeat with 500/400 slots: %d/%d, want %d/%d", s, b, pool.SlotsPerNode, pool.SlotsPerNode)
	}
}

// TestFailedAuthIsRateLimitedPerSource: past its failure budget a source
// gets 429 with Retry-After; failures are counted, logged once a minute
// per source, and never hold back a request that authenticates.
func TestFailedAuthIsRateLimitedPerSource(t *testing.T) {
	h := newHarness(t)
	var logs bytes.Buffer
	h.tweak = func(o *controlplane.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }
	h.start()
	h.demand.set(1)
	h.reconcile()
	tok := h.register("node-0001", "i-0001")
	bad := fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001"}
	codes := map[int]int{}
	for range 30 {
		code, _ := h.post(fleetapi.PathRegister, "wrong", bad)
		codes[code]++
	}
	if codes[http.StatusUnauthorized] != 20 || codes[http.StatusTooManyRequests] != 10 {
		t.Fatalf("30 wrong join tokens answered %v, want 20×401 then 10×429", codes)
	}
	if got := testutil.ToFloat64(authFailures(h.reg, "join_token")); got != 30 {
		t.Errorf("auth failures{reason=join_token} = %v, want 30", got)
	}
	if n := strings.Count(logs.String(), "wrong join token"); n != 1 {
		t.Errorf("%d log lines for 30 failures from one source, want 1:\n%s", n, logs.String())
	}
	// Retry-After is set; a source past its budget gets no identity check.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+fleetapi.PathRegister, strings.NewReader("{}"))
	req.Header.Set("Authorization", "Bearer "+joinToken)
	req.Header.Set("Content-Type", fleetapi.ContentType)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("register from a throttled source: %d Retry-After=%q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// The node on the same address still heartbeats.
	h.heartbeat(tok, "node-0001", "i-0001", 0)
	// The budget refills with time.
	h.clock.Add(10 * time.Second)
	if code, _ := h.post(fleetapi.PathRegister, "wrong", bad); code != http.StatusUnauthorized {
		t.Fatalf("after the budget refilled: %d, want 401", code)
	}
}

// TestTokenCheckedBeforeBody: a request with a wrong token is refused
// without the server reading its body (here a body that never ends).
func TestTokenCheckedBeforeBody(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{fleetapi.PathRegister, fleetapi.PathHeartbeat} {
		pr, pw := io.Pipe()
		defer pw.Close()
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, pr)
		req.Header.Set("Content-Type", fleetapi.ContentType)
		req.Header.Set("Authorization", "Bearer wrong")
		type answer struct {
			code int
			err  error
		}
		got := make(chan answer, 1)
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				got <- answer{0, err}
				return
			}
			resp.Body.Close()
			got <- answer{resp.StatusCode, nil}
		}()
		select {
		case a := <-got:
			if a.err != nil || a.code != http.StatusUnauthorized {
				t.Fatalf("%s with a wrong token and an endless body: %d %v, want 401", path, a.code, a.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer within 10s: the server waited for the body before checking the token", path)
		}
	}
}

// TestBootstrapTokenRace: registrations racing with one bootstrap token:
// exactly one is admitted.
func TestBootstrapTokenRace(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile()
	id := fleetapi.Identity{BootstrapToken: h.prov.bootToken("i-0001")}
	const n = 8
	codes := make(chan int, n)
	for range n {
		go func() {
			code, _ := h.registerAs("node-0001", "i-0001", id)
			codes <- code
		}()
	}
	ok := 0
	for range n {
		select {
		case c := <-codes:
			if c == http.StatusOK {
				ok++
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a registration did not answer within 30s")
		}
	}
	if ok != 1 {
		t.Fatalf("%d of %d racing registrations with one bootstrap token admitted, want exactly 1", ok, n)
	}
}

// TestConcurrentRegistrationsLeaveOneToken: of concurrent registrations
// of one node, only the last token issued works, before and after a
// restart (memory and store agree).
func TestConcurrentRegistrationsLeaveOneToken(t *testing.T) {
	h := newHarness(t)
	restartWith(h, iidProvider{h.prov, newVerifying()})
	h.demand.set(1)
	h.reconcile()
	first := h.register("node-0001", "i-0001") // uses the bootstrap token; later ones prove by document
	const n = 8
	toks := make(chan string, n)
	for range n {
		go func() {
			code, body := h.registerAs("node-0001", "i-0001", signedIdentity("i-0001"))
			var r fleetapi.RegisterResponse
			if code == http.StatusOK && json.Unmarshal([]byte(body), &r) == nil {
				toks <- r.NodeToken
				return
			}
			t.Logf("register: %d %s", code, body)
			toks <- ""
		}()
	}
	all := []string{first}
	for range n {
		select {
		case tok := <-toks:
			all = append(all, tok)
		case <-time.After(30 * time.Second):
			t.Fatal("a registration did not answer within 30s")
		}
	}
	hb := fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001", Slots: 2}
	valid := func() []string {
		var out []string
		for _, tok := range all {
			if code, _ := h.post(fleetapi.PathHeartbeat, tok, hb); code == http.StatusOK {
				out = append(out, tok)
			}
		}
		return out
	}
	before := valid()
	if len(before) != 1 {
		t.Fatalf("%d tokens valid after %d concurrent registrations, want 1", len(before), n)
	}
	restartWith(h, iidProvider{h.prov, newVerifying()})
	if after := valid(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("after a restart the valid tokens are %d (same: %v), want the same single one", len(after), len(after) == 1 && after[0] == before[0])
	}
}
