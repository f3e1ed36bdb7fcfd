package sim

import (
	"runtime"
	"sync"
)

// Forecasts a sweep plans with.
const (
	// WithForecaster: runfleet's forecaster (forecast.New).
	WithForecaster = ""
	// WithSignalOracle: an Oracle that knows each job from its first
	// signal on: the bound for any forecaster.
	WithSignalOracle = "oracle"
	// WithClairvoyant: an Oracle that knows every arrival from the start.
	WithClairvoyant = "clairvoyant"
)

// Sweep runs runfleet's policy on jobs once per settings, planning with
// the forecast named by with, in the scenario's world, and returns the
// results in settings' order, each named "with settings". It runs as many
// at once as there are CPUs.
func Sweep(jobs []Job, sc Scenario, settings []Settings, with string) []Result {
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
			switch with {
			case WithSignalOracle, WithClairvoyant:
				c.NewForecaster = func() Forecaster { return NewOracle(jobs, with == WithClairvoyant) }
			default:
				c.Forecast = st.forecastConfig()
			}
			res := Run(jobs, c.Planner, c.Config(sc))
			res.Name = st.String()
			if with != WithForecaster {
				res.Name = with + " " + res.Name
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out
}
