// Package sim replays job traces (arrival time, duration) through an
// autoscaling policy on a simulated clock and reports what users would
// feel (queue delay percentiles) and what the fleet would cost (node hours
// by price). The live control loop's policy.Policy runs here unchanged, so
// policies are compared on real traffic before they touch a cloud.
package sim
