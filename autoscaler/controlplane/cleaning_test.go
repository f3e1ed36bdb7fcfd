package controlplane_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// TestDrainedNodeCleaningIsKept: a drained node that confirmed the drain
// is not terminated while its heartbeat reports job cleanups still
// running, for at most the drain timeout from the later of the drain and
// its last job's end; an agent that reports none (one from before the
// field, too) goes at once.
func TestDrainedNodeCleaningIsKept(t *testing.T) {
	if controlplane.DefaultDrainTimeout != 10*time.Minute {
		t.Fatalf("the table assumes a 10 min drain timeout, not %s", controlplane.DefaultDrainTimeout)
	}
	type beat struct {
		advance        time.Duration // before the heartbeat
		busy, cleaning int
		terminated     bool // after the reconcile that follows
	}
	tests := []struct {
		name  string
		beats []beat
	}{
		{"no cleanups: terminated", []beat{{0, 0, 0, true}}},
		{"cleanups running: kept until they end", []beat{{0, 0, 2, false}, {time.Minute, 0, 1, false}, {time.Minute, 0, 0, true}}},
		{"within the drain timeout: kept", []beat{{0, 0, 1, false}, {9 * time.Minute, 0, 1, false}}},
		{"past the drain timeout: terminated", []beat{{0, 0, 1, false}, {9 * time.Minute, 0, 1, false}, {2 * time.Minute, 0, 1, true}}},
		{"the bound counts from the last job's end", []beat{
			{0, 1, 0, false}, {30 * time.Minute, 1, 0, false}, // a job ran on through the drain
			{time.Minute, 0, 1, false}, {9 * time.Minute, 0, 1, false}, {2 * time.Minute, 0, 1, true},
		}},
		{"a negative count is none", []beat{{0, 0, -1, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t) // DrainTimeout: the default, 10 min
			tok := h.drainedNode()
			for i, b := range tt.beats {
				h.clock.Add(b.advance)
				hb := fleetapi.Heartbeat{Name: "node-0001", ProviderID: "i-0001", Slots: 2, Busy: b.busy, Cleaning: b.cleaning,
					Conditions: []fleetapi.Condition{{Type: fleetapi.ConditionDraining}}}
				if code, body := h.post(fleetapi.PathHeartbeat, tok, hb); code != http.StatusOK {
					t.Fatalf("beat %d: heartbeat %d %s", i, code, body)
				}
				if got := h.cp.Status().Nodes[0].Cleaning; got != max(b.cleaning, 0) {
					t.Errorf("beat %d: status shows %d cleaning, want %d", i, got, max(b.cleaning, 0))
				}
				h.reconcile()
				if gone := h.prov.count() == 0; gone != b.terminated {
					t.Fatalf("beat %d (busy %d, cleaning %d): terminated %v, want %v", i, b.busy, b.cleaning, gone, b.terminated)
				}
			}
		})
	}
}
