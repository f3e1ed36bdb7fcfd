package controlplane

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

const (
	minBackoff = 2 * time.Second
	maxBackoff = 5 * time.Minute
)

// ErrBackingOff is returned by Reconcile while the provider throttles us.
var ErrBackingOff = errors.New("provider throttled: backing off")

// Reconcile runs one pass: look at the provider, mark silent or vanished
// nodes NotReady, read demand, plan, and carry out the plan.
func (c *ControlPlane) Reconcile(ctx context.Context) (err error) {
	c.reconMu.Lock()
	defer c.reconMu.Unlock()
	defer func() {
		result := "ok"
		if err != nil {
			result = "error"
		}
		c.m.reconciles.WithLabelValues(result).Inc()
	}()
	now := c.o.Now()
	c.mu.RLock()
	retryAt := c.retryAt
	c.mu.RUnlock()
	if now.Before(retryAt) {
		return fmt.Errorf("%w until %s", ErrBackingOff, retryAt.Format(time.RFC3339))
	}
	insts, err := c.o.Provider.List(ctx)
	if err != nil {
		c.providerFailed(ctx, "list", "", err, now)
		return fmt.Errorf("provider list: %w", err)
	}
	c.syncInstances(ctx, insts, now)
	c.checkLiveness(ctx, now)
	c.enforceDrainTimeouts(ctx, now)

	queued, derr := c.demand(ctx)
	failures, err := c.o.Store.CapacityFailures(ctx, now.Add(-c.failureTTL()))
	if err != nil {
		return fmt.Errorf("capacity failures: %w", err)
	}
	snap := c.snapshot(now, queued, failures)
	c.withSignals(ctx, &snap)
	plan := c.o.Policy.Plan(snap)
	c.observe(snap, plan)
	c.execute(ctx, plan, now)
	c.afterPlan(ctx, snap, plan)
	return derr
}

func (c *ControlPlane) failureTTL() time.Duration {
	if c.o.Policy.FailureTTL > 0 {
		return c.o.Policy.FailureTTL
	}
	return policy.DefaultFailureTTL
}

// demand sums every demand source; a source that fails keeps its share
// of the last known queue out of this pass (the error is returned).
func (c *ControlPlane) demand(ctx context.Context) ([]policy.QueuedJobs, error) {
	var all []policy.QueuedJobs
	var errs []error
	for _, d := range c.o.Demand {
		q, err := d.Queued(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, q...)
	}
	if len(errs) > 0 && len(all) == 0 {
		c.mu.RLock()
		all = c.queued
		c.mu.RUnlock()
	}
	return all, errors.Join(errs...)
}

// syncInstances adopts running instances the store does not know (a
// launch whose record was lost in a crash) and marks nodes whose
// instance is gone or stopped NotReady.
func (c *ControlPlane) syncInstances(ctx context.Context, insts []provider.Instance, now time.Time) {
	seen := map[string]provider.Instance{}
	for _, in := range insts {
		seen[in.ProviderID] = in
	}
	var adopt []Node
	var gone []string
	neverJoined := map[string]bool{}
	c.mu.RLock()
	for _, in := range insts {
		if _, ok := c.byProvider[in.ProviderID]; ok || !alive(in.State) {
			continue
		}
		p, ok := c.pool(in.Pool)
		if !ok {
			continue
		}
		launched := in.LaunchedAt
		if launched.IsZero() {
			launched = now
		}
		adopt = append(adopt, Node{Name: in.Name, ProviderID: in.ProviderID, Pool: in.Pool, Offering: in.Offering,
			State: policy.NodeBooting, Slots: p.SlotsPerNode, LaunchedAt: launched})
	}
	for name, n := range c.nodes {
		n.mu.Lock()
		if n.rec.State != policy.NodeNotReady {
			in, ok := seen[n.rec.ProviderID]
			switch {
			case ok && !alive(in.State):
				gone = append(gone, name)
				n.rec.Reason = "instance " + in.State
				neverJoined[name] = n.rec.RegisteredAt.IsZero()
			case !ok && now.Sub(n.rec.LaunchedAt) > listGrace:
				gone = append(gone, name)
				n.rec.Reason = "instance gone"
				neverJoined[name] = n.rec.RegisteredAt.IsZero()
			}
		}
		n.mu.Unlock()
	}
	c.mu.RUnlock()
	for _, n := range adopt {
		if c.record(ctx, n, now, true) {
			c.log.Info("adopted a running instance the store did not know", "node", n.Name, "provider_id", n.ProviderID)
		}
	}
	for _, name := range gone {
		if neverJoined[name] {
			c.mu.Lock()
			c.bootBackoff = min(max(2*c.bootBackoff, minBackoff), maxBackoff)
			c.bootRetryAt = now.Add(c.bootBackoff)
			wait := c.bootBackoff
			c.mu.Unlock()
			c.log.Warn("a node died before registering: holding launches back", "node", name, "for", wait)
		}
		c.markNotReady(ctx, name, "", now)
	}
}

func alive(state string) bool { return state == "pending" || state == "running" }

// checkLiveness marks nodes that stopped heartbeating, or never
// registered, NotReady.
func (c *ControlPlane) checkLiveness(ctx context.Context, now time.Time) {
	type lost struct{ name, why string }
	var ls []lost
	c.mu.RLock()
	for name, n := range c.nodes {
		n.mu.Lock()
		switch n.rec.State {
		case policy.NodeBooting:
			if now.Sub(later(n.rec.LaunchedAt, n.adoptedAt)) > c.o.BootTimeout {
				ls = append(ls, lost{name, fmt.Sprintf("did not register within %s", c.o.BootTimeout)})
			}
		case policy.NodeReady, policy.NodeDraining:
			if now.Sub(n.lastSeen) > c.o.HeartbeatGrace {
				ls = append(ls, lost{name, fmt.Sprintf("no heartbeat for %s", now.Sub(n.lastSeen).Round(time.Second))})
			}
		}
		n.mu.Unlock()
	}
	c.mu.RUnlock()
	for _, l := range ls {
		c.markNotReady(ctx, l.name, l.why, now)
	}
}

func (c *ControlPlane) markNotReady(ctx context.Context, name, why string, now time.Time) {
	n := c.node(name)
	if n == nil {
		return
	}
	n.mu.Lock()
	if why != "" {
		n.rec.Reason = why
	}
	n.rec.State = policy.NodeNotReady
	rec := n.rec
	n.mu.Unlock()
	c.log.Warn("node NotReady: replacing it", "node", name, "reason", rec.Reason)
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		c.log.Warn("saving node state", "node", name, "err", err)
	}
	c.event(ctx, ScaleEvent{At: now, Kind: "notready", Pool: rec.Pool, Node: name, Detail: rec.Reason})
}

// snapshot builds the policy's view of the fleet.
func (c *ControlPlane) snapshot(now time.Time, queued []policy.QueuedJobs, failures []policy.CapacityFailure) policy.Snapshot {
	s := policy.Snapshot{Now: now, Pools: c.o.Pools, Queued: queued, Failures: failures}
	c.mu.RLock()
	s.Nodes = make([]policy.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		n.mu.Lock()
		pn := policy.Node{
			ID: n.rec.Name, Pool: n.rec.Pool, Offering: n.rec.Offering, State: n.rec.State,
			Slots: n.slots, Busy: n.busy, IdleSince: n.idleSince,
			Interrupted: n.has("Interrupted") || n.has("Rebalance"),
			JobsRun:     len(n.jobsSeen),
		}
		if pn.Slots == 0 {
			pn.Slots = n.rec.Slots
		}
		if n.rec.Cordoned && n.rec.State == policy.NodeReady {
			// An operator's hold: its idle slots take no jobs, and the
			// policy must not retire it.
			pn.Busy = max(pn.Busy, pn.Slots, 1)
		}
		if n.rec.State == policy.NodeDraining && (!n.drainSeen || c.cleanupHold(n, now)) {
			// Not confirmed idle after the drain decision, or still
			// removing its finished jobs' containers: never retire it yet.
			pn.Busy = max(pn.Busy, 1)
		}
		n.mu.Unlock()
		s.Nodes = append(s.Nodes, pn)
	}
	c.mu.RUnlock()
	slices.SortFunc(s.Nodes, func(a, b policy.Node) int { return strings.Compare(a.ID, b.ID) })
	return s
}

// observe updates the gauges from a snapshot and its plan.
func (c *ControlPlane) observe(s policy.Snapshot, p policy.Plan) {
	type series struct {
		pool, offering string
		state          policy.NodeState
	}
	counts := map[series]int{}
	actual := map[string]int{}
	for _, n := range s.Nodes {
		counts[series{n.Pool, offeringKey(n.Offering), n.State}]++
		if n.State == policy.NodeBooting || n.State == policy.NodeReady {
			actual[n.Pool] += n.Slots
		}
	}
	c.m.nodes.Reset()
	for k, v := range counts {
		c.m.nodes.WithLabelValues(k.pool, k.offering, string(k.state)).Set(float64(v))
	}
	for _, pl := range s.Pools {
		c.m.wanted.WithLabelValues(pl.Name).Set(float64(p.Wanted[pl.Name]))
		c.m.actual.WithLabelValues(pl.Name).Set(float64(actual[pl.Name]))
	}
	c.m.queued.Reset()
	for _, q := range s.Queued {
		c.m.queued.WithLabelValues(strings.Join(q.Labels, ",")).Add(float64(q.Count))
	}
	c.mu.Lock()
	c.wanted = p.Wanted
	c.queued = s.Queued
	c.mu.Unlock()
}

// execute carries out a plan: terminate, drain, then launch.
func (c *ControlPlane) execute(ctx context.Context, p policy.Plan, now time.Time) {
	for _, name := range p.Terminate {
		if err := c.terminate(ctx, name, now); err != nil {
			c.log.Warn("terminate", "node", name, "err", err)
			if isThrottled(err) {
				return
			}
		}
	}
	for _, name := range p.Drain {
		c.drain(ctx, name, now)
	}
	c.mu.RLock()
	held := now.Before(c.bootRetryAt)
	c.mu.RUnlock()
	if held && len(p.Launch) > 0 {
		c.log.Debug("launches held back after nodes died before registering")
		return
	}
	for _, l := range p.Launch {
		if err := c.launch(ctx, l, now); err != nil {
			c.log.Warn("launch", "pool", l.Pool, "offering", offeringKey(l.Offering), "count", l.Count, "err", err)
			if isThrottled(err) {
				return
			}
		}
	}
}

func isThrottled(err error) bool {
	var t *provider.ThrottledError
	return errors.As(err, &t)
}

func (c *ControlPlane) terminate(ctx context.Context, name string, now time.Time) error {
	n := c.node(name)
	if n == nil {
		return nil
	}
	n.mu.Lock()
	rec := n.rec
	n.mu.Unlock()
	c.m.decisions.WithLabelValues(rec.Pool, "terminate").Inc()
	if err := c.o.Provider.Terminate(ctx, rec.ProviderID); err != nil && !errors.Is(err, provider.ErrNotFound) {
		c.providerFailed(ctx, "terminate", rec.Pool, err, now)
		return err
	}
	if err := c.forget(ctx, name, rec.ProviderID); err != nil {
		return err
	}
	c.succeeded()
	c.log.Info("node terminated", "node", name, "pool", rec.Pool, "was", rec.State, "reason", rec.Reason)
	c.event(ctx, ScaleEvent{At: now, Kind: "terminate", Pool: rec.Pool, Node: name, Detail: string(rec.State) + " " + rec.Reason})
	return nil
}

func (c *ControlPlane) drain(ctx context.Context, name string, now time.Time) {
	n := c.node(name)
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.rec.State == policy.NodeDraining {
		n.mu.Unlock()
		return
	}
	n.rec.State, n.rec.DrainAt = policy.NodeDraining, now
	n.rec.Reason = "idle past the scale-down delay"
	if n.has("Interrupted") || n.has("Rebalance") {
		n.rec.Reason = "interrupted"
	}
	n.drainSeen = false
	rec := n.rec
	n.mu.Unlock()
	c.m.decisions.WithLabelValues(rec.Pool, "drain").Inc()
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		c.log.Warn("saving node state", "node", name, "err", err)
	}
	c.log.Info("draining node", "node", name, "reason", rec.Reason)
	c.event(ctx, ScaleEvent{At: now, Kind: "drain", Pool: rec.Pool, Node: name, Detail: rec.Reason})
}

func (c *ControlPlane) launch(ctx context.Context, l policy.Launch, now time.Time) error {
	c.m.decisions.WithLabelValues(l.Pool, "launch").Add(float64(l.Count))
	req := provider.LaunchRequest{Pool: l.Pool, Offering: l.Offering, Count: l.Count, Kind: l.Kind, Bootstrap: c.bootstrapFor(l.Pool, l.Offering)}
	p, _ := c.pool(l.Pool)
	var (
		insts    []provider.Instance
		err      error
		reported []provider.Instance
	)
	if el, ok := c.o.Provider.(EachLauncher); ok {
		// Each node is recorded (Booting) as soon as it exists, before its
		// agent runs, so it can register while the batch goes on.
		insts, err = el.LaunchEach(ctx, req, func(in provider.Instance) {
			if c.record(ctx, launchedNode(in, l, p, now), now, false) {
				reported = append(reported, in)
			}
		})
	} else {
		insts, err = c.o.Provider.Launch(ctx, req)
	}
	started := map[string]bool{}
	for _, in := range insts {
		started[in.ProviderID] = true
		// Already recorded when reported, or when its agent registered
		// before Launch returned (adoptRegistering: then without its
		// bootstrap token hash, which armBootstrap adds).
		if !c.record(ctx, launchedNode(in, l, p, now), now, false) {
			c.armBootstrap(ctx, in)
		}
		c.event(ctx, ScaleEvent{At: now, Kind: "launch", Pool: l.Pool, Node: in.Name, Detail: offeringKey(l.Offering)})
	}
	for _, in := range reported {
		if !started[in.ProviderID] {
			// Reported, then failed to start: the provider removed it.
			if ferr := c.forget(ctx, in.Name, in.ProviderID); ferr != nil {
				c.log.Warn("forgetting a node that failed to start", "node", in.Name, "err", ferr)
			}
		}
	}
	c.countLaunch(l, len(insts))
	if len(insts) > 0 {
		c.log.Info("launched nodes", "pool", l.Pool, "offering", offeringKey(l.Offering), "asked", l.Count, "started", len(insts))
	}
	if err == nil {
		c.succeeded()
		return nil
	}
	var ce *provider.CapacityError
	if errors.As(err, &ce) {
		o := ce.Offering
		if o == (policy.Offering{}) {
			o = l.Offering
		}
		c.m.capacityErrors.WithLabelValues(offeringKey(o)).Inc()
		if serr := c.o.Store.AddCapacityFailure(ctx, policy.CapacityFailure{Offering: o, At: now}); serr != nil {
			c.log.Warn("recording a capacity failure", "err", serr)
		}
		c.event(ctx, ScaleEvent{At: now, Kind: "capacity-error", Pool: l.Pool, Detail: ce.Error()})
		c.wake() // try the next offering now
		return err
	}
	c.providerFailed(ctx, "launch", l.Pool, err, now)
	return err
}

// bootstrapFor is what a node of pool on offering gets to join.
func (c *ControlPlane) bootstrapFor(pool string, o policy.Offering) provider.Bootstrap {
	p, _ := c.pool(pool)
	return provider.Bootstrap{FleetURL: c.o.FleetURL, JoinToken: c.o.JoinToken, Privileged: p.AllowPrivileged,
		Labels: map[string]string{provider.LabelPool: pool, provider.LabelOffering: offeringKey(o)}}
}

// providerFailed counts a provider error and backs off when throttled.
func (c *ControlPlane) providerFailed(ctx context.Context, op, pool string, err error, now time.Time) {
	var t *provider.ThrottledError
	if !errors.As(err, &t) {
		c.m.providerErrors.WithLabelValues(op, "error").Inc()
		return
	}
	c.m.providerErrors.WithLabelValues(op, "throttled").Inc()
	c.mu.Lock()
	c.backoff = min(max(2*c.backoff, minBackoff), maxBackoff)
	wait := max(c.backoff, t.RetryAfter)
	c.retryAt = now.Add(wait)
	c.mu.Unlock()
	c.log.Warn("provider throttled us: backing off", "op", op, "for", wait)
	c.event(ctx, ScaleEvent{At: now, Kind: "throttled", Pool: pool, Detail: fmt.Sprintf("%s: retry in %s", op, wait)})
}

func (c *ControlPlane) succeeded() {
	c.mu.Lock()
	c.backoff = 0
	c.mu.Unlock()
}

// node returns the named node's state, or nil.
func (c *ControlPlane) node(name string) *nodeState {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.nodes[name]
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
