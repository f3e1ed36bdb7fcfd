package sim

import (
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// startWarm starts up to k nodes waiting in the warm pool, the longest
// waiting first; each is ready after a warm start.
func (r *run) startWarm(k int) {
	for _, n := range r.nodes {
		if k == 0 {
			return
		}
		if n.State != policy.NodeWarm {
			continue
		}
		r.billWarm(n, r.now)
		r.startSeq++
		n.State = policy.NodeBooting
		n.segStart = r.now
		n.readyAt = r.now.Add(r.w.cfg.Boot.drawMedian(r.cfg.WarmStart, r.w.nodeRNG(^r.startSeq)))
		n.JobsRun, n.used = 0, false
		r.res.LaunchesWarm++
		k--
	}
}

// stopToWarm puts n in the warm pool at t: its running time is billed,
// its disk is billed from then on.
func (r *run) stopToWarm(n *simNode, t time.Time) {
	r.billRunning(n, t, false)
	n.State = policy.NodeWarm
	n.warmSince = t
	n.Busy, n.Interrupted, n.JobsRun, n.used = 0, false, 0, false
	n.IdleSince = time.Time{}
	for i := range n.slots {
		n.slots[i] = slot{}
	}
}

// billWarm bills n's time in the warm pool up to end: its disk when
// stopped or hibernated, the instance when the pool keeps it running.
func (r *run) billWarm(n *simNode, end time.Time) {
	price := r.cfg.WarmStoragePrice
	if wp := r.cfg.Pool.WarmPool; wp != nil && wp.State == policy.WarmRunning {
		price = n.Offering.PricePerHour
	}
	c := price * end.Sub(n.warmSince).Hours()
	r.costs.warmStorage += c
	r.res.WarmHours += end.Sub(n.warmSince).Hours()
	n.warmSince = end
}

// reusable reports whether a retired node goes back to the warm pool:
// the pool reuses on scale-in, the node is a warm pool instance, it is
// not single-use, and the pool has room.
func (r *run) reusable(n *simNode) bool {
	wp := r.cfg.Pool.WarmPool
	if wp == nil || !wp.ReuseOnScaleIn || n.Offering != wp.Offering || r.cfg.Pool.MaxJobsPerNode > 0 {
		return false
	}
	return r.warmCount() < wp.MaxSize
}

func (r *run) warmCount() int {
	c := 0
	for _, n := range r.nodes {
		if n.State == policy.NodeWarm || n.State == policy.NodeWarming {
			c++
		}
	}
	return c
}

// keepWarm tops the warm pool up to target with cold boots into it and
// trims waiting nodes beyond its maximum size, as Auto Scaling does.
func (r *run) keepWarm(target int) {
	wp := r.cfg.Pool.WarmPool
	if wp == nil {
		return
	}
	target = min(target, wp.MaxSize)
	for c := r.warmCount(); c < target; c++ {
		if r.w.dry(wp.Offering, r.now) {
			r.res.CapacityFailures++
			return
		}
		r.res.WarmFills++
		r.launchCold(wp.Offering, policy.NodeWarming)
	}
	extra := r.warmCount() - wp.MaxSize
	if extra <= 0 {
		return
	}
	kept := r.nodes[:0]
	for _, n := range r.nodes {
		if extra > 0 && n.State == policy.NodeWarm {
			r.retire(n, r.now, false)
			extra--
			continue
		}
		kept = append(kept, n)
	}
	r.nodes = kept
}

// spent reports whether n has run all the jobs its pool allows
// (single-use pools: one).
func (r *run) spent(n *simNode) bool {
	return r.cfg.Pool.MaxJobsPerNode > 0 && n.JobsRun >= r.cfg.Pool.MaxJobsPerNode
}
