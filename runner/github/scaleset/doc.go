// Package scaleset is runfleet's scale-set mode for GitHub Actions: it
// keeps a runner scale set (github.com/actions/scaleset) registered by
// name, holds the scale set's one message session, long-polls its
// messages, acknowledges them and acquires the jobs they offer (through
// the client library's own listener), and turns the statistics into a
// demand signal: desired runners = min(max, min idle + assigned jobs).
//
// Recovery is the package's main job: a 409 on the session (another
// listener still holds it, or GitHub has not yet expired a crashed one)
// is waited out and retried; a 404 (GitHub deleted the scale set after it
// stayed offline, or evicted the session) makes the listener resolve the
// scale set by name again, re-creating it when it is gone, and open a new
// session. Any other failure is retried with backoff.
//
// The Listener reports the demand (Queued, Desired). With a Launcher it is
// also a job source of the agent's one slot loop (runner.Source): a slot
// waits for demand, then Acquire mints a JIT config on the scale set,
// launches the official runner in a container and returns the job once
// GitHub hands it one, so busy counts, heartbeats, metrics, cordon, drain
// and the shutdown grace hold for scale-set jobs too. Idle runners above
// the demand, or whose slot stops, are withdrawn by removing their
// registration (GitHub refuses when the runner just took a job, which then
// runs); registrations of runners that exit without a job are removed.
//
// Every call of the scale-set client and of its message sessions waits at
// the agent's rate-limit gate for the App or token, the one label mode's
// client waits at (RateGate): a 429, a secondary limit or an exhausted
// primary limit seen by any call pauses them all until the time has
// passed. Every launched runner is journaled (runner/journal) from its JIT
// config until its registration is gone; after a crash, Recover removes
// the registrations the killed agent left, once.
//
// Queue→assign→start→finish times carried by the messages become
// Prometheus histograms on the registry passed in.
package scaleset
