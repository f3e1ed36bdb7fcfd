package controlplane_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// slowLauncher is a provider whose Launch starts its instances (List sees
// them, their agents run) and then does not return until the test lets
// it: the window in which early nodes of a batch register.
type slowLauncher struct {
	*fakeProvider
	verifying               // its nodes prove themselves with signed documents, as on EC2
	created   chan struct{} // closed once the first instances exist
	once      sync.Once
	release   chan struct{} // Launch returns once this is closed
}

func (s *slowLauncher) Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	insts, err := s.fakeProvider.Launch(ctx, req)
	s.once.Do(func() { close(s.created) })
	select {
	case <-s.release:
		return insts, err
	case <-ctx.Done():
		return insts, ctx.Err()
	}
}

// eachLauncher reports each node through LaunchEach's callback before it
// "starts"; failAt makes that node fail to start (it is not returned).
type eachLauncher struct {
	*fakeProvider
	failAt  int
	created chan struct{}
	once    sync.Once
	release chan struct{}
}

func (e *eachLauncher) LaunchEach(ctx context.Context, req provider.LaunchRequest, started func(provider.Instance)) ([]provider.Instance, error) {
	var out []provider.Instance
	var err error
	for i := range req.Count {
		one := req
		one.Count = 1
		ins, _ := e.fakeProvider.Launch(ctx, one)
		started(ins[0])
		if i+1 == e.failAt {
			e.fakeProvider.Terminate(ctx, ins[0].ProviderID)
			err = fmt.Errorf("start %s: boom", ins[0].Name)
			continue
		}
		out = append(out, ins[0])
	}
	e.once.Do(func() { close(e.created) })
	select {
	case <-e.release:
		return out, err
	case <-ctx.Done():
		return out, ctx.Err()
	}
}

// launchInBackground runs a reconcile (which launches) and returns a
// channel closed when it is done. The reconcile's context ends with the
// test, so a launcher still held then returns.
func launchInBackground(h *harness) chan struct{} {
	done := make(chan struct{})
	ctx := h.t.Context()
	go func() {
		defer close(done)
		h.cp.Reconcile(ctx)
	}()
	return done
}

// waitClosed waits for ch to close or fails the test, naming what it
// waited for.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out after 10s waiting for %s", what)
	}
}

func TestNodeRegisteringBeforeLaunchReturnsIsAccepted(t *testing.T) {
	h := newHarness(t)
	slow := &slowLauncher{fakeProvider: h.prov, verifying: newVerifying(), created: make(chan struct{}), release: make(chan struct{})}
	restartWith(h, slow)
	h.demand.set(6) // 3 nodes of 2 slots
	done := launchInBackground(h)
	waitClosed(t, slow.created, "the provider's Launch to create the first instances")
	// The first node's agent registers while Launch is still running.
	tok := h.register("node-0001", "i-0001")
	// A stranger is still turned away, as is a known id under another name.
	for _, req := range []fleetapi.RegisterRequest{{Name: "evil", ProviderID: "i-9999"}, {Name: "evil", ProviderID: "i-0002"}} {
		if code, body := h.post(fleetapi.PathRegister, joinToken, req); code != http.StatusForbidden {
			t.Errorf("stranger %+v: %d %s, want 403", req, code, body)
		}
	}
	close(slow.release)
	waitClosed(t, done, "the reconcile to return once Launch was released")
	st := h.states()
	want := map[string]string{"node-0001": "Ready", "node-0002": "Booting", "node-0003": "Booting"}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", st, want)
	}
	h.heartbeat(tok, "node-0001", "i-0001", 0)
	// The store holds the registered record, not the launch's Booting one.
	restartWith(h, slow)
	if got := h.states()["node-0001"]; got != string(policy.NodeReady) {
		t.Fatalf("after a restart node-0001 is %q, want Ready", got)
	}
	h.heartbeat(tok, "node-0001", "i-0001", 0)
}

func TestEachLauncherNodesShowAtOnce(t *testing.T) {
	h := newHarness(t)
	each := &eachLauncher{fakeProvider: h.prov, failAt: 2, created: make(chan struct{}), release: make(chan struct{})}
	one := pool
	one.Offerings = []policy.Offering{spotA} // so the 2 nodes are one batch
	h.tweak = func(o *controlplane.Options) { o.Provider, o.Pools = each, []policy.Pool{one} }
	h.start()
	h.demand.set(4)
	done := launchInBackground(h)
	waitClosed(t, each.created, "the provider's LaunchEach to report its nodes")
	// Before Launch returned: every reported node is listed as Booting.
	st := h.states()
	want := map[string]string{"node-0001": "Booting", "node-0002": "Booting"}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("states during the launch %v, want %v", st, want)
	}
	h.register("node-0001", "i-0001")
	close(each.release)
	waitClosed(t, done, "the reconcile to return once Launch was released")
	// node-0002 failed to start: forgotten.
	st = h.states()
	want = map[string]string{"node-0001": "Ready"}
	if fmt.Sprint(st) != fmt.Sprint(want) {
		t.Fatalf("states after the launch %v, want %v", st, want)
	}
	if code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "node-0002", ProviderID: "i-0002"}); code != http.StatusForbidden {
		t.Errorf("the failed node registered: %d %s", code, body)
	}
}

// restartWith restarts the control plane on the same store with prov.
func restartWith(h *harness, prov controlplane.Provider) {
	h.tweak = func(o *controlplane.Options) { o.Provider = prov }
	h.start()
}
