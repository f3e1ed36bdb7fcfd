package controlplane

import (
	"context"
	"errors"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// ErrNotFound is returned (wrapped) by a Store for an unknown node.
var ErrNotFound = errors.New("not found")

// Node is the durable record of one node. Live heartbeat data (busy slots,
// running jobs, conditions) is kept in memory only: a restarted control
// plane learns it again from the next heartbeat.
type Node struct {
	Name       string
	ProviderID string
	Pool       string
	Offering   policy.Offering
	State      policy.NodeState
	Slots      int
	LaunchedAt time.Time
	// RegisteredAt is zero until the agent registered.
	RegisteredAt time.Time
	// DrainAt is when the control plane decided to drain the node.
	DrainAt time.Time
	// Reason says why the node is Draining or NotReady.
	Reason string
	// Cordoned: an operator asked that the node take no new jobs (it
	// keeps running the ones it has and is never retired by the policy
	// while cordoned).
	Cordoned bool
	// BootstrapHash is the SHA-256 of the one-time bootstrap token the
	// provider handed the node at launch; empty once the node used it, or
	// when its provider proves identities otherwise.
	BootstrapHash string
}

// ScaleEvent is one decision carried out, kept for the status command and
// post-mortems.
type ScaleEvent struct {
	At     time.Time
	Kind   string // launch | drain | terminate | capacity-error | throttled | notready
	Pool   string
	Node   string
	Detail string
}

// Store persists the fleet's state. The SQLite store
// (autoscaler/controlplane/sqlitestore) is the default; a Postgres store
// can implement the same methods.
type Store interface {
	// SaveNode inserts or replaces the node named n.Name.
	SaveNode(ctx context.Context, n Node) error
	// DeleteNode removes a node and its tokens; an unknown name is no error.
	DeleteNode(ctx context.Context, name string) error
	Nodes(ctx context.Context) ([]Node, error)
	// SaveToken stores the hash of a node's token (never the token) and
	// revokes (deletes) every earlier token of that node, in one
	// transaction.
	SaveToken(ctx context.Context, hash, node string) error
	// Tokens returns node names by token hash.
	Tokens(ctx context.Context) (map[string]string, error)
	AddCapacityFailure(ctx context.Context, f policy.CapacityFailure) error
	// CapacityFailures returns the failures at or after since.
	CapacityFailures(ctx context.Context, since time.Time) ([]policy.CapacityFailure, error)
	AddScaleEvent(ctx context.Context, e ScaleEvent) error
	// ScaleEvents returns the newest events first, at most limit.
	ScaleEvents(ctx context.Context, limit int) ([]ScaleEvent, error)
}
