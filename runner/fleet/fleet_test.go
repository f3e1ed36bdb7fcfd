package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner"
)

type fakeAgent struct {
	mu       sync.Mutex
	st       runner.Status
	cordoned []string
	aborted  bool
	maxJobs  int
	maxWhy   string
}

func (a *fakeAgent) Status() runner.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	st.Conditions = append([]string(nil), a.cordoned...)
	return st
}
func (a *fakeAgent) Cordon(r string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cordoned) == 0 {
		a.cordoned = append(a.cordoned, r)
	}
}
func (a *fakeAgent) AbortJobsAt(time.Time) { a.mu.Lock(); a.aborted = true; a.mu.Unlock() }
func (a *fakeAgent) LimitJobs(n int, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.maxJobs, a.maxWhy = n, reason
}

// fakePlane answers register and heartbeat; cmds are sent on every beat.
type fakePlane struct {
	mu         sync.Mutex
	registers  int
	beats      []fleetapi.Heartbeat
	cmds       []fleetapi.Command
	valid      string
	rejectNext bool
	lastReg    fleetapi.RegisterRequest
	maxJobs    int // sent at registration
}

func (p *fakePlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	auth := r.Header.Get("Authorization")
	switch r.URL.Path {
	case fleetapi.PathRegister:
		if auth != "Bearer join" {
			w.WriteHeader(401)
			return
		}
		p.registers++
		json.NewDecoder(r.Body).Decode(&p.lastReg)
		p.valid = "node-tok-" + string(rune('0'+p.registers))
		json.NewEncoder(w).Encode(fleetapi.RegisterResponse{NodeToken: p.valid, HeartbeatIntervalSeconds: 1, MaxJobs: p.maxJobs})
	case fleetapi.PathHeartbeat:
		if auth != "Bearer "+p.valid || p.rejectNext {
			p.rejectNext = false
			w.WriteHeader(401)
			json.NewEncoder(w).Encode(fleetapi.Error{Error: "invalid node token"})
			return
		}
		var hb fleetapi.Heartbeat
		json.NewDecoder(r.Body).Decode(&hb)
		p.beats = append(p.beats, hb)
		json.NewEncoder(w).Encode(fleetapi.HeartbeatResponse{Commands: p.cmds})
	}
}

func newClient(t *testing.T, p *fakePlane, a *fakeAgent, exit func()) (*Client, string) {
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tokFile := filepath.Join(t.TempDir(), "sub", "node-token")
	c, err := New(Options{URL: srv.URL, JoinToken: "join", NodeTokenFile: tokFile, Name: "n1", ProviderID: "p1",
		Agent: a, Exit: exit, Interval: time.Millisecond, Token: NewNodeToken()})
	if err != nil {
		t.Fatal(err)
	}
	return c, tokFile
}

func TestCommands(t *testing.T) {
	tests := []struct {
		name      string
		cmd       fleetapi.CommandType
		busy      int
		cleaning  int
		wantExit  bool
		wantAbort bool
		wantCond  string
	}{
		{"cordon keeps running", fleetapi.CommandCordon, 1, 0, false, false, fleetapi.ConditionCordoned},
		{"drain waits for running jobs", fleetapi.CommandDrain, 1, 0, false, false, fleetapi.ConditionDraining},
		{"drain waits for the cleanups of finished jobs", fleetapi.CommandDrain, 0, 1, false, false, fleetapi.ConditionDraining},
		{"drain exits once idle", fleetapi.CommandDrain, 0, 0, true, false, fleetapi.ConditionDraining},
		{"terminate aborts and exits", fleetapi.CommandTerminate, 1, 0, true, true, fleetapi.ConditionDraining},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePlane{cmds: []fleetapi.Command{{Type: tt.cmd}}}
			a := &fakeAgent{st: runner.Status{Slots: 2, Busy: tt.busy, Cleaning: tt.cleaning}}
			exited := false
			c, tokFile := newClient(t, p, a, func() { exited = true })
			ctx := context.Background()
			if err := c.register(ctx); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(tokFile)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("token file %v %v", fi, err)
			}
			for range 3 {
				if err := c.Beat(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if exited != tt.wantExit || a.aborted != tt.wantAbort {
				t.Errorf("exited %v aborted %v", exited, a.aborted)
			}
			if got := a.Status().Conditions; len(got) != 1 || got[0] != tt.wantCond {
				t.Errorf("conditions %v", got)
			}
			last := p.beats[len(p.beats)-1]
			if last.Name != "n1" || last.ProviderID != "p1" || last.Slots != 2 || last.Busy != tt.busy || last.Cleaning != tt.cleaning {
				t.Errorf("heartbeat %+v", last)
			}
		})
	}
}

func TestRejectedTokenRegistersAgain(t *testing.T) {
	p := &fakePlane{}
	a := &fakeAgent{st: runner.Status{Slots: 1}}
	c, tokFile := newClient(t, p, a, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	rejected := false
	for {
		p.mu.Lock()
		n := len(p.beats)
		if n >= 2 && !rejected {
			p.rejectNext, rejected = true, true
		}
		regs := p.registers
		p.mu.Unlock()
		if regs >= 2 && n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registers %d beats %d", regs, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("timed out after 10s waiting for Client.Run to return after its context ended")
	}
	b, _ := os.ReadFile(tokFile)
	if string(b) != "node-tok-2\n" {
		t.Errorf("stored token %q", b)
	}
	// The holder the fleet's GitHub client shares is the client's one
	// copy of the token: it holds the token the node registered again with.
	if got := c.o.Token.current(); got != "node-tok-2" {
		t.Errorf("the shared node token holds %q, want node-tok-2", got)
	}
}

// TestNodeTokenHeldOnce: without Options.Token the client keeps the token
// in a holder of its own; with it, in that one, which the heartbeats read.
func TestNodeTokenHeldOnce(t *testing.T) {
	for _, shared := range []bool{false, true} {
		t.Run(fmt.Sprintf("shared=%t", shared), func(t *testing.T) {
			p := &fakePlane{}
			srv := httptest.NewServer(p)
			t.Cleanup(srv.Close)
			o := Options{URL: srv.URL, JoinToken: "join", NodeTokenFile: filepath.Join(t.TempDir(), "node-token"), Name: "n1", ProviderID: "p1",
				Agent: &fakeAgent{st: runner.Status{Slots: 1}}}
			if shared {
				o.Token = NewNodeToken()
			}
			c, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			if shared && c.token != o.Token {
				t.Fatal("the client keeps a token holder besides Options.Token")
			}
			ctx := t.Context()
			if err := c.register(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Beat(ctx); err != nil {
				t.Fatalf("heartbeat with the registered token: %v", err)
			}
			if shared {
				o.Token.Set("node-tok-stale") // what the holder says is what the heartbeat sends
				var se *StatusError
				if err := c.Beat(ctx); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
					t.Fatalf("heartbeat after the shared holder changed: %v, want HTTP 401", err)
				}
			}
		})
	}
}

func TestWrongJoinTokenIsRetriedNotFatal(t *testing.T) {
	p := &fakePlane{}
	c, _ := newClient(t, p, &fakeAgent{}, nil)
	c.o.JoinToken = "wrong"
	err := c.register(context.Background())
	var se *StatusError
	if err == nil || !errorsAs(err, &se) || se.Code != 401 {
		t.Fatalf("err %v", err)
	}
}

func errorsAs(err error, target **StatusError) bool { return errors.As(err, target) }
