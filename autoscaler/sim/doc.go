// Package sim replays job traces (arrival time, duration) through an
// autoscaling policy on a simulated clock and reports what users would
// feel (queue delay percentiles) and what the fleet would cost (node hours
// by price, split by where the money went: CostBreakdown). The live control
// loop's policy.Policy runs here unchanged, so policies are compared on
// real traffic before they touch a cloud.
//
// Compare runs runfleet's policy against the baselines; Sweep runs it over
// many Settings (the frontier of wait against cost); an Oracle replaces the
// forecaster with one that reads the trace, to bound what any forecast
// could achieve with the same policy and boot times.
package sim
