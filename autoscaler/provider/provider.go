// Package provider holds the vocabulary the control plane and its node
// providers share: what a launch request and a launched instance look
// like, and the typed errors that drive scaling decisions (a capacity
// error makes the policy skip an offering for a while; throttling makes
// the loop back off). The Provider interface itself is defined by its
// consumer, the control plane; implementations live in sub-packages
// (docker, aws) and never import the control plane.
package provider

import (
	"errors"
	"fmt"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Labels (tags on cloud instances) put on every node a provider creates,
// so List and cleanup are one exact query.
const (
	// LabelManaged marks a node as created by a runfleet control plane ("true").
	LabelManaged = "dev.runfleet.managed"
	// LabelFleet holds the fleet name, so two fleets never touch each other's nodes.
	LabelFleet = "dev.runfleet.fleet"
	// LabelPool holds the node's pool name.
	LabelPool = "dev.runfleet.pool"
	// LabelOffering holds the offering key (see OfferingKey).
	LabelOffering = "dev.runfleet.offering"
)

// LaunchRequest asks a provider for Count nodes of one pool on one offering.
type LaunchRequest struct {
	Pool     string
	Offering policy.Offering
	Count    int
	// Kind is policy.LaunchWarm to start nodes waiting in the pool's warm
	// pool (a provider without one, or with too few, boots the rest cold),
	// or cold ("" too) for new nodes.
	Kind policy.LaunchKind
	// Bootstrap is what a node needs to join the fleet: the control plane's
	// URL and the join token (passed as user-data, env or a file; never
	// logged).
	Bootstrap Bootstrap
}

// Bootstrap is handed to each new node so its agent can register.
type Bootstrap struct {
	FleetURL  string
	JoinToken string
	// Labels are extra node labels the agent reports (pool, offering).
	Labels map[string]string
	// Privileged: the pool allows privileged job containers (a
	// single-use pool for Docker-in-Docker builds).
	Privileged bool
}

// Instance is one node as the provider sees it.
type Instance struct {
	// ProviderID is the provider's own id (container id, EC2 instance id).
	ProviderID string
	// Name is the node name the agent will register with.
	Name     string
	Pool     string
	Offering policy.Offering
	// State is the provider's view: pending, running, stopping, terminated.
	State      string
	LaunchedAt time.Time
	// BootstrapToken, set by providers that hand each node its own secret
	// at launch (the docker provider: an environment variable of the
	// container), is what the node presents once, at its first
	// registration, to prove it is this instance. The control plane keeps
	// only its hash. Empty for providers whose instances prove themselves
	// otherwise (EC2's signed instance identity document). Never logged.
	BootstrapToken string
}

// Identity is a cloud-signed statement of which instance a node is (an
// EC2 instance identity document and its signature), presented at
// registration.
type Identity struct {
	// Document is the signed document as served by the metadata service.
	Document []byte
	// Signature is the signature over Document as served (base64).
	Signature []byte
}

// ErrIdentity is returned (wrapped) when an identity does not prove the
// instance it is presented for.
var ErrIdentity = errors.New("instance identity not proven")

// CapacityError says an offering had no capacity (spot pool empty,
// InsufficientInstanceCapacity, MaxSpotInstanceCountExceeded, ...). Launch
// returns it alongside whatever did start; the policy skips the offering
// for its failure TTL.
type CapacityError struct {
	Offering policy.Offering
	// Code is the provider's error code, e.g. InsufficientInstanceCapacity.
	Code string
	Err  error
}

func (e *CapacityError) Error() string {
	return fmt.Sprintf("no capacity for %s: %s: %v", OfferingKey(e.Offering), e.Code, e.Err)
}

func (e *CapacityError) Unwrap() error { return e.Err }

// ThrottledError says the provider's API rate-limited the call; retry after
// RetryAfter (zero: use the caller's backoff).
type ThrottledError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *ThrottledError) Error() string { return fmt.Sprintf("throttled: %v", e.Err) }

func (e *ThrottledError) Unwrap() error { return e.Err }

// ErrNotFound is returned (wrapped) when an instance is unknown; Terminate
// treats an instance that is gone already as success and does not return it.
var ErrNotFound = errors.New("instance not found")

// OfferingKey is the stable text form of an offering used in labels, tags,
// metrics and the state store: "type/zone/spot" or "type/zone/on-demand".
func OfferingKey(o policy.Offering) string {
	market := "on-demand"
	if o.Spot {
		market = "spot"
	}
	return o.InstanceType + "/" + o.Zone + "/" + market
}
