package sim

import (
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// clockGuard wraps the forecaster a run feeds and fails the test when it
// is given anything the simulated clock has not reached: every event it
// has seen when asked for a forecast at now must lie at or before now,
// and no job may be announced as queued before its queue time.
type clockGuard struct {
	t        *testing.T
	inner    *forecast.Forecaster
	arrival  map[string]time.Time
	maxSeen  time.Time
	events   map[forecast.EventKind]int
	asked    int
	violated int
}

func (g *clockGuard) Observe(e forecast.Event) {
	g.events[e.Kind]++
	if e.At.After(g.maxSeen) {
		g.maxSeen = e.At
	}
	if e.Kind == forecast.JobQueued {
		if at, ok := g.arrival[e.JobID]; !ok || e.At.Before(at) {
			g.violated++
			if g.violated < 5 {
				g.t.Errorf("job %s announced as queued at %v, before its queue time %v", e.JobID, e.At, at)
			}
		}
	}
	g.inner.Observe(e)
}

func (g *clockGuard) Expected(now time.Time, h []time.Duration) []policy.ExpectedJobs {
	g.asked++
	if g.maxSeen.After(now) {
		g.violated++
		if g.violated < 5 {
			g.t.Errorf("forecast asked at %v after seeing an event at %v: the forecaster read the future", now, g.maxSeen)
		}
	}
	return g.inner.Expected(now, h)
}

func (g *clockGuard) Pending(now time.Time) bool { return g.inner.Pending(now) }
func (g *clockGuard) Error() (float64, int)      { return g.inner.Error() }

func loadPushTrace(t testing.TB) []Job { return loadTrace(t, pushTrace) }

func TestForecasterNeverReadsAheadOfTheClock(t *testing.T) {
	jobs := loadPushTrace(t)
	g := &clockGuard{t: t, inner: forecast.New(forecast.Config{}), arrival: map[string]time.Time{}, events: map[forecast.EventKind]int{}}
	for _, j := range jobs {
		g.arrival[j.ID] = j.Arrival
	}
	sc := goalScenario().withDefaults()
	c := Contenders(jobs, sc)[0]
	res := Run(jobs, c.Planner, Config{Pool: c.Pool, World: sc.World, WarmStart: sc.WarmStart, WarmStoragePrice: sc.WarmStoragePrice,
		NewForecaster: func() Forecaster { return g }})
	runs := map[string]bool{}
	for _, j := range jobs {
		runs[j.Run.ID] = true
	}
	// The guard saw the whole trace, so it checked something.
	if g.events[forecast.RunStarted] != len(runs) || g.events[forecast.JobQueued] < len(jobs) ||
		g.events[forecast.JobFinished] < len(jobs)-res.InterruptedJobs || g.asked < 1000 {
		t.Errorf("guard saw %v events for %d runs, %d jobs, and %d forecasts", g.events, len(runs), len(jobs), g.asked)
	}
	if res.ForecastError == nil {
		t.Error("no forecast error reported")
	}
}

func TestForecastHidesBootsOnPipelines(t *testing.T) {
	jobs := loadPushTrace(t)
	res := Compare(jobs, goalScenario())
	by := map[string]Result{}
	for _, r := range res {
		by[r.Name] = r
		t.Logf("%-12s %v", r.Name, r)
	}
	rf, wi := by["runfleet"], by["warm-idle"]
	// The forecast launches the fan-out while the first stage runs: far
	// fewer jobs wait than with the same warm pool and buffer alone.
	if rf.Over10s >= wi.Over10s/2 || rf.P95WaitS >= wi.P95WaitS {
		t.Errorf("forecast added nothing: runfleet %v\nwarm-idle %v", rf, wi)
	}
	if rf.ForecastError == nil || wi.ForecastError != nil {
		t.Errorf("forecast error: runfleet %v warm-idle %v", rf.ForecastError, wi.ForecastError)
	}
	if rf.LaunchesWarm == 0 || rf.WarmCost <= 0 || rf.WarmHours <= 0 {
		t.Errorf("warm pool unused or free: %+v", rf)
	}
}

func TestWarmPoolStartsInAWarmStart(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	var jobs []Job
	for i := range 10 { // one job every 10 minutes, nothing announced
		jobs = append(jobs, Job{ID: string(rune('a' + i)), Arrival: start.Add(time.Duration(i) * 10 * time.Minute), Duration: 5 * time.Minute})
	}
	p := pool(0, 1, 0)
	cold := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 1, Boot: BootModel{Median: 45 * time.Second}}})
	p.BootTime, p.WarmStartTime = 45*time.Second, 15*time.Second
	p.WarmPool = &policy.WarmPool{MinSize: 1, MaxSize: 2, State: policy.WarmStopped, ReuseOnScaleIn: true, Offering: od}
	warm := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 1, Boot: BootModel{Median: 45 * time.Second}}, WarmStart: 15 * time.Second, WarmStoragePrice: DefaultWarmStoragePrice})
	t.Logf("cold: %v", cold)
	t.Logf("warm: %v (warm cost %.4f)", warm, warm.WarmCost)
	if cold.QueueP50 != 45*time.Second || warm.QueueP50 != 15*time.Second || warm.QueueMax > 15*time.Second {
		t.Errorf("waits: cold p50 %v, warm p50 %v max %v; want 45 s, 15 s", cold.QueueP50, warm.QueueP50, warm.QueueMax)
	}
	if warm.LaunchesWarm != len(jobs) || warm.WarmCost <= 0 {
		t.Errorf("warm launches %d, warm cost %.4f", warm.LaunchesWarm, warm.WarmCost)
	}
	// Reuse on scale-in: nodes return to the pool, so ten starts need no
	// more boots than the pool's maximum size.
	if warm.WarmFills > p.WarmPool.MaxSize {
		t.Errorf("%d warm pool fills: nodes did not return to the pool", warm.WarmFills)
	}
}

func TestSingleUseNodesRunOneJob(t *testing.T) {
	start := time.Unix(1_700_000_000, 0).UTC()
	var jobs []Job
	for i := range 20 {
		jobs = append(jobs, Job{ID: string(rune('a' + i)), Arrival: start.Add(time.Duration(i) * 30 * time.Second), Duration: 2 * time.Minute})
	}
	p := pool(2, 1, time.Hour)
	p.MaxJobsPerNode = 1
	res := Run(jobs, policy.Policy{}, Config{Pool: p, World: WorldConfig{Seed: 1, Boot: BootModel{Median: 30 * time.Second}}})
	reuse := Run(jobs, policy.Policy{}, Config{Pool: pool(2, 1, time.Hour), World: WorldConfig{Seed: 1, Boot: BootModel{Median: 30 * time.Second}}})
	t.Logf("single-use %v\nreused %v", res, reuse)
	if res.LaunchesCold < len(jobs) || reuse.LaunchesCold >= len(jobs) {
		t.Errorf("launches: single-use %d, reused %d, for %d jobs", res.LaunchesCold, reuse.LaunchesCold, len(jobs))
	}
}

func TestSignalOf(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	run := RunInfo{Repo: "r", Workflow: "ci", ID: "1", Created: t0}
	run2 := run
	run2.ID, run2.Created = "2", t0.Add(time.Hour)
	jobs := []Job{
		{ID: "a", Arrival: t0, Run: run},                       // no earlier signal
		{ID: "b", Arrival: t0.Add(10 * time.Second), Run: run}, // lead 10 s
		{ID: "c", Arrival: t0.Add(70 * time.Second), Run: run}, // lead 60 s
		{ID: "d", Arrival: t0.Add(time.Hour), Run: run2},       // no signal, not first run
		{ID: "e", Arrival: t0.Add(2 * time.Hour)},              // no run
	}
	s := SignalOf(jobs, 15*time.Second, 45*time.Second)
	if s.Jobs != 5 || s.NoRun != 0.2 || s.NoSignal != 0.6 || s.UnderWarm != 0.8 || s.UnderBoot != 0.8 || s.FirstRun != 0.6 {
		t.Errorf("signal %+v", s)
	}
}
