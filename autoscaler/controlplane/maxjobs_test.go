package controlplane_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// TestRegisterCarriesMaxJobs: a node learns its pool's max_jobs_per_node
// when it registers (it stops taking jobs itself once it started that
// many, before any drain arrives); a pool without a cap sends none.
func TestRegisterCarriesMaxJobs(t *testing.T) {
	tests := []struct {
		name    string
		maxJobs int
	}{
		{"single-use pool", 1},
		{"three jobs per node", 3},
		{"no cap", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{t: t, dbPath: t.TempDir() + "/fleet.db", demand: &fakeDemand{},
				clock: &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}}
			h.prov = newFakeProvider(h.clock.Now)
			h.tweak = func(o *controlplane.Options) {
				o.Pools[0].MaxJobsPerNode = tt.maxJobs
			}
			h.start()
			h.demand.set(1)
			h.reconcile() // launches node-0001 / i-0001
			code, body := h.post(fleetapi.PathRegister, joinToken, fleetapi.RegisterRequest{Name: "node-0001", ProviderID: "i-0001",
				Capacity: fleetapi.Capacity{Slots: 2}, Identity: h.identity("i-0001")})
			if code != http.StatusOK {
				t.Fatalf("register: %d %s", code, body)
			}
			var r fleetapi.RegisterResponse
			if err := json.Unmarshal(body, &r); err != nil || r.NodeToken == "" {
				t.Fatalf("register answer %s: %v", body, err)
			}
			if r.MaxJobs != tt.maxJobs {
				t.Errorf("max_jobs %d in %s, want %d", r.MaxJobs, body, tt.maxJobs)
			}
		})
	}
}
