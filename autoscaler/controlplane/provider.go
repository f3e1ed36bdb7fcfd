package controlplane

import (
	"context"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// Provider launches and retires nodes (docker containers, EC2 instances).
// Implementations live in autoscaler/provider/... and never import this
// package.
type Provider interface {
	// Offerings lists what the provider can launch (instance type × zone ×
	// spot/on-demand, with prices).
	Offerings(ctx context.Context) ([]policy.Offering, error)
	// Launch starts up to req.Count nodes. It returns the instances that
	// did start, plus a *provider.CapacityError when the offering ran out
	// (possibly alongside some instances), or a *provider.ThrottledError.
	Launch(ctx context.Context, req provider.LaunchRequest) ([]provider.Instance, error)
	// Terminate removes one node by provider id; a node that is gone
	// already is success.
	Terminate(ctx context.Context, providerID string) error
	// List returns the fleet's nodes the provider knows about, including
	// stopped ones (State tells).
	List(ctx context.Context) ([]provider.Instance, error)
}

// EachLauncher is optionally implemented by a Provider whose nodes exist
// before they run (a container is created, then started). LaunchEach
// launches like Launch, and calls started for each node once it exists
// and before its agent can start, so the control plane records it
// (Booting) before the node can register and while the rest of the batch
// is still launching. A node reported but missing from the returned
// instances failed to start and was removed; the control plane forgets
// it. started is called from the goroutine calling LaunchEach.
type EachLauncher interface {
	LaunchEach(ctx context.Context, req provider.LaunchRequest, started func(provider.Instance)) ([]provider.Instance, error)
}

// Demand reports queued jobs by label set (GitLab pending jobs, GitHub
// queued workflow jobs).
type Demand interface {
	Queued(ctx context.Context) ([]policy.QueuedJobs, error)
}
