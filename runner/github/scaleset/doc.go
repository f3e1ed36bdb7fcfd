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
// The Listener implements the autoscaler's demand interface
// (Queued(ctx) []policy.QueuedJobs). In standalone mode (a Launcher is
// given) it also acts on the demand for this node's own slots: for each
// wanted runner it asks the scale set for a JIT config and hands it to the
// Launcher, which runs the official runner in a container; registrations
// of runners that exit without having taken a job are removed.
//
// Queue→assign→start→finish times carried by the messages become
// Prometheus histograms on the registry passed in.
package scaleset
