package main

import (
	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/sim"
)

// newLiveForecast is the control plane's forecaster, fed by the GitHub
// and GitLab demand sources: configured as the simulator's runfleet
// policy configures its own (sim.DefaultSettings), so a trace replayed
// through `autoscaler simulate` shows what the live loop does with the
// same signals.
func newLiveForecast() *controlplane.LiveForecast {
	// The rate of unannounced arrivals is measured over the simulator's
	// window; pools with an idle_risk size their buffer from it.
	return controlplane.NewLiveForecast(forecast.Config{Quantile: sim.DefaultSettings().Quantile, RateWindow: sim.RateWindow}, nil)
}
