package main

import (
	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// liveQuantile is the forecast quantile of the simulator's runfleet
// policy (autoscaler/sim: plan for the runs whose waves come early).
const liveQuantile = 0.9

// newLiveForecast is the control plane's forecaster, fed by the GitHub
// and GitLab demand sources: configured as the simulator's runfleet
// policy configures its own, so a trace replayed through `autoscaler
// simulate` shows what the live loop does with the same signals.
func newLiveForecast() *controlplane.LiveForecast {
	return controlplane.NewLiveForecast(forecast.Config{Quantile: liveQuantile}, nil)
}
