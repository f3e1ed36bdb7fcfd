package sim

import "github.com/runfleet/runfleet/autoscaler/policy"

// costs is what a run paid, by where it went, in the price unit: the one
// record of it (Result.Cost, WarmCost and CostBreakdown all derive from
// it).
type costs struct {
	jobs, jobsOnDemand, boot, idle, idleOnDemand, warmFill, warmStorage float64
}

// total is everything paid: the parts jobs, boot, idle, warmFill and
// warmStorage (jobsOnDemand and idleOnDemand are within jobs and idle).
func (c costs) total() float64 {
	return c.jobs + c.boot + c.idle + c.warmFill + c.warmStorage
}

// add books one billed running segment of a node on o: c in all, of
// which boot was spent booting (or warm-starting) and busy running jobs;
// the rest is idle time and the one-minute minimum. A segment that boots
// a node into the warm pool is a warm fill.
func (c *costs) add(o policy.Offering, warmFill bool, total, boot, busy float64) {
	if warmFill {
		c.warmFill += total
		return
	}
	boot, busy = min(boot, total), min(busy, total-min(boot, total))
	idle := total - boot - busy
	c.boot += boot
	c.jobs += busy
	c.idle += idle
	if !o.Spot {
		c.jobsOnDemand += busy
		c.idleOnDemand += idle
	}
}

// CostBreakdown is where a run's cost went, in units of the cost floor:
// the parts Jobs, Boot, Idle, WarmFill and WarmStorage sum to CostRatio.
// Jobs is 1 when every job ran once on the cheapest capacity; above 1 it
// carries the dearer capacity jobs ran on (JobsOnDemand of it on
// on-demand nodes, mostly warm starts) and the runs interruptions lost.
type CostBreakdown struct {
	// Jobs: node time that ran jobs.
	Jobs         float64 `json:"jobs"`
	JobsOnDemand float64 `json:"jobs_on_demand"`
	// Boot: nodes booting or warm-starting into service.
	Boot float64 `json:"boot"`
	// Idle: ready nodes running no job (buffer, early launches, the
	// scale-down delay, the one-minute billing minimum).
	Idle         float64 `json:"idle"`
	IdleOnDemand float64 `json:"idle_on_demand"`
	// WarmFill: nodes booting into the warm pool before they stop.
	WarmFill float64 `json:"warm_fill"`
	// WarmStorage: the disks of nodes waiting stopped in the warm pool.
	WarmStorage float64 `json:"warm_storage"`
}

// breakdown expresses c in units of floor.
func (c costs) breakdown(floor float64) CostBreakdown {
	if floor <= 0 {
		return CostBreakdown{}
	}
	return CostBreakdown{
		Jobs: c.jobs / floor, JobsOnDemand: c.jobsOnDemand / floor, Boot: c.boot / floor,
		Idle: c.idle / floor, IdleOnDemand: c.idleOnDemand / floor,
		WarmFill: c.warmFill / floor, WarmStorage: c.warmStorage / floor,
	}
}
