package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Planner is what the simulator drives: policy.Policy or a baseline.
type Planner interface {
	Plan(policy.Snapshot) policy.Plan
}

// Config is the simulated world. Jobs of the trace all go to Pool (their
// labels are ignored: one pool per run).
type Config struct {
	Pool     policy.Pool
	BootTime time.Duration // launch → node ready (spot notes: ~30 s cold)
	Tick     time.Duration // how often the control loop plans (default 10 s)
}

// Result is what a run cost and what users felt.
type Result struct {
	Jobs               int
	QueueP50, QueueP95 time.Duration
	QueueMax           time.Duration
	ZeroWait           float64 // share of jobs started within one tick
	NodeHours          float64
	Cost               float64
	Launches           int
	PeakNodes          int
}

func (r Result) String() string {
	return fmt.Sprintf("jobs %d  queue p50 %s p95 %s max %s  started within a tick %.0f%%  node-hours %.0f  cost %.2f  launches %d  peak nodes %d",
		r.Jobs, r.QueueP50.Round(time.Second), r.QueueP95.Round(time.Second), r.QueueMax.Round(time.Second),
		100*r.ZeroWait, r.NodeHours, r.Cost, r.Launches, r.PeakNodes)
}

type simNode struct {
	policy.Node
	readyAt time.Time
	running []time.Time // end times of running jobs
}

// warmUp is how long the simulated fleet runs before the first arrival, so
// a policy's floor and idle buffer exist when traffic starts, as in a
// fleet that has been up for a while.
const warmUp = 10 * time.Minute

// Run replays jobs through p.
func Run(jobs []Job, p Planner, cfg Config) Result {
	if cfg.Tick <= 0 {
		cfg.Tick = 10 * time.Second
	}
	if len(jobs) == 0 {
		return Result{}
	}
	var (
		now     = jobs[0].Arrival.Add(-warmUp).Truncate(cfg.Tick)
		queue   []Job
		nodes   []*simNode
		next    int
		waits   []time.Duration
		res     = Result{Jobs: len(jobs)}
		nodeID  int
		costSec float64
	)
	for next < len(jobs) || len(queue) > 0 || anyBusy(nodes) {
		for next < len(jobs) && !jobs[next].Arrival.After(now) {
			queue = append(queue, jobs[next])
			next++
		}
		// Boot, finish jobs, start queued jobs first come first served.
		for _, n := range nodes {
			if n.State == policy.NodeBooting && !n.readyAt.After(now) {
				n.State = policy.NodeReady
				n.IdleSince = now
			}
			kept := n.running[:0]
			for _, end := range n.running {
				if end.After(now) {
					kept = append(kept, end)
				}
			}
			n.running = kept
			if n.Busy > 0 && len(n.running) == 0 {
				n.IdleSince = now
			}
			n.Busy = len(n.running)
		}
		for _, n := range nodes {
			for n.State == policy.NodeReady && n.Busy < n.Slots && len(queue) > 0 {
				j := queue[0]
				queue = queue[1:]
				waits = append(waits, now.Sub(j.Arrival))
				n.running = append(n.running, now.Add(j.Duration))
				n.Busy++
			}
		}
		snap := policy.Snapshot{Now: now, Pools: []policy.Pool{cfg.Pool}}
		if len(queue) > 0 {
			snap.Queued = []policy.QueuedJobs{{Count: len(queue)}}
		}
		for _, n := range nodes {
			snap.Nodes = append(snap.Nodes, n.Node)
		}
		plan := p.Plan(snap)
		for _, l := range plan.Launch {
			for range l.Count {
				nodeID++
				res.Launches++
				nodes = append(nodes, &simNode{
					Node:    policy.Node{ID: fmt.Sprint(nodeID), Pool: cfg.Pool.Name, Offering: l.Offering, State: policy.NodeBooting, Slots: cfg.Pool.SlotsPerNode},
					readyAt: now.Add(cfg.BootTime),
				})
			}
		}
		for _, n := range nodes {
			if slices.Contains(plan.Drain, n.ID) {
				n.State = policy.NodeDraining
			}
		}
		kept := nodes[:0]
		for _, n := range nodes {
			if !slices.Contains(plan.Terminate, n.ID) {
				kept = append(kept, n)
			}
		}
		nodes = kept
		res.PeakNodes = max(res.PeakNodes, len(nodes))
		for _, n := range nodes {
			costSec += n.Offering.PricePerHour * cfg.Tick.Seconds() / 3600
			res.NodeHours += cfg.Tick.Hours()
		}
		now = now.Add(cfg.Tick)
		// Skip quiet stretches: nothing queued, running or booting, and
		// the fleet is at its floor.
		if len(queue) == 0 && !anyBusy(nodes) && next < len(jobs) && jobs[next].Arrival.Sub(now) > time.Hour && len(plan.Launch) == 0 && len(plan.Drain) == 0 && len(plan.Terminate) == 0 {
			gap := jobs[next].Arrival.Truncate(cfg.Tick).Sub(now)
			for _, n := range nodes {
				costSec += n.Offering.PricePerHour * gap.Hours()
				res.NodeHours += gap.Hours()
			}
			now = now.Add(gap)
		}
	}
	res.Cost = costSec
	slices.Sort(waits)
	res.QueueP50 = waits[len(waits)/2]
	res.QueueP95 = waits[len(waits)*95/100]
	res.QueueMax = waits[len(waits)-1]
	within := 0
	for _, w := range waits {
		if w <= cfg.Tick {
			within++
		}
	}
	res.ZeroWait = float64(within) / float64(len(waits))
	return res
}

func anyBusy(nodes []*simNode) bool {
	for _, n := range nodes {
		if n.Busy > 0 || n.State == policy.NodeBooting {
			return true
		}
	}
	return false
}

// IgnoreQueue is GitLab docker-autoscaler's behaviour: an idle buffer that
// never looks at the queue (busy slots plus idle count only).
type IgnoreQueue struct{ policy.Policy }

// Plan drops the queue from the snapshot before planning.
func (q IgnoreQueue) Plan(s policy.Snapshot) policy.Plan {
	s.Queued = nil
	return q.Policy.Plan(s)
}
