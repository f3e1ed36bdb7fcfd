package sim

import (
	"math"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// TestCostOfSmallRuns checks Cost, WarmCost, CostRatio and the
// breakdown against costs worked out by hand. Every job arrives at t0, a
// tick; the fleet starts 10 min earlier; boots and warm starts take their
// median; the node running a job is ephemeral (billed up to the job's end).
func TestCostOfSmallRuns(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	const spotPrice, odPrice, disk = 0.04, 0.10, 0.01 // per hour
	hours := func(d time.Duration) float64 { return d.Hours() }
	spotPool := pool(0, 1, 0)
	spotPool.Offerings = []policy.Offering{spot}
	warmPool := pool(0, 1, 0)
	warmPool.Offerings = []policy.Offering{od}
	warmPool.WarmPool = &policy.WarmPool{MinSize: 1, MaxSize: 1, State: policy.WarmStopped, Offering: od}
	tests := []struct {
		name      string
		pool      policy.Pool
		boot, job time.Duration
		// cost and warm in the price unit, the breakdown in floors.
		cost, floor, warm float64
		parts             CostBreakdown
	}{
		{
			name: "one spot node, one job", pool: spotPool, boot: time.Minute, job: 10 * time.Minute,
			// Launched at t0, ready at t0+1m, done at t0+11m.
			cost: spotPrice * hours(11*time.Minute), floor: spotPrice * hours(10*time.Minute),
			parts: CostBreakdown{Jobs: 1, Boot: 0.1},
		},
		{
			name: "the one-minute minimum", pool: spotPool, boot: 10 * time.Second, job: 20 * time.Second,
			// 30 s of life billed as 60: 30 s of it idle.
			cost: spotPrice * hours(time.Minute), floor: spotPrice * hours(20*time.Second),
			parts: CostBreakdown{Jobs: 1, Boot: 0.5, Idle: 1.5},
		},
		{
			name: "a stopped warm pool of one", pool: warmPool, boot: time.Minute, job: 10 * time.Minute,
			// t0-10m: a cold boot (1 min) fills the pool; it waits stopped
			// 9 min; at t0 it warm-starts (a third of the boot: 20 s) and
			// runs the job to t0+10m20s, on demand. At t0 a second fill
			// (1 min) tops the pool up; it waits stopped from t0+1m to the
			// end, t0+10m20s.
			cost: odPrice*hours(time.Minute) + disk*hours(9*time.Minute) +
				odPrice*hours(10*time.Minute+20*time.Second) +
				odPrice*hours(time.Minute) + disk*hours(9*time.Minute+20*time.Second),
			floor: odPrice * hours(10*time.Minute),
			warm:  disk * hours(18*time.Minute+20*time.Second),
			parts: CostBreakdown{Jobs: 1, JobsOnDemand: 1, Boot: 1.0 / 30, WarmFill: 0.2,
				WarmStorage: disk * hours(18*time.Minute+20*time.Second) / (odPrice * hours(10*time.Minute))},
		},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := []Job{{ID: "a", Arrival: t0, Duration: tt.job}}
			res := Run(jobs, policy.Policy{}, Config{Pool: tt.pool, Ephemeral: true, WarmStoragePrice: disk,
				World: WorldConfig{Seed: 1, Boot: BootModel{Median: tt.boot}}})
			if !near(res.Cost, tt.cost) || !near(res.Floor, tt.floor) || !near(res.CostRatio, tt.cost/tt.floor) || !near(res.WarmCost, tt.warm) {
				t.Errorf("cost %.9f floor %.9f ratio %.6f warm %.9f; want %.9f %.9f %.6f %.9f",
					res.Cost, res.Floor, res.CostRatio, res.WarmCost, tt.cost, tt.floor, tt.cost/tt.floor, tt.warm)
			}
			got, want := res.CostBreakdown, tt.parts
			if !near(got.Jobs, want.Jobs) || !near(got.JobsOnDemand, want.JobsOnDemand) || !near(got.Boot, want.Boot) ||
				!near(got.Idle, want.Idle) || !near(got.IdleOnDemand, want.IdleOnDemand) ||
				!near(got.WarmFill, want.WarmFill) || !near(got.WarmStorage, want.WarmStorage) {
				t.Errorf("breakdown %+v, want %+v", got, want)
			}
		})
	}
}

// TestCostBreakdownOfContenders: on a real trace, every contender's parts
// are non-negative, its jobs cost at least the floor, and only the
// contenders with a warm pool pay for one.
func TestCostBreakdownOfContenders(t *testing.T) {
	jobs := loadPushTrace(t)[:600]
	sc := goalScenario().withDefaults()
	for _, c := range Contenders(jobs, sc) {
		t.Run(c.Name, func(t *testing.T) {
			res := Run(jobs, c.Planner, c.Config(sc))
			b := res.CostBreakdown
			for _, v := range []float64{b.Jobs, b.JobsOnDemand, b.Boot, b.Idle, b.IdleOnDemand, b.WarmFill, b.WarmStorage} {
				if v < 0 {
					t.Errorf("negative part in %+v", b)
				}
			}
			// Jobs ran once on capacity at least as cheap as the floor's,
			// and interruptions only add.
			if b.Jobs < 0.999 || b.JobsOnDemand > b.Jobs || b.IdleOnDemand > b.Idle {
				t.Errorf("breakdown %+v", b)
			}
			if c.Pool.WarmPool != nil && (b.WarmStorage <= 0 || b.WarmFill <= 0) {
				t.Errorf("warm pool paid nothing: %+v", b)
			}
			if c.Pool.WarmPool == nil && (b.WarmStorage != 0 || b.WarmFill != 0 || b.JobsOnDemand != 0) {
				t.Errorf("no warm pool and no on-demand, yet %+v", b)
			}
		})
	}
}

// TestCostBreakdownOfOneNode checks the split on one node booted for one job.
func TestCostBreakdownOfOneNode(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	jobs := []Job{{ID: "a", Arrival: start, Duration: 10 * time.Minute}}
	p := pool(0, 1, 0)
	p.Offerings = []policy.Offering{spot}
	res := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 1, Boot: BootModel{Median: time.Minute}}})
	b := res.CostBreakdown
	// Booted at the first tick at or after the arrival (1 min boot), ran
	// 10 min, retired at a tick after the end: boot 0.1, jobs 1, idle < 2
	// ticks (20 s = 0.033) plus the drain acknowledgement.
	if math.Abs(b.Boot-0.1) > 1e-9 || math.Abs(b.Jobs-1) > 1e-9 || b.Idle < 0 || b.Idle > 0.04 {
		t.Errorf("breakdown %+v (cost ratio %.3f)", b, res.CostRatio)
	}
}
