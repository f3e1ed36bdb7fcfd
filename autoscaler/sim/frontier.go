package sim

import (
	"runtime"
	"sync"
)

// Sweep runs runfleet's policy on jobs once per settings, planning with
// runfleet's forecaster (oracle "") or an Oracle in the given mode, in the
// scenario's world, and returns the results in settings' order, each
// named by its settings (after the oracle mode). It runs as many at once
// as there are CPUs.
func Sweep(jobs []Job, sc Scenario, settings []Settings, oracle OracleMode) []Result {
	sc = sc.withDefaults()
	out := make([]Result, len(settings))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, st := range settings {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			pol, pool := Runfleet(sc.Offerings, sc.SlotsPerNode, sc.World.Boot.Median, sc.WarmStart, st)
			c := Contender{Planner: pol, Pool: pool}
			if oracle != "" {
				c.NewForecaster = func() Forecaster { return NewOracle(jobs, oracle) }
			} else {
				c.Forecast = st.forecastConfig()
			}
			res := Run(jobs, c.Planner, c.Config(sc))
			res.Name = st.String()
			if oracle != "" {
				res.Name = string(oracle) + " " + res.Name
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out
}
