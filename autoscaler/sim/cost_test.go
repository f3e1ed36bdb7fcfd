package sim

import (
	"math"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

func TestCostBreakdownSumsToCostRatio(t *testing.T) {
	jobs := loadPushTrace(t)[:600]
	sc := goalScenario().withDefaults()
	for _, c := range Contenders(jobs, sc) {
		t.Run(c.Name, func(t *testing.T) {
			res := Run(jobs, c.Planner, c.Config(sc))
			b := res.CostBreakdown
			sum := b.Jobs + b.Boot + b.Idle + b.WarmFill + b.WarmStorage
			if math.Abs(sum-res.CostRatio) > 1e-9 {
				t.Errorf("parts %+v sum to %.6f, cost ratio %.6f", b, sum, res.CostRatio)
			}
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
