package fleet

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner"
)

// runUntil runs c until the plane has seen beats heartbeats.
func runUntil(t *testing.T, c *Client, p *fakePlane, beats int) {
	t.Helper()
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
	<-done
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
	runUntil(t, client("boot-1"), p, 4)
	if n := registers(p); n != 1 {
		t.Errorf("%d registrations after a restart in the same boot, want 1", n)
	}
	// Stopped and started: a new boot, a fresh registration.
	runUntil(t, client("boot-2"), p, 6)
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
