package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Defaults for Options left zero.
const (
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatGrace    = 30 * time.Second
	DefaultBootTimeout       = 5 * time.Minute
	DefaultReconcileInterval = 10 * time.Second
	DefaultDrainTimeout      = 10 * time.Minute
	// listGrace is how long a freshly launched node may be missing from
	// the provider's List (eventual consistency) before it counts as gone.
	listGrace = time.Minute
)

// Options configure a ControlPlane.
type Options struct {
	Store    Store
	Provider Provider
	Demand   []Demand
	Pools    []policy.Pool
	Policy   policy.Policy
	// JoinToken is the fleet join token new nodes present on register.
	JoinToken string
	// FleetURL is the fleet API's address as nodes reach it.
	FleetURL string
	// HeartbeatInterval is asked of agents; HeartbeatGrace is how long a
	// node may stay silent before it is NotReady (and replaced).
	HeartbeatInterval time.Duration
	HeartbeatGrace    time.Duration
	// BootTimeout is how long a launched node may take to register.
	BootTimeout time.Duration
	// ReconcileInterval is the loop's period (interruptions and new
	// registrations wake it earlier).
	ReconcileInterval time.Duration
	// AdminToken authenticates the admin actions (cordon, drain); empty
	// disables them.
	AdminToken string
	// DrainTimeout: a Draining node that has not confirmed the drain (a
	// heartbeat with the Draining condition) this long after the drain
	// decision is terminated anyway, if its last heartbeat reported no
	// running job. DrainHardLimit (0: never) terminates it whatever it
	// runs. A negative DrainTimeout disables both; zero means
	// DefaultDrainTimeout.
	DrainTimeout   time.Duration
	DrainHardLimit time.Duration
	Now            func() time.Time
	Logger         *slog.Logger
	Registry       prometheus.Registerer
	// Forecaster, when set, is asked for the demand expected within each
	// pool's boot and warm-start horizons (see signals.go).
	Forecaster Forecaster
	// GitHubJIT, when set, serves the GitHub runner API to nodes whose
	// [[github]] tables use the fleet's credentials (githubjit.go).
	GitHubJIT *GitHubJITOptions
}

// ControlPlane is the fleet's registry, API and reconcile loop.
type ControlPlane struct {
	o       Options
	m       *metrics
	log     *slog.Logger
	kick    chan struct{}
	reconMu sync.Mutex // one reconcile at a time

	// mu guards the maps and the loop's own fields below; each node's
	// fields are guarded by its own nodeState.mu, taken after mu (never
	// the other way round). Heartbeats only read-lock mu for the token
	// lookup and then lock their own node, so a reconcile pass walking the
	// registry never holds a lock that every heartbeat waits for.
	mu         sync.RWMutex
	nodes      map[string]*nodeState // by name
	byProvider map[string]string     // provider id → name
	tokens     map[string]string     // token hash → name
	tokensOf   map[string][]string   // name → token hashes
	backoff    time.Duration
	retryAt    time.Time
	// Nodes that die before registering (a broken image, a bad config)
	// hold launches back, doubling up to maxBackoff: no crash loop.
	bootBackoff time.Duration
	bootRetryAt time.Time
	wanted      map[string]int
	queued      []policy.QueuedJobs
	// lister answers registrations of nodes whose launch call has not
	// returned yet.
	lister instanceLister
	// auth counts failed authentications per source address.
	auth *authLimiter
	// sig and capLog: instant-start signals (signals.go).
	sig    *signalMetrics
	capLog capacityLog
	// jit serves nodes' GitHub calls (nil: not configured; githubjit.go).
	jit *githubJIT
}

// nodeState is a node's durable record plus what its heartbeats said.
type nodeState struct {
	// regMu serialises the node's registrations (each revokes the tokens
	// before it); taken before mu, and before ControlPlane.mu.
	regMu      sync.Mutex
	mu         sync.Mutex // guards every field below
	rec        Node
	lastSeen   time.Time
	slots      int
	busy       int
	running    []fleetapi.RunningJob
	conditions []fleetapi.Condition
	idleSince  time.Time
	// cleaning: job cleanups the last heartbeat reported still running
	// (cleaning.go).
	cleaning int
	// cleanupHoldLogged: the cleanup hold ran out (logged once).
	cleanupHoldLogged bool
	// drainSeen: a heartbeat after the drain decision reported the
	// Draining condition, so busy is trustworthy for termination.
	drainSeen bool
	// drainTimeoutLogged: the drain timed out while jobs ran (logged once).
	drainTimeoutLogged bool
	// jobsSeen holds the ids of the jobs heartbeats reported running
	// (single-use pools retire a node after its first).
	jobsSeen map[string]bool
	// adoptedAt is when this control plane took over a node it did not
	// launch in this run (loaded from the store after a restart, or found
	// in the provider's list): the boot timeout counts from then, not
	// from a launch time that may be long past.
	adoptedAt time.Time
}

// New loads the registry from the store and returns a control plane ready
// to serve and Run. Nodes found in the store are adopted: their tokens
// stay valid and their heartbeat grace starts now.
func New(ctx context.Context, o Options) (*ControlPlane, error) {
	if o.Store == nil || o.Provider == nil {
		return nil, errors.New("controlplane: Store and Provider are required")
	}
	if o.JoinToken == "" {
		return nil, errors.New("controlplane: a join token is required")
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatGrace <= 0 {
		o.HeartbeatGrace = DefaultHeartbeatGrace
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = DefaultBootTimeout
	}
	if o.ReconcileInterval <= 0 {
		o.ReconcileInterval = DefaultReconcileInterval
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range o.Pools {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("controlplane: %w", err)
		}
		for _, w := range p.Warnings() {
			o.Logger.Error(w)
		}
	}
	c := &ControlPlane{
		o: o, m: newMetrics(o.Registry), log: o.Logger, kick: make(chan struct{}, 1),
		nodes: map[string]*nodeState{}, byProvider: map[string]string{}, tokens: map[string]string{},
		tokensOf: map[string][]string{}, wanted: map[string]int{},
	}
	c.auth = newAuthLimiter(o.Now, c.log, c.m)
	var err error
	if c.jit, err = newGitHubJIT(o.GitHubJIT, o.Registry); err != nil {
		return nil, err
	}
	c.sig = newSignalMetrics()
	if o.Registry != nil {
		o.Registry.MustRegister(c.sig.collectors()...)
	}
	recs, err := o.Store.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("controlplane: loading nodes: %w", err)
	}
	toks, err := o.Store.Tokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("controlplane: loading tokens: %w", err)
	}
	now := o.Now()
	for _, r := range recs {
		c.nodes[r.Name] = &nodeState{rec: r, lastSeen: now, idleSince: now, slots: r.Slots, adoptedAt: now}
		c.byProvider[r.ProviderID] = r.Name
	}
	for h, n := range toks {
		if _, ok := c.nodes[n]; ok {
			c.tokens[h] = n
			c.tokensOf[n] = append(c.tokensOf[n], h)
		}
	}
	if len(recs) > 0 {
		c.log.Info("adopted nodes from the store", "nodes", len(recs))
	}
	return c, nil
}

// Run reconciles every ReconcileInterval (and when woken) until ctx ends.
func (c *ControlPlane) Run(ctx context.Context) error {
	t := time.NewTicker(c.o.ReconcileInterval)
	defer t.Stop()
	for {
		if err := c.Reconcile(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.kick:
		}
	}
}

// wake asks Run for a reconcile soon.
func (c *ControlPlane) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *ControlPlane) pool(name string) (policy.Pool, bool) {
	for _, p := range c.o.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return policy.Pool{}, false
}

func (c *ControlPlane) event(ctx context.Context, e ScaleEvent) {
	c.m.scaleEvents.WithLabelValues(e.Pool, e.Kind).Inc()
	if err := c.o.Store.AddScaleEvent(ctx, e); err != nil {
		c.log.Warn("recording a scale event", "err", err)
	}
}

// Status is the admin view of the fleet.
func (c *ControlPlane) Status() fleetapi.NodeList {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := fleetapi.NodeList{Nodes: make([]fleetapi.NodeStatus, 0, len(c.nodes)), Wanted: map[string]int{}}
	for _, n := range c.nodes {
		out.Nodes = append(out.Nodes, c.nodeStatus(n)) // admin.go
	}
	sortNodes(out.Nodes)
	for k, v := range c.wanted {
		out.Wanted[k] = v
	}
	for _, q := range c.queued {
		out.Queued = append(out.Queued, fleetapi.QueuedJobs{Labels: q.Labels, Count: q.Count})
	}
	return out
}

func (n *nodeState) heartbeatAt() time.Time {
	if n.rec.RegisteredAt.IsZero() {
		return time.Time{}
	}
	return n.lastSeen
}

func (n *nodeState) has(cond string) bool {
	for _, c := range n.conditions {
		if c.Type == cond {
			return true
		}
	}
	return false
}
