package policy

import (
	"errors"
	"fmt"
	"time"
)

// Offering is one way to get a node: instance type × zone × spot or not.
type Offering struct {
	InstanceType string
	Zone         string
	Spot         bool
	// PricePerHour in any currency; only comparisons matter.
	PricePerHour float64
}

// Period raises the idle buffer on a cron schedule, e.g. working hours.
type Period struct {
	// Cron is a standard 5-field cron expression for the period's start.
	Cron string
	// Duration is how long the period lasts after each start.
	Duration time.Duration
	// MinIdleSlots replaces the pool's MinIdleSlots during the period.
	MinIdleSlots int
}

// Pool is a group of identical nodes serving jobs whose labels it has.
type Pool struct {
	Name string
	// Labels a job may ask for; a job goes to the first pool having all of
	// its labels.
	Labels       []string
	SlotsPerNode int
	MinNodes     int
	MaxNodes     int
	// MinIdleSlots are kept free for jobs that arrive while nodes boot.
	MinIdleSlots int
	// ScaleFactor adds idle slots in proportion to busy ones (0.1 = 10 %),
	// capped at MaxIdleSlots when that is set.
	ScaleFactor  float64
	MaxIdleSlots int
	// IdleRisk, in (0, 1), sizes the idle buffer from the forecast's
	// unannounced arrivals instead of holding it all day: at least the
	// fewest free slots k for which more than k unannounced jobs queue
	// within a cold boot with probability at most IdleRisk (Poisson).
	// Busy hours get a buffer, quiet ones none. 0: MinIdleSlots only.
	IdleRisk float64
	Periods  []Period
	// ScaleDownDelay is how long a node must stay idle before it is
	// retired; it is the hysteresis that stops thrash.
	ScaleDownDelay time.Duration
	// Offerings to launch from, spot and on-demand.
	Offerings []Offering
	// OnDemandBase nodes always come from on-demand offerings.
	OnDemandBase int
	// BootTime is how long a cold launch takes to give a ready node; it is
	// the horizon over which the forecast's expected demand is launched
	// cold (0: the forecast is not used).
	BootTime time.Duration
	// WarmStartTime is how long a warm node takes from its start request
	// to ready; expected demand within it is met by starting warm nodes.
	WarmStartTime time.Duration
	// WarmPool, when set, keeps stopped (or hibernated, or running)
	// nodes ready to start in seconds.
	WarmPool *WarmPool
	// MaxJobsPerNode > 0 retires a node once it has run that many jobs
	// (1: single-use nodes, drained and replaced after each job).
	MaxJobsPerNode int
	// AllowPrivileged lets the pool's jobs run privileged containers
	// (Docker-in-Docker builds). Only single-use pools should: a
	// privileged job is root on its node, and a reused node would carry
	// what it left to the next job. The metadata endpoint stays blocked.
	AllowPrivileged bool
}

// Warnings lists what is allowed but dangerous in the pool's settings.
func (p Pool) Warnings() []string {
	var out []string
	if p.AllowPrivileged && p.MaxJobsPerNode != 1 {
		out = append(out, fmt.Sprintf("pool %q: PRIVILEGED JOBS ON REUSED NODES: allow_privileged = true without max_jobs_per_node = 1 lets a job that is root on its node leave anything behind for the next job; make the pool single-use", p.Name))
	}
	return out
}

// WarmState is the state warm-pool nodes wait in.
type WarmState string

// Warm pool states (the Auto Scaling PoolState values, lower case).
const (
	WarmStopped    WarmState = "stopped"
	WarmHibernated WarmState = "hibernated"
	WarmRunning    WarmState = "running"
)

// WarmPool holds nodes that were booted ahead of time and wait, stopped,
// to be started on demand. AWS Auto Scaling warm pools launch on-demand
// instances only (no Spot, no mixed instances policy), so warm nodes run
// on Offering.
type WarmPool struct {
	// MinSize warm nodes are always held; MaxSize caps them (nodes that
	// return on scale-in included).
	MinSize, MaxSize int
	State            WarmState
	// ReuseOnScaleIn returns retired warm-pool nodes to the pool instead
	// of terminating them.
	ReuseOnScaleIn bool
	// Offering warm nodes run on (an on-demand offering).
	Offering Offering
}

// Validate checks a warm pool's settings.
func (w WarmPool) Validate() error {
	var errs []error
	if w.MinSize < 0 || w.MaxSize < w.MinSize {
		errs = append(errs, fmt.Errorf("warm pool min/max size %d/%d", w.MinSize, w.MaxSize))
	}
	switch w.State {
	case WarmStopped, WarmHibernated, WarmRunning:
	default:
		errs = append(errs, fmt.Errorf("warm pool state %q: want stopped, hibernated or running", w.State))
	}
	if w.Offering.Spot {
		errs = append(errs, errors.New("warm pool offering is spot: warm pools hold on-demand instances only"))
	}
	return errors.Join(errs...)
}

// NodeState is a node's lifecycle state as the control plane sees it.
type NodeState string

// Node states.
const (
	NodeBooting  NodeState = "Booting"
	NodeReady    NodeState = "Ready"
	NodeDraining NodeState = "Draining"
	NodeNotReady NodeState = "NotReady"
	// NodeWarm is a node waiting in the warm pool (stopped, hibernated or
	// running but not registered for jobs).
	NodeWarm NodeState = "Warm"
	// NodeWarming is a node booting into the warm pool.
	NodeWarming NodeState = "Warming"
)

// Node is one node of a pool.
type Node struct {
	ID       string
	Pool     string
	Offering Offering
	State    NodeState
	Slots    int
	Busy     int
	// IdleSince is when Busy last became 0 (zero while busy).
	IdleSince time.Time
	// Interrupted is set when the node reported a spot interruption notice
	// or a rebalance recommendation.
	Interrupted bool
	// JobsRun counts the jobs the node has taken since it started.
	JobsRun int
}

// QueuedJobs counts queued jobs with one label set.
type QueuedJobs struct {
	Labels []string
	Count  int
}

// CapacityFailure records that an offering could not be launched.
type CapacityFailure struct {
	Offering Offering
	At       time.Time
}

// Snapshot is everything the policy looks at.
type Snapshot struct {
	Now    time.Time
	Pools  []Pool
	Nodes  []Node
	Queued []QueuedJobs
	// Failures are recent capacity failures; offerings that failed within
	// FailureTTL are skipped.
	Failures []CapacityFailure
	// Expected is the forecast: jobs expected to queue soon, per label
	// set and horizon (see ExpectedJobs). Nil: no forecast.
	Expected []ExpectedJobs
}

// ExpectedJobs is a forecast: Count jobs with Labels are expected to
// queue in (Now, Now+Within]. Count is a mean over past runs, so it may
// be fractional.
type ExpectedJobs struct {
	Labels []string
	Within time.Duration
	Count  float64
	// Unannounced is the mean number of jobs with Labels expected to
	// queue within Within with no earlier signal (the recent rate of such
	// arrivals × Within). They are not in Count: nothing can launch for
	// them ahead of time, only an idle buffer serves them at once (see
	// Pool.IdleRisk).
	Unannounced float64
}

// LaunchKind says where a launched node comes from.
type LaunchKind string

// Launch kinds.
const (
	// LaunchCold boots a new node (BootTime).
	LaunchCold LaunchKind = "cold"
	// LaunchWarm starts nodes waiting in the pool's warm pool
	// (WarmStartTime).
	LaunchWarm LaunchKind = "warm"
)

// Launch asks for Count nodes of Pool on Offering.
type Launch struct {
	Pool     string
	Offering Offering
	Count    int
	// Kind is cold (a new node) or warm (started from the warm pool); ""
	// means cold.
	Kind LaunchKind
}

// Plan is what the control plane should do now.
type Plan struct {
	Launch []Launch
	// Drain lists nodes that should stop taking jobs (they are retired
	// once idle, or replaced after an interruption).
	Drain []string
	// Terminate lists drained, idle nodes to remove.
	Terminate []string
	// Wanted is the slot count the plan aims at, per pool, for metrics.
	Wanted map[string]int
	// Unplaced counts queued jobs no pool serves, per label set.
	Unplaced int
	// WarmTarget is how many nodes each pool with a warm pool should hold
	// warm (waiting or warming); the provider tops up or trims to it. It
	// is the warm pool's MinSize, or, for a pool with an IdleRisk, what
	// the rate of unannounced arrivals calls for beyond the running
	// buffer (up to MaxSize).
	WarmTarget map[string]int
	// Expected is the forecast demand the plan provisioned for, in slots
	// per pool (within the cold boot horizon).
	Expected map[string]int
}
