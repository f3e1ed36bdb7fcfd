package fleet

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/provider/aws/awstest"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
)

// runUntil runs c until the plane has seen beats more heartbeats.
func runUntil(t *testing.T, c *Client, p *fakePlane, beats int) {
	t.Helper()
	p.mu.Lock()
	beats += len(p.beats)
	p.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p.mu.Lock()
		n := len(p.beats)
		p.mu.Unlock()
		if n >= beats {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %d heartbeats, saw %d", beats, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out after 10s waiting for Client.Run to return after its context ended")
	}
}

// TestNodeTokenBoundToBoot: after a restart in the same boot the agent
// keeps its node token; after the machine was stopped and started (a
// warm pool instance) it registers fresh.
func TestNodeTokenBoundToBoot(t *testing.T) {
	p := &fakePlane{}
	srv := newPlaneServer(t, p)
	tokFile := filepath.Join(t.TempDir(), "node-token")
	client := func(boot string) *Client {
		c, err := New(Options{URL: srv, JoinToken: "join", NodeTokenFile: tokFile, Name: "n1", ProviderID: "i-1",
			Agent: &fakeAgent{st: runner.Status{Slots: 1}}, Interval: time.Millisecond,
			BootID: func() (string, error) { return boot + "\n", nil }})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	runUntil(t, client("boot-1"), p, 2)
	if b, err := os.ReadFile(tokFile + ".boot"); err != nil || string(b) != "boot-1\n" {
		t.Fatalf("boot file %q, %v", b, err)
	}
	if fi, err := os.Stat(tokFile + ".boot"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("boot file mode %v, %v", fi, err)
	}
	// The agent restarts in the same boot: same token, no registration.
	runUntil(t, client("boot-1"), p, 2)
	if n := registers(p); n != 1 {
		t.Errorf("%d registrations after a restart in the same boot, want 1", n)
	}
	// Stopped and started: a new boot, a fresh registration.
	runUntil(t, client("boot-2"), p, 2)
	if n := registers(p); n != 2 {
		t.Errorf("%d registrations after a new boot, want 2", n)
	}
	if b, _ := os.ReadFile(tokFile); string(b) != "node-tok-2\n" {
		t.Errorf("stored token %q", b)
	}
	if b, _ := os.ReadFile(tokFile + ".boot"); string(b) != "boot-2\n" {
		t.Errorf("boot file %q", b)
	}
}

func newPlaneServer(t *testing.T, p *fakePlane) string {
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func registers(p *fakePlane) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.registers
}

// instantClock fires every timer at once (the warm pool poll of 5 s).
type instantClock struct{}

func (instantClock) Now() time.Time { return time.Now() }

func (instantClock) NewTimer(time.Duration) clock.Timer {
	c := make(chan time.Time, 1)
	c <- time.Now()
	return instantTimer{c}
}

type instantTimer struct{ c chan time.Time }

func (t instantTimer) C() <-chan time.Time    { return t.c }
func (instantTimer) Stop() bool               { return true }
func (instantTimer) Reset(time.Duration) bool { return true }

// TestWarmPoolInstanceJoinsOnceInService: while its Auto Scaling
// lifecycle state is Warmed:* (preparing in, or waiting in, a warm pool)
// the agent does not register; once InService it does.
func TestWarmPoolInstanceJoinsOnceInService(t *testing.T) {
	signer, err := awstest.NewIdentitySigner()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	asked, regsWhileWarm := 0, 0
	p := &fakePlane{}
	states := []string{"Warmed:Pending", "Warmed:Pending:Wait", "Warmed:Stopped"}
	lifecycle := func() string {
		mu.Lock()
		defer mu.Unlock()
		asked++
		if asked <= len(states) {
			regsWhileWarm += registers(p)
			return states[asked-1]
		}
		return "InService"
	}
	doc := awstest.NewIdentityDocument("111122223333", "eu-west-1", "eu-west-1a", "i-0warm", "m7i.large", time.Now())
	imds := httptest.NewServer(signer.IMDSInGroup(doc, lifecycle))
	t.Cleanup(imds.Close)
	c, err := New(Options{URL: newPlaneServer(t, p), JoinToken: "join", NodeTokenFile: filepath.Join(t.TempDir(), "node-token"),
		Name: "i-0warm", ProviderID: "i-0warm", Agent: &fakeAgent{st: runner.Status{Slots: 1}}, Interval: time.Millisecond,
		Identity: NewEC2Identity(imds.URL), Clock: instantClock{}})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, c, p, 1)
	mu.Lock()
	defer mu.Unlock()
	if asked < len(states)+1 || regsWhileWarm != 0 || registers(p) != 1 {
		t.Errorf("lifecycle asked %d times, %d registrations while warm, %d in all: want %d+, 0, 1", asked, regsWhileWarm, registers(p), len(states)+1)
	}

	// An instance in no group (404) registers at once.
	plain := httptest.NewServer(signer.IMDS(doc))
	t.Cleanup(plain.Close)
	if st, err := NewEC2Identity(plain.URL).LifecycleState(t.Context()); err != nil || st != "" {
		t.Errorf("lifecycle state outside a group: %q, %v", st, err)
	}
}
