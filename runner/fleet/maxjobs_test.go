package fleet

import (
	"context"
	"slices"
	"testing"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/runner"
)

// TestMaxJobsSelfDrain: the pool's max_jobs_per_node learnt at
// registration caps the agent's jobs; once the agent cordons itself as
// Draining after its last job, heartbeats report Draining and the node
// leaves once idle, as on the control plane's drain. A pool without a cap
// sets none.
func TestMaxJobsSelfDrain(t *testing.T) {
	tests := []struct {
		name    string
		maxJobs int
	}{
		{"single-use pool", 1},
		{"two jobs per node", 2},
		{"no cap", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakePlane{maxJobs: tt.maxJobs}
			a := &fakeAgent{st: runner.Status{Slots: 2, Busy: 1}}
			exited := false
			c, _ := newClient(t, p, a, func() { exited = true })
			ctx := context.Background()
			if err := c.register(ctx); err != nil {
				t.Fatal(err)
			}
			wantWhy := fleetapi.ConditionDraining
			if tt.maxJobs == 0 {
				wantWhy = ""
			}
			if a.maxJobs != tt.maxJobs || a.maxWhy != wantWhy {
				t.Fatalf("agent limited to %d jobs (%q), want %d (%q)", a.maxJobs, a.maxWhy, tt.maxJobs, wantWhy)
			}
			if tt.maxJobs == 0 {
				return
			}
			// The last job started: the agent cordoned itself; the job runs.
			a.Cordon(fleetapi.ConditionDraining)
			if err := c.Beat(ctx); err != nil {
				t.Fatal(err)
			}
			last := p.beats[len(p.beats)-1]
			if exited || !slices.Contains(last.Conditions, fleetapi.Condition{Type: fleetapi.ConditionDraining}) || last.Busy != 1 {
				t.Fatalf("heartbeat %+v (exited %v), want Draining with the job running", last, exited)
			}
			a.mu.Lock()
			a.st.Busy = 0
			a.mu.Unlock()
			if err := c.Beat(ctx); err != nil {
				t.Fatal(err)
			}
			if !exited {
				t.Errorf("the self-drained node did not leave once idle")
			}
		})
	}
}
