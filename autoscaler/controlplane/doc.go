// Package controlplane is runfleet's fleet control plane: it serves the
// fleet API node agents register with and heartbeat to (authenticated by
// the fleet join token, then by a per-node token), keeps the node registry
// in a Store, and runs the reconcile loop that turns demand, the registry
// and the provider's view into a policy.Snapshot, asks the pure policy for
// a Plan and carries it out: launch (recording capacity failures, backing
// off when throttled), drain (a command to the node), terminate drained
// idle nodes (once their job cleanups end, or the drain timeout passes:
// cleaning.go), and replace nodes that vanished, went silent or were
// interrupted. It never runs jobs. With GitHubJIT it also holds the fleet's
// GitHub credentials (githubjit.go): nodes mint JIT runner configs through
// it, for their own runner names, their pool's labels and at most the
// slots they registered (capped at their pool's slots per node), and may
// list, delete and look up only their own runners; their idle
// registrations go when they do. Label mode and scale sets share the mint
// and delete paths (githubowned.go). Runner scale sets
// whose message session the control plane holds (GitHubJITOptions.ScaleSets,
// githubscaleset.go) are minted for the nodes of their pool the same way,
// with busy and job results from the session. The Provider, Demand,
// GitHubRunners and GitHubScaleSetRunners interfaces are defined here, by
// their consumer.
package controlplane
