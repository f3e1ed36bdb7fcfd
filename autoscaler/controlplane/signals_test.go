package controlplane_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// warmFake is the fake provider with a warm pool per pool: FillWarm sets
// its size, a warm launch takes from it first.
type warmFake struct {
	*fakeProvider
	warm  map[string]int
	fills []int
}

func (w *warmFake) Warm(_ context.Context, pool string) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.warm[pool], nil
}

func (w *warmFake) FillWarm(_ context.Context, req provider.LaunchRequest, size int) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if req.Offering.Spot || req.Bootstrap.JoinToken == "" {
		return w.warm[req.Pool], nil // a fake that accepts a spot warm pool proves nothing
	}
	w.warm[req.Pool] = size
	w.fills = append(w.fills, size)
	return size, nil
}

func (w *warmFake) Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error) {
	if req.Kind == policy.LaunchWarm {
		w.mu.Lock()
		w.warm[req.Pool] -= min(req.Count, w.warm[req.Pool])
		w.mu.Unlock()
	}
	return w.fakeProvider.Launch(ctx, req)
}

// fixedForecast expects n jobs with the pool's labels after a warm start
// (15 s) and within a cold boot.
type fixedForecast struct{ n float64 }

func (f fixedForecast) Expected(_ time.Time, hs []time.Duration) []policy.ExpectedJobs {
	var out []policy.ExpectedJobs
	for _, h := range hs {
		if h > 15*time.Second {
			out = append(out, policy.ExpectedJobs{Labels: []string{"linux"}, Within: h, Count: f.n})
		}
	}
	return out
}

func (f fixedForecast) Error() (float64, int) { return 0.25, 4 }

func warmPool() policy.Pool {
	p := pool
	p.BootTime, p.WarmStartTime = 45*time.Second, 15*time.Second
	p.WarmPool = &policy.WarmPool{MinSize: 2, MaxSize: 3, State: policy.WarmStopped, Offering: odA}
	return p
}

func TestWarmPoolAndForecastInTheLoop(t *testing.T) {
	h := newHarness(t)
	wf := &warmFake{fakeProvider: h.prov, warm: map[string]int{}}
	fc := &fixedForecast{}
	h.tweak = func(o *controlplane.Options) {
		o.Provider, o.Pools, o.Forecaster = wf, []policy.Pool{warmPool()}, fc
	}
	h.start()

	// Quiet: the warm pool is filled to its minimum, nothing launched.
	h.reconcile()
	if wf.warm["linux"] != 2 || len(h.prov.launches) != 0 {
		t.Fatalf("warm %d, launches %+v", wf.warm["linux"], h.prov.launches)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_warm_pool_nodes", "linux"); v != 2 {
		t.Errorf("warm pool gauge %v", v)
	}

	// A queued job cannot wait for a cold boot: a warm node starts, and
	// the pool is refilled.
	h.demand.set(1)
	h.reconcile()
	if len(h.prov.launches) != 1 || h.prov.launches[0].Kind != policy.LaunchWarm || h.prov.launches[0].Offering != odA {
		t.Fatalf("launches %+v", h.prov.launches)
	}
	if wf.warm["linux"] != 2 || len(wf.fills) != 2 {
		t.Errorf("warm pool %d after fills %v", wf.warm["linux"], wf.fills)
	}

	// The forecast announces 6 jobs after a warm start but within a cold
	// boot: 7 slots are wanted, 4 nodes; one is booting, the 2 warm ones
	// will start in time later, one spot node boots cold now.
	fc.n = 6
	h.demand.set(1)
	h.reconcile()
	cold := 0
	for _, l := range h.prov.launches[1:] {
		if l.Kind == policy.LaunchWarm || !l.Offering.Spot {
			t.Errorf("forecast demand launched %+v, want cold spot", l)
		}
		cold += l.Count
	}
	if cold != 1 {
		t.Errorf("%d cold nodes, want 1", cold)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_forecast_expected_jobs", "linux"); v != 6 {
		t.Errorf("expected-jobs gauge %v", v)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_forecast_error_ratio"); v != 0.25 {
		t.Errorf("forecast error gauge %v", v)
	}
	if v := counterValue(t, h, "runfleet_fleet_launches_total", "warm", "linux"); v != 1 {
		t.Errorf("warm launches %v", v)
	}
	if v := counterValue(t, h, "runfleet_fleet_launches_total", "cold", "linux"); v != 1 {
		t.Errorf("cold launches %v", v)
	}
}

func TestJobWaitPhases(t *testing.T) {
	h := newHarness(t)
	h.demand.set(1)
	h.reconcile() // launches a node for the queued job
	queued := h.clock.Now()
	// The node boots for 40 s, registers and reports a free slot.
	h.clock.Add(40 * time.Second)
	var id string
	for k := range h.prov.insts {
		id = k
	}
	tok := h.register("node-0001", id)
	h.heartbeat(tok, "node-0001", id, 0)
	h.reconcile()
	started := h.clock.Now().Add(3 * time.Second)
	if got := h.cp.PoolFor([]string{"linux"}); got != "linux" {
		t.Fatalf("pool for linux: %q", got)
	}
	h.cp.ObserveJobStarted("linux", queued, started)
	sums := histSums(t, h, "runfleet_fleet_job_wait_seconds")
	if sums[controlplane.PhaseCapacity] != 40 || sums[controlplane.PhaseStart] != 3 || sums[controlplane.PhaseTotal] != 43 {
		t.Errorf("wait phases %v, want 40 s to capacity, 3 s to start, 43 s in all", sums)
	}
}

// series finds the metric of family name with the label values (in the
// order of the label names), in the harness's registry.
func series(t *testing.T, h *harness, name string, values ...string) *dto.Metric {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(values) {
				continue
			}
			for i, l := range m.GetLabel() {
				if l.GetValue() != values[i] {
					continue next
				}
			}
			return m
		}
	}
	t.Fatalf("no series %s%v", name, values)
	return nil
}

func gaugeValue(t *testing.T, h *harness, name string, values ...string) float64 {
	return series(t, h, name, values...).GetGauge().GetValue()
}

func counterValue(t *testing.T, h *harness, name string, values ...string) float64 {
	return series(t, h, name, values...).GetCounter().GetValue()
}

// histSums is the sum of each phase's histogram.
func histSums(t *testing.T, h *harness, name string) map[string]float64 {
	out := map[string]float64{}
	for _, phase := range []string{controlplane.PhaseCapacity, controlplane.PhaseStart, controlplane.PhaseTotal} {
		out[phase] = series(t, h, name, phase).GetHistogram().GetSampleSum()
	}
	return out
}

func TestPrivilegedPool(t *testing.T) {
	h := newHarness(t)
	var logs strings.Builder
	priv := pool
	priv.AllowPrivileged = true
	h.tweak = func(o *controlplane.Options) {
		o.Pools = []policy.Pool{priv}
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	}
	h.start()
	if !strings.Contains(logs.String(), "PRIVILEGED JOBS ON REUSED NODES") {
		t.Errorf("no loud warning for a privileged pool of reused nodes: %s", logs.String())
	}
	h.demand.set(1)
	h.reconcile()
	if len(h.prov.launches) == 0 || !h.prov.launches[0].Bootstrap.Privileged {
		t.Fatalf("launches %+v: want the privileged bootstrap", h.prov.launches)
	}
	logs.Reset()
	priv.MaxJobsPerNode = 1
	h.start()
	if strings.Contains(logs.String(), "PRIVILEGED") {
		t.Errorf("a single-use privileged pool warned: %s", logs.String())
	}
}
