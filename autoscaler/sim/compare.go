package sim

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Scenario is one side-by-side comparison: the same trace, world and seed
// for runfleet's policy and every baseline.
type Scenario struct {
	// Offerings of the simulated cloud (default DefaultOfferings).
	Offerings []policy.Offering
	// SlotsPerNode of the pooled policies (default 1). The one-VM-per-job
	// baseline always uses one-slot VMs at the price per slot.
	SlotsPerNode int
	Tick         time.Duration
	World        WorldConfig
	// IdleCount is the idle-count baseline's buffer in slots (default 5,
	// as in GitLab's docker-autoscaler examples) kept for IdleTime (20 min).
	IdleCount int
	IdleTime  time.Duration
	// Samples of the time series to keep per result (0: none).
	Samples int
	// WarmStart is the median warm start (default: a third of the boot
	// median).
	WarmStart time.Duration
	// WarmStoragePrice is the hourly price of one node waiting stopped in
	// a warm pool (default DefaultWarmStoragePrice).
	WarmStoragePrice float64
	// Settings of runfleet's policy (nil: DefaultSettings).
	Settings *Settings
	// Only, when set, runs only the contenders it names.
	Only []string
}

// DefaultWarmStoragePrice is a 50 GB gp3 volume's hourly price: $0.08 per
// GB-month over 730 hours.
const DefaultWarmStoragePrice = 50 * 0.08 / 730

// Contender is one policy of a comparison.
type Contender struct {
	Name      string
	Planner   Planner
	Pool      policy.Pool
	Ephemeral bool
	// Forecast, when set, configures the forecaster the contender plans
	// with.
	Forecast *forecast.Config
}

// DefaultOfferings is a small spot market: two instance types in three
// zones, spot within a few percent of each other, on-demand about three
// times dearer (prices per node-hour of a 2-vCPU node, us-east-1-like).
func DefaultOfferings() []policy.Offering {
	var out []policy.Offering
	spot := map[string][3]float64{"m7i.large": {0.0320, 0.0330, 0.0345}, "m6i.large": {0.0335, 0.0340, 0.0360}}
	for _, typ := range []string{"m7i.large", "m6i.large"} {
		for z, zone := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
			out = append(out, policy.Offering{InstanceType: typ, Zone: zone, Spot: true, PricePerHour: spot[typ][z]})
		}
	}
	for _, zone := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		out = append(out, policy.Offering{InstanceType: "m7i.large", Zone: zone, PricePerHour: 0.1008})
	}
	return out
}

// Settings are runfleet's tunables in a comparison.
type Settings struct {
	// IdleSlots, ScaleFactor: the idle buffer for jobs nothing announces.
	IdleSlots   int
	ScaleFactor float64
	// ScaleDownDelay before an idle node is retired.
	ScaleDownDelay time.Duration
	// WarmMin, WarmMax: the warm pool of stopped on-demand nodes.
	WarmMin, WarmMax int
	// Quantile the forecast plans with (forecast.Config.Quantile; 0:
	// the mean of past runs).
	Quantile float64
}

// DefaultSettings are the settings runfleet is compared with: the same
// for every trace.
func DefaultSettings() Settings {
	return Settings{IdleSlots: 1, ScaleFactor: 0.1, ScaleDownDelay: time.Minute, WarmMin: 1, WarmMax: 2, Quantile: 0.9}
}

func (st Settings) String() string {
	return fmt.Sprintf("idle %d+%.0f%% delay %s warm %d-%d q %.2g", st.IdleSlots, 100*st.ScaleFactor, st.ScaleDownDelay, st.WarmMin, st.WarmMax, st.Quantile)
}

// Runfleet is runfleet's own policy and its pool with settings st: a
// small idle buffer for jobs nothing announces, a warm pool of stopped
// on-demand nodes for bursts, and the forecast's horizons (a cold boot, a
// warm start).
func Runfleet(offerings []policy.Offering, slots int, boot, warmStart time.Duration, st Settings) (policy.Policy, policy.Pool) {
	pool := policy.Pool{
		Name: "sim", SlotsPerNode: slots, MaxNodes: 5000,
		MinIdleSlots:   st.IdleSlots,
		ScaleFactor:    st.ScaleFactor,
		ScaleDownDelay: st.ScaleDownDelay,
		Offerings:      offerings,
		BootTime:       boot,
		WarmStartTime:  warmStart,
	}
	if st.WarmMax > 0 {
		pool.WarmPool = &policy.WarmPool{
			MinSize: st.WarmMin, MaxSize: st.WarmMax, State: policy.WarmStopped,
			ReuseOnScaleIn: true, Offering: cheapestOnDemand(offerings),
		}
	}
	return policy.Policy{}, pool
}

// cheapestOnDemand is the offering a warm pool runs on: Auto Scaling warm
// pools take no Spot instances.
func cheapestOnDemand(offerings []policy.Offering) policy.Offering {
	var best policy.Offering
	for _, o := range offerings {
		if !o.Spot && (best.InstanceType == "" || o.PricePerHour < best.PricePerHour) {
			best = o
		}
	}
	return best
}

// Contenders lists runfleet's policy and the four baselines for jobs:
//   - warm-idle: runfleet's warm pool and idle buffer without the
//     forecast (what the forecast itself adds);
//   - static-peak: a fixed fleet sized for the trace's peak concurrency;
//   - vm-per-job: one new one-slot VM per queued job, gone when the job ends
//     (terraform-aws-github-runner's model);
//   - idle-count: busy plus an idle buffer, blind to the queue (GitLab
//     docker-autoscaler's idle_count / idle_time).
func Contenders(jobs []Job, sc Scenario) []Contender {
	sc = sc.withDefaults()
	st := DefaultSettings()
	if sc.Settings != nil {
		st = *sc.Settings
	}
	pol, pool := Runfleet(sc.Offerings, sc.SlotsPerNode, sc.World.Boot.Median, sc.WarmStart, st)
	peakNodes := int(math.Ceil(float64(PeakConcurrency(jobs)) / float64(sc.SlotsPerNode)))
	perSlot := make([]policy.Offering, len(sc.Offerings))
	for i, o := range sc.Offerings {
		o.PricePerHour /= float64(sc.SlotsPerNode)
		perSlot[i] = o
	}
	base := policy.Pool{Name: "sim", SlotsPerNode: sc.SlotsPerNode, MaxNodes: 5000, Offerings: sc.Offerings}
	static := base
	static.MinNodes, static.MaxNodes = peakNodes, peakNodes
	vm := policy.Pool{Name: "sim", SlotsPerNode: 1, MaxNodes: 5000, Offerings: perSlot}
	idle := base
	idle.MinIdleSlots, idle.ScaleDownDelay = sc.IdleCount, sc.IdleTime
	return []Contender{
		{Name: "runfleet", Planner: pol, Pool: pool, Forecast: &forecast.Config{Quantile: st.Quantile}},
		{Name: "warm-idle", Planner: pol, Pool: pool},
		{Name: "static-peak", Planner: policy.Policy{}, Pool: static},
		{Name: "vm-per-job", Planner: policy.Policy{}, Pool: vm, Ephemeral: true},
		{Name: "idle-count", Planner: IgnoreQueue{}, Pool: idle},
	}
}

func (sc Scenario) withDefaults() Scenario {
	if len(sc.Offerings) == 0 {
		sc.Offerings = DefaultOfferings()
	}
	if sc.SlotsPerNode <= 0 {
		sc.SlotsPerNode = 1
	}
	if sc.IdleCount <= 0 {
		sc.IdleCount = 5
	}
	if sc.IdleTime <= 0 {
		sc.IdleTime = 20 * time.Minute
	}
	if sc.World.Boot.Median <= 0 {
		sc.World.Boot.Median = 30 * time.Second
	}
	if sc.WarmStart <= 0 {
		sc.WarmStart = sc.World.Boot.Median / 3
	}
	if sc.WarmStoragePrice <= 0 {
		sc.WarmStoragePrice = DefaultWarmStoragePrice
	}
	return sc
}

// Compare runs every contender on jobs in the same world, in parallel,
// and returns their results in Contenders' order.
func Compare(jobs []Job, sc Scenario) []Result {
	sc = sc.withDefaults()
	cs := Contenders(jobs, sc)
	if len(sc.Only) > 0 {
		cs = slices.DeleteFunc(cs, func(c Contender) bool { return !slices.Contains(sc.Only, c.Name) })
	}
	out := make([]Result, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			res := Run(jobs, c.Planner, c.Config(sc))
			res.Name = c.Name
			out[i] = res
		})
	}
	wg.Wait()
	return out
}

// Config is the run configuration of c in scenario sc (with defaults).
func (c Contender) Config(sc Scenario) Config {
	cfg := Config{Pool: c.Pool, Tick: sc.Tick, World: sc.World, Ephemeral: c.Ephemeral, Samples: sc.Samples,
		WarmStart: sc.WarmStart, WarmStoragePrice: sc.WarmStoragePrice}
	if c.Forecast != nil {
		fc := *c.Forecast
		cfg.NewForecaster = func() Forecaster { return forecast.New(fc) }
	}
	return cfg
}

// PeakConcurrency is the most jobs running at once if every job started
// the moment it was queued.
func PeakConcurrency(jobs []Job) int {
	type edge struct {
		at    time.Time
		delta int
	}
	edges := make([]edge, 0, 2*len(jobs))
	for _, j := range jobs {
		edges = append(edges, edge{j.Arrival, 1}, edge{j.Arrival.Add(j.Duration), -1})
	}
	slices.SortFunc(edges, func(a, b edge) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta // ends before starts at the same instant
	})
	cur, peak := 0, 0
	for _, e := range edges {
		cur += e.delta
		peak = max(peak, cur)
	}
	return peak
}

// IgnoreQueue is GitLab docker-autoscaler's behaviour: an idle buffer that
// never looks at the queue (busy slots plus idle count only).
type IgnoreQueue struct{ policy.Policy }

// Plan drops the queue from the snapshot before planning.
func (q IgnoreQueue) Plan(s policy.Snapshot) policy.Plan {
	s.Queued = nil
	return q.Policy.Plan(s)
}
