package policy

import (
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
	Periods      []Period
	// ScaleDownDelay is how long a node must stay idle before it is
	// retired; it is the hysteresis that stops thrash.
	ScaleDownDelay time.Duration
	// Offerings to launch from, spot and on-demand.
	Offerings []Offering
	// OnDemandBase nodes always come from on-demand offerings.
	OnDemandBase int
}

// NodeState is a node's lifecycle state as the control plane sees it.
type NodeState string

// Node states.
const (
	NodeBooting  NodeState = "Booting"
	NodeReady    NodeState = "Ready"
	NodeDraining NodeState = "Draining"
	NodeNotReady NodeState = "NotReady"
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
}

// Launch asks for Count nodes of Pool on Offering.
type Launch struct {
	Pool     string
	Offering Offering
	Count    int
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
}
