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

// Demand reports queued jobs by label set (GitLab pending jobs, GitHub
// queued workflow jobs).
type Demand interface {
	Queued(ctx context.Context) ([]policy.QueuedJobs, error)
}
