package sim

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// Result is what a run cost and what users felt. A job's wait is all the
// time it spent queued: before its first start and again after an
// interruption put it back.
type Result struct {
	Name string `json:"name"`
	Jobs int    `json:"jobs"`

	QueueP50 time.Duration `json:"-"`
	QueueP95 time.Duration `json:"-"`
	QueueP99 time.Duration `json:"-"`
	QueueMax time.Duration `json:"-"`
	P50WaitS float64       `json:"p50_wait_s"`
	P95WaitS float64       `json:"p95_wait_s"`
	P99WaitS float64       `json:"p99_wait_s"`
	MaxWaitS float64       `json:"max_wait_s"`
	// Over10s, Over60s, Over120s are the shares of jobs that waited longer.
	Over10s  float64 `json:"share_over_10s"`
	Over60s  float64 `json:"over_60s"`
	Over120s float64 `json:"over_120s"`
	// ZeroWait is the share of jobs that started within one second.
	ZeroWait float64 `json:"zero_wait"`

	// Cost is price × billed hours (per-second billing, one-minute
	// minimum, spot nodes EC2 reclaimed within their first hour free).
	Cost float64 `json:"cost"`
	// Floor is Σ job duration × the cheapest price per slot: what the jobs
	// cost on perfectly used, never idle, cheapest capacity.
	Floor     float64 `json:"floor"`
	CostRatio float64 `json:"cost_ratio"`
	// CostBreakdown splits CostRatio by where the money went.
	CostBreakdown CostBreakdown `json:"cost_breakdown"`
	// IdleRatio is the share of paid slot time (booting included) that ran
	// no job.
	IdleRatio float64 `json:"idle_ratio"`
	NodeHours float64 `json:"node_hours"`

	InterruptedJobs  int `json:"interrupted_jobs"`
	Interruptions    int `json:"interruptions"`
	CapacityFailures int `json:"capacity_failures"`
	// Launches counts every node booted: LaunchesCold into service,
	// WarmFills into the warm pool. LaunchesWarm counts warm-pool nodes
	// started into service.
	Launches     int `json:"launches"`
	LaunchesCold int `json:"launches_cold"`
	LaunchesWarm int `json:"launches_warm"`
	WarmFills    int `json:"warm_fills"`
	PeakNodes    int `json:"peak_nodes"`
	// WarmCost is the part of Cost paid for nodes waiting in the warm
	// pool (their disks), over WarmHours node-hours.
	WarmCost  float64 `json:"warm_cost"`
	WarmHours float64 `json:"warm_hours"`
	// ForecastError is the forecast's weighted absolute percentage error
	// (see forecast.Forecaster.Error); null for policies without one.
	ForecastError *float64 `json:"forecast_error"`

	Series []Sample `json:"-"`
}

func (r Result) String() string {
	return fmt.Sprintf("jobs %d  wait p50 %s p95 %s p99 %s max %s  >10s %.1f%% >60s %.1f%% >120s %.1f%%  cost/floor %.2f  idle %.0f%%  interrupted jobs %d  launches %d  capacity failures %d  peak nodes %d",
		r.Jobs, r.QueueP50.Round(time.Second), r.QueueP95.Round(time.Second), r.QueueP99.Round(time.Second), r.QueueMax.Round(time.Second),
		100*r.Over10s, 100*r.Over60s, 100*r.Over120s, r.CostRatio, 100*r.IdleRatio, r.InterruptedJobs, r.Launches, r.CapacityFailures, r.PeakNodes)
}

// finish computes the figures once every job has run.
func (r *run) finish(all []*simJob) {
	waits := make([]time.Duration, 0, len(all))
	floorHours := 0.0
	for _, j := range all {
		waits = append(waits, j.wait)
		floorHours += j.Duration.Hours()
		if j.interrupted {
			r.res.InterruptedJobs++
		}
	}
	slices.Sort(waits)
	pct := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(waits)))) - 1
		return waits[min(max(i, 0), len(waits)-1)]
	}
	share := func(over time.Duration) float64 {
		n := len(waits) - sortSearch(waits, over)
		return float64(n) / float64(len(waits))
	}
	res := &r.res
	res.QueueP50, res.QueueP95, res.QueueP99, res.QueueMax = pct(0.50), pct(0.95), pct(0.99), waits[len(waits)-1]
	res.P50WaitS, res.P95WaitS, res.P99WaitS, res.MaxWaitS = res.QueueP50.Seconds(), res.QueueP95.Seconds(), res.QueueP99.Seconds(), res.QueueMax.Seconds()
	res.Over10s, res.Over60s, res.Over120s = share(10*time.Second), share(time.Minute), share(2*time.Minute)
	res.ZeroWait = 1 - share(time.Second)
	res.Cost, res.WarmCost = r.costs.total(), r.costs.warmStorage
	res.Floor = floorHours * cheapestPerSlot(r.cfg)
	if res.Floor > 0 {
		res.CostRatio = res.Cost / res.Floor
	}
	res.CostBreakdown = r.costs.breakdown(res.Floor)
	if r.paidSec > 0 {
		res.IdleRatio = 1 - r.busySec/r.paidSec
	}
	if r.series != nil {
		res.Series = r.series.samples()
	}
}

// sortSearch is the index of the first wait above d.
func sortSearch(waits []time.Duration, d time.Duration) int {
	i, _ := slices.BinarySearchFunc(waits, d, func(w, d time.Duration) int {
		if w <= d {
			return -1
		}
		return 1
	})
	return i
}

// cheapestPerSlot is the lowest price per slot-hour among the pool's
// offerings.
func cheapestPerSlot(cfg Config) float64 {
	best := math.Inf(1)
	for _, o := range cfg.Pool.Offerings {
		best = min(best, o.PricePerHour/float64(max(cfg.Pool.SlotsPerNode, 1)))
	}
	if math.IsInf(best, 1) {
		return 0
	}
	return best
}

// Sample is one point of the demand/fleet/queue time series: the maxima
// over its time bucket.
type Sample struct {
	At     time.Time
	Demand int // jobs queued or running
	Slots  int // slots of nodes alive (booting included)
	Queue  int // jobs queued
}

type seriesRecorder struct {
	start  time.Time
	width  time.Duration
	points []Sample
	seen   []bool
}

func newSeriesRecorder(from, to time.Time, n int) *seriesRecorder {
	w := max(to.Sub(from)/time.Duration(n), time.Second)
	return &seriesRecorder{start: from, width: w, points: make([]Sample, n+1), seen: make([]bool, n+1)}
}

func (s *seriesRecorder) add(at time.Time, demand, slots, queue int) {
	i := int(at.Sub(s.start) / s.width)
	if i < 0 {
		return
	}
	for i >= len(s.points) {
		s.points = append(s.points, Sample{})
		s.seen = append(s.seen, false)
	}
	p := &s.points[i]
	if !s.seen[i] {
		*p = Sample{At: s.start.Add(time.Duration(i) * s.width)}
		s.seen[i] = true
	}
	p.Demand, p.Slots, p.Queue = max(p.Demand, demand), max(p.Slots, slots), max(p.Queue, queue)
}

// samples fills buckets the run skipped over (nothing changed there) with
// the fleet of the bucket before.
func (s *seriesRecorder) samples() []Sample {
	out := make([]Sample, len(s.points))
	var prev Sample
	for i, p := range s.points {
		if !s.seen[i] {
			p = Sample{At: s.start.Add(time.Duration(i) * s.width), Slots: prev.Slots}
		}
		out[i] = p
		prev = p
	}
	return out
}
