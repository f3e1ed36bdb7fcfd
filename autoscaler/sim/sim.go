package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Planner is what the simulator drives: policy.Policy or a baseline.
type Planner interface {
	Plan(policy.Snapshot) policy.Plan
}

// Config is the simulated world. Jobs of the trace all go to Pool (their
// labels are ignored: one pool per run).
type Config struct {
	Pool policy.Pool
	// BootTime is the median boot (launch → node ready) when World.Boot
	// has none.
	BootTime time.Duration
	// Tick is how often the control loop plans (default 10 s). Jobs start
	// on free slots the moment both exist, not on ticks.
	Tick time.Duration
	// World holds the seed, the boot model, interruptions and droughts.
	World WorldConfig
	// Ephemeral nodes run one job and are terminated when it ends (the
	// one-VM-per-job model).
	Ephemeral bool
	// Samples is how many points of demand, fleet and queue Result.Series
	// keeps (0: none).
	Samples int
	// WarmStart is the median time from a warm node's start request to
	// ready (default: a third of the boot median). Warm starts draw from
	// the boot model's spread.
	WarmStart time.Duration
	// WarmStoragePrice is what a node waiting stopped or hibernated in
	// the warm pool costs per hour (its disk); it counts in Cost.
	WarmStoragePrice float64
	// NewForecaster, when set, gives the run a forecaster. The run feeds
	// it run starts and job queued, started and finished events as its
	// clock reaches them, and plans with its forecast.
	NewForecaster func() Forecaster
}

// warmUp is how long the simulated fleet runs before the first arrival, so
// a policy's floor and idle buffer exist when traffic starts, as in a
// fleet that has been up for a while.
const warmUp = 10 * time.Minute

// freeSpotHour: EC2 does not charge for a spot instance it interrupts
// within its first hour.
const freeSpotHour = time.Hour

// drainAck is how long an idle node takes to acknowledge a drain (one
// heartbeat) before the control plane terminates it.
const drainAck = 2 * time.Second

// minBilled is EC2's per-second billing minimum for Linux instances.
const minBilled = time.Minute

type simJob struct {
	Job
	queuedSince time.Time
	wait        time.Duration
	interrupted bool
}

type slot struct {
	job        *simJob
	start, end time.Time
	freeAt     time.Time
}

type simNode struct {
	policy.Node
	seq        uint64
	launchedAt time.Time
	readyAt    time.Time
	segStart   time.Time // start of the running time billed next
	warmSince  time.Time // NodeWarm: when it stopped
	reclaimAt  time.Time // zero until an interruption notice
	slots      []slot
	used       bool    // ephemeral: took its one job
	segBusy    float64 // slot-seconds of jobs run since segStart
}

type run struct {
	cfg      Config
	p        Planner
	w        *world
	now      time.Time
	queue    []*simJob
	nodes    []*simNode
	failures []policy.CapacityFailure
	res      Result
	seq      uint64
	evIdx    int
	busySec  float64 // slot-seconds running jobs
	paidSec  float64 // slot-seconds of node lifetime
	series   *seriesRecorder
	feed     *feeder // nil: no forecast
	startSeq uint64  // warm starts drawn so far
	costs    costs   // price × hours billed, by where it went
}

// Run replays jobs (sorted by arrival) through p in the world cfg
// describes. The same jobs, cfg and seed give the same Result.
func Run(jobs []Job, p Planner, cfg Config) Result {
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Second
	}
	if cfg.World.Boot.Median <= 0 {
		cfg.World.Boot.Median = cfg.BootTime
	}
	if cfg.WarmStart <= 0 {
		cfg.WarmStart = cfg.World.Boot.Median / 3
	}
	if len(jobs) == 0 {
		return Result{}
	}
	start := jobs[0].Arrival.Add(-warmUp).Truncate(cfg.Tick)
	last := jobs[len(jobs)-1].Arrival
	r := &run{
		cfg: cfg, p: p, now: start,
		w: newWorld(cfg.World, cfg.Pool.Offerings, start, last.Add(7*24*time.Hour)),
	}
	r.res.Jobs = len(jobs)
	if cfg.Samples > 0 {
		r.series = newSeriesRecorder(start, last.Add(time.Hour), cfg.Samples)
	}
	all := make([]*simJob, len(jobs))
	for i, j := range jobs {
		all[i] = &simJob{Job: j, queuedSince: j.Arrival}
	}
	if cfg.NewForecaster != nil {
		r.feed = newFeeder(cfg.NewForecaster(), jobs)
	}
	next := 0
	for {
		for next < len(all) && !all[next].Arrival.After(r.now) {
			r.feed.queued(all[next])
			r.queue = append(r.queue, all[next])
			next++
		}
		r.feed.runsUpTo(r.now)
		r.applyWorld()
		r.advanceNodes()
		r.dispatch()
		if next >= len(all) && len(r.queue) == 0 && !r.anyBusy() {
			break
		}
		plan := r.plan()
		r.record()
		r.now = r.skip(plan, all, next)
	}
	for _, n := range r.nodes {
		r.retire(n, r.now, false)
	}
	r.nodes = nil
	r.finish(all)
	r.res.ForecastError = r.feed.error()
	return r.res
}

// applyWorld delivers interruption notices and reclaims nodes whose notice
// ran out, putting their unfinished jobs back in the queue.
func (r *run) applyWorld() {
	for ; r.evIdx < len(r.w.events) && !r.w.events[r.evIdx].at.After(r.now); r.evIdx++ {
		ev := r.w.events[r.evIdx]
		if ev.fraction == 0 {
			continue
		}
		for _, n := range r.nodes {
			if n.Offering == ev.offering && n.reclaimAt.IsZero() && n.launchedAt.Before(ev.at) && ev.hits(n.seq) {
				n.reclaimAt = ev.at.Add(r.w.cfg.Notice)
				n.Interrupted = true
			}
		}
	}
	requeued := false
	kept := r.nodes[:0]
	for _, n := range r.nodes {
		if n.reclaimAt.IsZero() || n.reclaimAt.After(r.now) {
			kept = append(kept, n)
			continue
		}
		// Jobs that end before the reclaim finish normally.
		if r.completeUpTo(n, n.reclaimAt) {
			continue // an ephemeral node that was done already
		}
		for i := range n.slots {
			s := &n.slots[i]
			if s.job == nil {
				continue
			}
			r.busySec += n.reclaimAt.Sub(s.start).Seconds()
			n.segBusy += n.reclaimAt.Sub(s.start).Seconds()
			s.job.interrupted = true
			s.job.queuedSince = n.reclaimAt
			r.feed.queued(s.job)
			r.queue = append(r.queue, s.job)
			s.job = nil
			requeued = true
		}
		r.res.Interruptions++
		r.retire(n, n.reclaimAt, true)
	}
	r.nodes = kept
	if requeued {
		slices.SortStableFunc(r.queue, func(a, b *simJob) int { return a.queuedSince.Compare(b.queuedSince) })
	}
}

// advanceNodes finishes boots and jobs up to now.
func (r *run) advanceNodes() {
	kept := r.nodes[:0]
	for _, n := range r.nodes {
		if n.State == policy.NodeBooting && !n.readyAt.After(r.now) {
			n.State = policy.NodeReady
			for i := range n.slots {
				n.slots[i].freeAt = n.readyAt
			}
		}
		if n.State == policy.NodeWarming && !n.readyAt.After(r.now) {
			r.stopToWarm(n, n.readyAt)
		}
		if r.completeUpTo(n, r.now) {
			continue // ephemeral node gone with its job
		}
		kept = append(kept, n)
	}
	r.nodes = kept
}

// completeUpTo ends the jobs of n that finish by t; it reports whether n
// was an ephemeral node that is now gone.
func (r *run) completeUpTo(n *simNode, t time.Time) bool {
	for i := range n.slots {
		s := &n.slots[i]
		if s.job != nil && !s.end.After(t) {
			r.busySec += s.end.Sub(s.start).Seconds()
			n.segBusy += s.end.Sub(s.start).Seconds()
			r.feed.finished(s.job, s.end)
			s.job = nil
			s.freeAt = s.end
			if r.cfg.Ephemeral {
				r.retire(n, s.end, false)
				return true
			}
		}
	}
	r.refresh(n)
	return false
}

// refresh recomputes what the policy sees of n.
func (r *run) refresh(n *simNode) {
	busy, lastFree := 0, time.Time{}
	for _, s := range n.slots {
		if s.job != nil {
			busy++
		} else if s.freeAt.After(lastFree) {
			lastFree = s.freeAt
		}
	}
	n.Busy = busy
	if busy == 0 && n.State != policy.NodeBooting {
		n.IdleSince = lastFree
	} else {
		n.IdleSince = time.Time{}
	}
}

// dispatch starts queued jobs, first come first served, on the free slot
// that has been free longest. A job starts when both it and the slot
// existed, which may lie between two ticks.
func (r *run) dispatch() {
	for len(r.queue) > 0 {
		var best *simNode
		bi := -1
		for _, n := range r.nodes {
			if n.State != policy.NodeReady || n.Interrupted || (r.cfg.Ephemeral && n.used) || r.spent(n) {
				continue
			}
			for i, s := range n.slots {
				if s.job == nil && (best == nil || s.freeAt.Before(best.slots[bi].freeAt)) {
					best, bi = n, i
				}
			}
		}
		if best == nil {
			return
		}
		j := r.queue[0]
		r.queue = r.queue[1:]
		s := &best.slots[bi]
		start := s.freeAt
		if j.queuedSince.After(start) {
			start = j.queuedSince
		}
		j.wait += start.Sub(j.queuedSince)
		s.job, s.start, s.end = j, start, start.Add(j.Duration)
		best.used = true
		best.JobsRun++
		r.feed.started(j, start)
		if !s.end.After(r.now) {
			if r.completeUpTo(best, r.now) {
				r.nodes = slices.DeleteFunc(r.nodes, func(n *simNode) bool { return n == best })
			}
			continue
		}
		r.refresh(best)
	}
}

func (r *run) anyBusy() bool {
	for _, n := range r.nodes {
		if n.Busy > 0 || n.State == policy.NodeBooting {
			return true
		}
	}
	return false
}

// plan asks the planner and carries the plan out.
func (r *run) plan() policy.Plan {
	ttl := 30 * time.Minute
	r.failures = slices.DeleteFunc(r.failures, func(f policy.CapacityFailure) bool { return r.now.Sub(f.At) > ttl })
	snap := policy.Snapshot{Now: r.now, Pools: []policy.Pool{r.cfg.Pool}, Failures: slices.Clone(r.failures)}
	if len(r.queue) > 0 {
		snap.Queued = []policy.QueuedJobs{{Count: len(r.queue)}}
	}
	snap.Expected = r.feed.expected(r.now, policy.Horizons(snap.Pools))
	for _, n := range r.nodes {
		snap.Nodes = append(snap.Nodes, n.Node)
	}
	plan := r.p.Plan(snap)
	for _, l := range plan.Launch {
		if l.Kind == policy.LaunchWarm {
			r.startWarm(l.Count)
			continue
		}
		if r.w.dry(l.Offering, r.now) {
			r.res.CapacityFailures++
			r.failures = append(r.failures, policy.CapacityFailure{Offering: l.Offering, At: r.now})
			continue
		}
		for range l.Count {
			r.res.LaunchesCold++
			r.launchCold(l.Offering, policy.NodeBooting)
		}
	}
	kept := r.nodes[:0]
	for _, n := range r.nodes {
		if slices.Contains(plan.Drain, n.ID) {
			n.State = policy.NodeDraining
		}
		switch {
		case slices.Contains(plan.Terminate, n.ID) && n.Busy == 0:
			r.retire(n, r.now, false)
		case n.State == policy.NodeDraining && n.Busy == 0 && !n.Interrupted && r.reusable(n):
			// Back to the warm pool instead of terminated.
			r.stopToWarm(n, r.now.Add(drainAck))
			kept = append(kept, n)
		case n.State == policy.NodeDraining && n.Busy == 0 && !n.Interrupted:
			// An idle node acknowledges the drain in its next heartbeat
			// and the control plane terminates it then.
			r.retire(n, r.now.Add(drainAck), false)
		default:
			kept = append(kept, n)
		}
	}
	r.nodes = kept
	r.keepWarm(plan.WarmTarget[r.cfg.Pool.Name])
	inService := 0
	for _, n := range r.nodes {
		if n.State != policy.NodeWarm && n.State != policy.NodeWarming {
			inService++
		}
	}
	r.res.PeakNodes = max(r.res.PeakNodes, inService)
	return plan
}

// launchCold boots a new node on o, into service (NodeBooting) or into
// the warm pool (NodeWarming).
func (r *run) launchCold(o policy.Offering, state policy.NodeState) *simNode {
	r.seq++
	r.res.Launches++
	boot := r.w.cfg.Boot.draw(o, r.w.nodeRNG(r.seq))
	n := &simNode{
		Node:       policy.Node{ID: fmt.Sprint(r.seq), Pool: r.cfg.Pool.Name, Offering: o, State: state, Slots: r.cfg.Pool.SlotsPerNode},
		seq:        r.seq,
		launchedAt: r.now,
		segStart:   r.now,
		readyAt:    r.now.Add(boot),
		slots:      make([]slot, r.cfg.Pool.SlotsPerNode),
	}
	r.nodes = append(r.nodes, n)
	return n
}

// retire bills n up to end, when it is terminated.
func (r *run) retire(n *simNode, end time.Time, reclaimed bool) {
	if n.State == policy.NodeWarm {
		r.billWarm(n, end)
		return
	}
	r.billRunning(n, end, reclaimed)
}

// billRunning bills n's running time since segStart (per-second, one
// minute minimum per start; spot reclaimed within its first hour free).
func (r *run) billRunning(n *simNode, end time.Time, reclaimed bool) {
	life := end.Sub(n.segStart)
	r.paidSec += life.Seconds() * float64(len(n.slots))
	r.res.NodeHours += life.Hours()
	busy := n.segBusy
	n.segBusy = 0
	if reclaimed && n.Offering.Spot && end.Sub(n.launchedAt) < freeSpotHour {
		return
	}
	c := n.Offering.PricePerHour * max(life, minBilled).Hours()
	boot := min(max(n.readyAt.Sub(n.segStart), 0), life)
	r.costs.add(n.Offering, n.State == policy.NodeWarming, c, n.Offering.PricePerHour*boot.Hours(), n.Offering.PricePerHour*busy/float64(max(len(n.slots), 1))/3600)
}

// skip returns the next time the loop must look at the fleet: the next
// tick, or, when the fleet is quiet and the plan empty, the next moment
// something can change (an arrival, a world event, an idle node reaching
// its scale-down delay, a period starting or ending).
func (r *run) skip(plan policy.Plan, all []*simJob, next int) time.Time {
	tick := r.cfg.Tick
	nextTick := r.now.Add(tick)
	if len(r.queue) > 0 || r.anyBusy() || len(plan.Launch) > 0 || len(plan.Drain) > 0 || len(plan.Terminate) > 0 {
		return nextTick
	}
	for _, n := range r.nodes {
		if n.Interrupted || n.State != policy.NodeReady && n.State != policy.NodeWarm {
			return nextTick
		}
	}
	if r.feed.pending(r.now) {
		return nextTick
	}
	target := time.Time{}
	consider := func(t time.Time) {
		if t.After(r.now) && (target.IsZero() || t.Before(target)) {
			target = t
		}
	}
	if next < len(all) {
		consider(all[next].Arrival)
	}
	if at, ok := r.feed.nextRun(); ok {
		consider(at)
	}
	if at, ok := r.feed.wake(r.now); ok {
		consider(at)
	}
	if r.evIdx < len(r.w.events) {
		consider(r.w.events[r.evIdx].at)
	}
	for _, f := range r.failures {
		consider(f.At.Add(30 * time.Minute))
	}
	for _, n := range r.nodes {
		consider(n.IdleSince.Add(r.cfg.Pool.ScaleDownDelay))
	}
	for _, per := range r.cfg.Pool.Periods {
		if sched, err := cron.ParseStandard(per.Cron); err == nil {
			consider(sched.Next(r.now))
			if s := sched.Next(r.now.Add(-per.Duration)); !s.After(r.now) {
				consider(s.Add(per.Duration))
			}
		}
	}
	if target.IsZero() || !target.After(nextTick) {
		return nextTick
	}
	// Land on the tick grid at or after target.
	t := target.Truncate(tick)
	if t.Before(target) {
		t = t.Add(tick)
	}
	return t
}

func (r *run) record() {
	if r.series == nil {
		return
	}
	running, slots := 0, 0
	for _, n := range r.nodes {
		running += n.Busy
		slots += len(n.slots)
	}
	r.series.add(r.now, len(r.queue)+running, slots, len(r.queue))
}
