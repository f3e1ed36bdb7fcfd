package policy

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// DefaultFailureTTL is how long an offering that failed for lack of
// capacity is skipped.
const DefaultFailureTTL = 5 * time.Minute

// Policy holds the settings that are not per pool.
type Policy struct {
	FailureTTL time.Duration
}

// Validate checks a pool's settings.
func (p Pool) Validate() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if p.SlotsPerNode <= 0 {
		errs = append(errs, errors.New("slots per node must be positive"))
	}
	if p.MinNodes < 0 || p.MaxNodes < p.MinNodes {
		errs = append(errs, fmt.Errorf("min/max nodes %d/%d", p.MinNodes, p.MaxNodes))
	}
	if p.MinIdleSlots < 0 || p.ScaleFactor < 0 || p.MaxIdleSlots < 0 || p.OnDemandBase < 0 {
		errs = append(errs, errors.New("idle settings must not be negative"))
	}
	if p.IdleRisk < 0 || p.IdleRisk >= 1 {
		errs = append(errs, fmt.Errorf("idle risk %g: want 0 (off) or a probability below 1", p.IdleRisk))
	}
	if len(p.Offerings) == 0 {
		errs = append(errs, errors.New("no offerings"))
	}
	if p.BootTime < 0 || p.WarmStartTime < 0 || p.MaxJobsPerNode < 0 {
		errs = append(errs, errors.New("boot time, warm start time and max jobs per node must not be negative"))
	}
	if p.WarmPool != nil {
		if err := p.WarmPool.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, per := range p.Periods {
		if _, err := cron.ParseStandard(per.Cron); err != nil {
			errs = append(errs, fmt.Errorf("period %q: %w", per.Cron, err))
		}
		if per.Duration <= 0 {
			errs = append(errs, fmt.Errorf("period %q: duration must be positive", per.Cron))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pool %q: %w", p.Name, err)
	}
	return nil
}

// Plan decides what to do about the fleet in s. It is pure: the same
// snapshot always gives the same plan.
func (p Policy) Plan(s Snapshot) Plan {
	ttl := p.FailureTTL
	if ttl <= 0 {
		ttl = DefaultFailureTTL
	}
	plan := Plan{Wanted: map[string]int{}, WarmTarget: map[string]int{}, Expected: map[string]int{}}
	queued := make(map[string]int, len(s.Pools))
	for _, q := range s.Queued {
		if i := PoolFor(s.Pools, q.Labels); i >= 0 {
			queued[s.Pools[i].Name] += q.Count
		} else {
			plan.Unplaced += q.Count
		}
	}
	for i, pool := range s.Pools {
		p.planPool(s, i, pool, queued[pool.Name], ttl, &plan)
	}
	return plan
}

// PoolFor returns the index of the first pool having every label (-1:
// none): the pool whose demand a queued or expected job of labels is.
func PoolFor(pools []Pool, labels []string) int {
	for i, p := range pools {
		ok := true
		for _, l := range labels {
			if !slices.Contains(p.Labels, l) {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

func (p Policy) planPool(s Snapshot, idx int, pool Pool, queued int, ttl time.Duration, plan *Plan) {
	var usable []Node
	busy, warm, doomed := 0, 0, 0
	for _, n := range s.Nodes {
		if n.Pool != pool.Name {
			continue
		}
		switch {
		case n.State == NodeWarm:
			warm++
		case n.State == NodeWarming:
			// Booting into the warm pool: no faster than a cold boot.
		case n.State == NodeNotReady:
			plan.Terminate = append(plan.Terminate, n.ID)
		case n.State == NodeDraining:
			if n.Busy == 0 {
				plan.Terminate = append(plan.Terminate, n.ID)
			}
		case n.Interrupted:
			// Stop using it at once; its jobs will queue again when it
			// is reclaimed, so their replacement boots now, within the
			// notice.
			plan.Drain = append(plan.Drain, n.ID)
			doomed += n.Busy
		case bridged(pool, n, s.Now):
			// A warm node that served the job which could not wait for a
			// cold boot goes back (or away) at once: it runs on dearer
			// on-demand capacity, and spot nodes take the rest.
			plan.Drain = append(plan.Drain, n.ID)
		case pool.MaxJobsPerNode > 0 && n.JobsRun >= pool.MaxJobsPerNode:
			// Spent: drained at once, so it takes no other job; the jobs
			// it runs finish, then it is terminated. It is no capacity.
			plan.Drain = append(plan.Drain, n.ID)
		default:
			usable = append(usable, n)
			busy += n.Busy
		}
	}
	core := busy + queued + doomed
	expected, surprise := expectedWithin(s, idx, pool.BootTime)
	buffer := max(idleBuffer(pool, busy, s.Now), riskBuffer(surprise, pool.IdleRisk))
	soon := int(math.Round(expected))
	now := soon
	if pool.WarmPool != nil {
		warmExpected, _ := expectedWithin(s, idx, pool.WarmStartTime)
		now = min(int(math.Round(warmExpected)), soon)
		plan.WarmTarget[pool.Name] = warmTarget(*pool.WarmPool, surprise, pool.IdleRisk, buffer)
	} else {
		warm = 0
	}
	plan.Wanted[pool.Name] = core + buffer + soon
	plan.Expected[pool.Name] = soon
	have := len(usable)
	// Jobs queued or due within a warm start cannot wait for a cold boot:
	// warm nodes start for them. The idle buffer is refilled cold.
	started := max(min(pool.nodesFor(core+now)-have, warm), 0)
	if started > 0 {
		plan.Launch = append(plan.Launch, Launch{Pool: pool.Name, Offering: pool.WarmPool.Offering, Count: started, Kind: LaunchWarm})
	}
	// Demand due after a warm start but within a cold boot is covered by
	// the warm nodes left (they start later, in time); the rest boots
	// cold now.
	cover := min(warm-started, int(math.Ceil(float64(soon-now)/float64(pool.SlotsPerNode))))
	target := pool.nodesFor(core + buffer + soon)
	switch {
	case target > have+started+cover:
		plan.Launch = append(plan.Launch, chooseOfferings(pool, usable, target-have-started-cover, s.Failures, s.Now, ttl)...)
	case target < have:
		plan.Drain = append(plan.Drain, retire(pool, usable, have-target, s.Now)...)
	}
}

// bridged reports whether n is an idle warm-pool node that has run a job,
// or that has stayed idle as long as a cold boot takes (the demand it was
// started for went elsewhere or did not come).
func bridged(pool Pool, n Node, now time.Time) bool {
	return pool.WarmPool != nil && n.Offering == pool.WarmPool.Offering && n.State == NodeReady &&
		n.Busy == 0 && !n.IdleSince.IsZero() && (n.JobsRun > 0 || now.Sub(n.IdleSince) >= pool.BootTime)
}

// nodesFor is the node count holding slots, within the pool's bounds.
func (p Pool) nodesFor(slots int) int {
	n := int(math.Ceil(float64(slots) / float64(p.SlotsPerNode)))
	return min(max(n, p.MinNodes), p.MaxNodes)
}

// expectedWithin sums the forecast for pool idx over (Now, Now+within]:
// per label set, the entry with the longest horizon not beyond within.
// It returns the jobs announced and the unannounced ones.
func expectedWithin(s Snapshot, idx int, within time.Duration) (announced, unannounced float64) {
	if within <= 0 || len(s.Expected) == 0 {
		return 0, 0
	}
	best := map[string]ExpectedJobs{}
	for _, e := range s.Expected {
		if e.Within > within || PoolFor(s.Pools, e.Labels) != idx {
			continue
		}
		k := strings.Join(e.Labels, "\x00")
		if b, ok := best[k]; !ok || e.Within > b.Within {
			best[k] = e
		}
	}
	for _, e := range best {
		announced += max(e.Count, 0)
		unannounced += max(e.Unannounced, 0)
	}
	return announced, unannounced
}

// warmTarget is how many nodes a warm pool holds: its minimum size, or,
// when the pool sizes its buffer by risk, the nodes that cover the
// unannounced arrivals beyond the running buffer up to a tail risk times
// rarer (risk²): a stopped node costs only its disk, several times less
// than a running idle one, and starts in a warm start. Within the pool's
// bounds.
func warmTarget(w WarmPool, surprise, risk float64, buffer int) int {
	n := w.MinSize
	if risk > 0 {
		n = max(n, riskBuffer(surprise, risk*risk)-buffer)
	}
	return min(n, w.MaxSize)
}

// riskBuffer is the fewest idle slots k such that more than k unannounced
// jobs arrive (Poisson with the given mean) with probability at most risk;
// 0 when risk is not in (0, 1).
func riskBuffer(mean, risk float64) int {
	if risk <= 0 || risk >= 1 || mean <= 0 {
		return 0
	}
	p := math.Exp(-mean) // P(N = k)
	cdf := p
	k := 0
	for 1-cdf > risk && k < 10000 {
		k++
		p *= mean / float64(k)
		cdf += p
	}
	return k
}

// Horizons lists the forecast horizons the pools plan with (their cold
// boot and warm start times), shortest first: what the caller asks the
// forecaster for.
func Horizons(pools []Pool) []time.Duration {
	var out []time.Duration
	for _, p := range pools {
		for _, h := range []time.Duration{p.BootTime, p.WarmStartTime} {
			if h > 0 && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	slices.Sort(out)
	return out
}

// idleBuffer is the number of free slots kept for arrivals during a boot.
func idleBuffer(pool Pool, busy int, now time.Time) int {
	minIdle := pool.MinIdleSlots
	for _, per := range pool.Periods {
		if active(per, now) {
			minIdle = per.MinIdleSlots
		}
	}
	extra := int(math.Ceil(pool.ScaleFactor * float64(busy)))
	if pool.MaxIdleSlots > 0 {
		extra = min(extra, pool.MaxIdleSlots)
	}
	return minIdle + extra
}

// active reports whether a period covers now: some start lies in
// (now-Duration, now].
func active(per Period, now time.Time) bool {
	sched, err := cron.ParseStandard(per.Cron)
	if err != nil {
		return false
	}
	return !sched.Next(now.Add(-per.Duration)).After(now)
}

// retire picks up to n idle nodes that stayed idle past the delay, the
// most expensive first; busy nodes and recently busy ones are kept.
func retire(pool Pool, usable []Node, n int, now time.Time) []string {
	var idle []Node
	for _, nd := range usable {
		if nd.State == NodeReady && nd.Busy == 0 && !nd.IdleSince.IsZero() && now.Sub(nd.IdleSince) >= pool.ScaleDownDelay {
			idle = append(idle, nd)
		}
	}
	sort.SliceStable(idle, func(i, j int) bool {
		if idle[i].Offering.PricePerHour != idle[j].Offering.PricePerHour {
			return idle[i].Offering.PricePerHour > idle[j].Offering.PricePerHour
		}
		return idle[i].IdleSince.Before(idle[j].IdleSince)
	})
	var out []string
	for _, nd := range idle[:min(n, len(idle))] {
		out = append(out, nd.ID)
	}
	return out
}

// chooseOfferings places n new nodes: on-demand up to the pool's base,
// then the cheapest spot offering in the least used zone, skipping
// offerings that recently failed for lack of capacity, and falling back to
// on-demand when no spot offering is left.
func chooseOfferings(pool Pool, usable []Node, n int, failures []CapacityFailure, now time.Time, ttl time.Duration) []Launch {
	var spot, onDemand []Offering
	for _, o := range pool.Offerings {
		if recentlyFailed(o, failures, now, ttl) {
			continue
		}
		if o.Spot {
			spot = append(spot, o)
		} else {
			onDemand = append(onDemand, o)
		}
	}
	zoneLoad := map[string]int{}
	onDemandNodes := 0
	for _, nd := range usable {
		zoneLoad[nd.Offering.Zone]++
		if !nd.Offering.Spot {
			onDemandNodes++
		}
	}
	counts := map[Offering]int{}
	var order []Offering
	for range n {
		candidates := spot
		if onDemandNodes < pool.OnDemandBase || len(spot) == 0 {
			candidates = onDemand
		}
		if len(candidates) == 0 {
			break
		}
		best := candidates[0]
		for _, o := range candidates[1:] {
			if zoneLoad[o.Zone] < zoneLoad[best.Zone] ||
				zoneLoad[o.Zone] == zoneLoad[best.Zone] && o.PricePerHour < best.PricePerHour {
				best = o
			}
		}
		if counts[best] == 0 {
			order = append(order, best)
		}
		counts[best]++
		zoneLoad[best.Zone]++
		if !best.Spot {
			onDemandNodes++
		}
	}
	out := make([]Launch, 0, len(order))
	for _, o := range order {
		out = append(out, Launch{Pool: pool.Name, Offering: o, Count: counts[o]})
	}
	return out
}

func recentlyFailed(o Offering, failures []CapacityFailure, now time.Time, ttl time.Duration) bool {
	for _, f := range failures {
		if f.Offering == o && now.Sub(f.At) < ttl {
			return true
		}
	}
	return false
}
