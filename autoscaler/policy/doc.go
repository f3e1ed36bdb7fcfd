// Package policy is the autoscaler's brain, and nothing else: a pure
// function from a Snapshot of the fleet (pools, nodes, queued jobs, recent
// capacity failures, the forecast, the time) to a Plan (nodes to launch,
// cold or warm, on which offerings; nodes to drain and terminate; how many
// to hold in each warm pool). It does no I/O and reads
// no clock, so the live control loop and the trace simulator run exactly
// the same code.
package policy
