// Package runner is the node agent's core, the same for every platform:
// one slot loop for every job source (a GitLab runner, a GitHub label-mode
// table, a GitHub scale set: each a Source). The node's concurrent slots
// are shared fairly among the sources, each within its own limit; idle
// runners of a standby source (Standby) give a slot up to a source that
// has none, and a source that knows its demand (DemandWaiter) holds no
// slot until it has work. A job holds its slot until it has ended, so
// busy counts (Status, as heartbeats report them), metrics, cordon,
// pause, drain and the shutdown grace hold for every kind of job; a job
// that is a Cleaner has its engine cleanup run after its slot is freed,
// at most Concurrent at once and after the jobs starting meanwhile are up
// (Starter), and the agent waits for those before it stops. The
// package also holds the one job vocabulary (State, FailureReason), the
// agent's Prometheus metrics and its health endpoint. Platforms live in
// runner/gitlab and runner/github; the core knows neither. Time comes
// from runner/clock.
package runner
