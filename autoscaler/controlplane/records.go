package controlplane

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// record publishes a node the control plane did not know yet and saves
// it. It reports false, and changes nothing, when the name or the
// provider id is known already (a launch, an adoption and a registration
// may all find the same node). The new node's own lock is held across the
// save, so a registration racing with it saves its record after this
// Booting one, never before.
func (c *ControlPlane) record(ctx context.Context, rec Node, now time.Time, adopted bool) bool {
	n := &nodeState{rec: rec, lastSeen: now, slots: rec.Slots}
	if adopted {
		n.adoptedAt = now
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	c.mu.Lock()
	_, byName := c.nodes[rec.Name]
	_, byID := c.byProvider[rec.ProviderID]
	if byName || byID {
		c.mu.Unlock()
		return false
	}
	c.nodes[rec.Name] = n
	c.byProvider[rec.ProviderID] = rec.Name
	c.mu.Unlock()
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		c.log.Error("recording a node (it will be adopted from the provider's list)", "node", rec.Name, "err", err)
	}
	return true
}

// forget drops a node from the store and the registry, tokens included.
func (c *ControlPlane) forget(ctx context.Context, name, providerID string) error {
	c.removeRunners(ctx, name, whyRemoved) // githubjit.go
	if err := c.o.Store.DeleteNode(ctx, name); err != nil {
		return fmt.Errorf("forgetting node %s: %w", name, err)
	}
	c.mu.Lock()
	delete(c.nodes, name)
	if c.byProvider[providerID] == name {
		delete(c.byProvider, providerID)
	}
	for _, h := range c.tokensOf[name] {
		delete(c.tokens, h)
	}
	delete(c.tokensOf, name)
	c.mu.Unlock()
	return nil
}

// launchedNode is the Booting record of an instance a launch started.
func launchedNode(in provider.Instance, l policy.Launch, p policy.Pool, now time.Time) Node {
	launched := in.LaunchedAt
	if launched.IsZero() {
		launched = now
	}
	n := Node{Name: in.Name, ProviderID: in.ProviderID, Pool: l.Pool, Offering: l.Offering,
		State: policy.NodeBooting, Slots: p.SlotsPerNode, LaunchedAt: launched}
	if in.BootstrapToken != "" {
		n.BootstrapHash = hashToken(in.BootstrapToken)
	}
	return n
}

// instanceLister coalesces the provider List calls registrations of
// unknown nodes make: a caller reuses the answer of a List that started
// after it arrived (so it sees every instance that existed then), and
// otherwise runs one itself, one at a time.
type instanceLister struct {
	started atomic.Uint64
	mu      sync.Mutex
	done    uint64 // the started count of the last successful List
	insts   []provider.Instance
}

func (l *instanceLister) list(ctx context.Context, p Provider) ([]provider.Instance, error) {
	arrived := l.started.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done > arrived {
		return l.insts, nil
	}
	g := l.started.Add(1)
	insts, err := p.List(ctx)
	if err != nil {
		return nil, err
	}
	l.done, l.insts = g, insts
	return insts, nil
}

// adoptRegistering is asked about a registration whose provider id the
// registry does not know: a node may register before the provider's
// Launch call returned (the control plane records a batch when it
// returns). It asks the provider once; if the id is one of the fleet's
// live instances under that name, in a known pool, the node is recorded
// (Booting) and returned. Anything else is a stranger: nil.
func (c *ControlPlane) adoptRegistering(ctx context.Context, name, providerID string, now time.Time) (*nodeState, error) {
	insts, err := c.lister.list(ctx, c.o.Provider)
	if err != nil {
		c.m.providerErrors.WithLabelValues("list", "error").Inc()
		return nil, fmt.Errorf("provider list: %w", err)
	}
	for _, in := range insts {
		if in.ProviderID != providerID {
			continue
		}
		p, ok := c.pool(in.Pool)
		if in.Name != name || !alive(in.State) || !ok {
			return nil, nil
		}
		l := policy.Launch{Pool: in.Pool, Offering: in.Offering}
		if c.record(ctx, launchedNode(in, l, p, now), now, false) {
			c.log.Info("a node registered before its launch call returned: recorded it", "node", name, "provider_id", providerID)
		}
		c.mu.RLock()
		defer c.mu.RUnlock()
		if c.byProvider[providerID] != name {
			return nil, nil
		}
		return c.nodes[name], nil
	}
	return nil, nil
}
