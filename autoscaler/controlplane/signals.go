package controlplane

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// Forecaster predicts demand from the runs in progress (a LiveForecast
// fed by the demand sources); the control plane asks it
// once per pass, for its pools' boot and warm-start horizons.
type Forecaster interface {
	Expected(now time.Time, horizons []time.Duration) []policy.ExpectedJobs
	Error() (wape float64, scored int)
}

// WarmPooler is optionally implemented by a Provider that keeps warm
// pools: nodes made ahead of time that a warm launch starts in seconds.
type WarmPooler interface {
	// Warm counts the nodes waiting in pool's warm pool.
	Warm(ctx context.Context, pool string) (int, error)
	// FillWarm makes size nodes wait in req.Pool's warm pool.
	FillWarm(ctx context.Context, req provider.LaunchRequest, size int) (int, error)
}

// Queue-wait phases of a job (runfleet_fleet_job_wait_seconds).
const (
	// PhaseCapacity: from queued until a slot of its pool was free.
	PhaseCapacity = "queued_to_capacity"
	// PhaseStart: from that slot being free until the job started.
	PhaseStart = "capacity_to_started"
	// PhaseTotal: from queued until started.
	PhaseTotal = "queued_to_started"
)

// signalMetrics are the series of instant start: launches by kind, warm
// pools, the forecast and the jobs' queue-wait phases.
type signalMetrics struct {
	launches      *prometheus.CounterVec
	warmNodes     *prometheus.GaugeVec
	warmTarget    *prometheus.GaugeVec
	expected      *prometheus.GaugeVec
	forecastError prometheus.Gauge
	jobWait       *prometheus.HistogramVec
}

func newSignalMetrics() *signalMetrics {
	return &signalMetrics{
		launches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runfleet_fleet_launches_total", Help: "Nodes launched, by pool and kind (cold: booted; warm: started from the warm pool).",
		}, []string{"pool", "kind"}),
		warmNodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_warm_pool_nodes", Help: "Nodes waiting in each pool's warm pool.",
		}, []string{"pool"}),
		warmTarget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_warm_pool_target", Help: "Warm pool size the last plan asked for, per pool.",
		}, []string{"pool"}),
		expected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "runfleet_fleet_forecast_expected_jobs", Help: "Jobs the forecast expects to queue within a cold boot, per pool (slots the last plan provisioned for them).",
		}, []string{"pool"}),
		forecastError: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runfleet_fleet_forecast_error_ratio", Help: "The forecast's weighted absolute percentage error so far (|expected - arrived| / arrived).",
		}),
		jobWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "runfleet_fleet_job_wait_seconds", Help: "Queue wait of the jobs the fleet saw start, by phase: queued_to_capacity, capacity_to_started, queued_to_started.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 300, 600},
		}, []string{"phase"}),
	}
}

func (m *signalMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.launches, m.warmNodes, m.warmTarget, m.expected, m.forecastError, m.jobWait}
}

// capacityLog remembers, per pool, the reconcile passes that saw a free
// ready slot, to split a job's wait into its phases.
type capacityLog struct {
	mu   sync.Mutex
	free map[string][]time.Time // pool → pass times with a free slot, in order
}

// keep bounds how far back capacityLog remembers.
const capacityLogSpan = 6 * time.Hour

func (l *capacityLog) record(s policy.Snapshot) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.free == nil {
		l.free = map[string][]time.Time{}
	}
	for _, p := range s.Pools {
		for _, n := range s.Nodes {
			if n.Pool == p.Name && n.State == policy.NodeReady && !n.Interrupted && n.Busy < n.Slots {
				ts := append(l.free[p.Name], s.Now)
				i, _ := slices.BinarySearchFunc(ts, s.Now.Add(-capacityLogSpan), func(a, b time.Time) int { return a.Compare(b) })
				l.free[p.Name] = ts[i:]
				break
			}
		}
	}
}

// readyAt is the first pass at or after queued that saw a free slot of
// pool, no later than started.
func (l *capacityLog) readyAt(pool string, queued, started time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.free[pool]
	i, _ := slices.BinarySearchFunc(ts, queued, func(a, b time.Time) int { return a.Compare(b) })
	if i < len(ts) && ts[i].Before(started) {
		return ts[i]
	}
	return started
}

// ObserveJobStarted records the queue-wait phases of a job of pool that
// queued at queued and started at started (a demand source calls it when
// it sees the job start: a workflow_job in_progress delivery, a GitLab
// job leaving pending). Capacity counts as ready at the first reconcile
// pass after queued that saw a free ready slot in the pool.
func (c *ControlPlane) ObserveJobStarted(pool string, queued, started time.Time) {
	if started.Before(queued) {
		return
	}
	ready := c.capLog.readyAt(pool, queued, started)
	c.sig.jobWait.WithLabelValues(PhaseCapacity).Observe(ready.Sub(queued).Seconds())
	c.sig.jobWait.WithLabelValues(PhaseStart).Observe(started.Sub(ready).Seconds())
	c.sig.jobWait.WithLabelValues(PhaseTotal).Observe(started.Sub(queued).Seconds())
}

// PoolFor names the pool that takes jobs with labels ("" for none).
func (c *ControlPlane) PoolFor(labels []string) string {
	for _, p := range c.o.Pools {
		ok := true
		for _, l := range labels {
			ok = ok && slices.Contains(p.Labels, l)
		}
		if ok {
			return p.Name
		}
	}
	return ""
}

// withSignals adds the forecast and the nodes waiting in warm pools to a
// snapshot.
func (c *ControlPlane) withSignals(ctx context.Context, s *policy.Snapshot) {
	if c.o.Forecaster != nil {
		s.Expected = c.o.Forecaster.Expected(s.Now, policy.Horizons(s.Pools))
		wape, _ := c.o.Forecaster.Error()
		c.sig.forecastError.Set(wape)
	}
	wp, ok := c.o.Provider.(WarmPooler)
	if !ok {
		return
	}
	for _, p := range s.Pools {
		if p.WarmPool == nil {
			continue
		}
		n, err := wp.Warm(ctx, p.Name)
		if err != nil {
			c.log.Warn("counting the warm pool", "pool", p.Name, "err", err)
			continue
		}
		c.sig.warmNodes.WithLabelValues(p.Name).Set(float64(n))
		for i := range n {
			s.Nodes = append(s.Nodes, policy.Node{ID: fmt.Sprintf("warm/%s/%d", p.Name, i), Pool: p.Name,
				Offering: p.WarmPool.Offering, State: policy.NodeWarm, Slots: p.SlotsPerNode})
		}
	}
}

// afterPlan records what the plan says about the signals and keeps each
// warm pool at the plan's target.
func (c *ControlPlane) afterPlan(ctx context.Context, s policy.Snapshot, plan policy.Plan) {
	c.capLog.record(s)
	for pool, n := range plan.Expected {
		c.sig.expected.WithLabelValues(pool).Set(float64(n))
	}
	wp, ok := c.o.Provider.(WarmPooler)
	for pool, target := range plan.WarmTarget {
		c.sig.warmTarget.WithLabelValues(pool).Set(float64(target))
		p, found := c.pool(pool)
		if !ok || !found || p.WarmPool == nil {
			continue
		}
		req := provider.LaunchRequest{Pool: pool, Offering: p.WarmPool.Offering, Bootstrap: c.bootstrapFor(pool, p.WarmPool.Offering)}
		n, err := wp.FillWarm(ctx, req, target)
		if err != nil {
			c.log.Warn("filling the warm pool", "pool", pool, "target", target, "err", err)
		}
		c.sig.warmNodes.WithLabelValues(pool).Set(float64(n))
	}
}

// countLaunch counts nodes a launch started, by kind.
func (c *ControlPlane) countLaunch(l policy.Launch, started int) {
	kind := l.Kind
	if kind == "" {
		kind = policy.LaunchCold
	}
	c.sig.launches.WithLabelValues(l.Pool, string(kind)).Add(float64(started))
}

// countJobs remembers the jobs a heartbeat reported running. The caller
// holds n.mu.
func (n *nodeState) countJobs(running []fleetapi.RunningJob) {
	for _, j := range running {
		if n.jobsSeen == nil {
			n.jobsSeen = map[string]bool{}
		}
		n.jobsSeen[j.ID] = true
	}
}
