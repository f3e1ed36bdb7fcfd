package controlplane

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

// IdentityVerifier is implemented by a Provider whose instances prove
// which instance they are with a cloud-signed document (the aws
// provider: the EC2 instance identity document). VerifyIdentity returns
// an error wrapping provider.ErrIdentity unless id is a valid statement,
// signed by the cloud, that the caller is the instance providerID.
type IdentityVerifier interface {
	VerifyIdentity(ctx context.Context, providerID string, id provider.Identity) error
}

// errIdentityPending: the node's provider hands out bootstrap tokens but
// the launch that started it has not returned its token yet; the node
// retries.
var errIdentityPending = errors.New("the node's launch has not completed yet; retry")

// proveIdentity checks that a registration for n comes from the instance
// itself. A node launched with a bootstrap token must present it; it is
// consumed at once (under the node's lock, so two registrations racing
// with one token cannot both pass). Otherwise a provider that verifies
// signed identities checks the document. A node with neither proof is
// refused: a registration needs more than the fleet-wide join token.
func (c *ControlPlane) proveIdentity(ctx context.Context, n *nodeState, id fleetapi.Identity) error {
	n.mu.Lock()
	h, pid, registered := n.rec.BootstrapHash, n.rec.ProviderID, !n.rec.RegisteredAt.IsZero()
	if h != "" {
		if id.BootstrapToken == "" || subtle.ConstantTimeCompare([]byte(hashToken(id.BootstrapToken)), []byte(h)) != 1 {
			n.mu.Unlock()
			return fmt.Errorf("%w: wrong or missing bootstrap token", provider.ErrIdentity)
		}
		n.rec.BootstrapHash = "" // one use; saved with the registered record
		n.mu.Unlock()
		return nil
	}
	n.mu.Unlock()
	if v, ok := c.o.Provider.(IdentityVerifier); ok {
		if id.Document == "" || id.Signature == "" {
			return fmt.Errorf("%w: no signed instance identity document", provider.ErrIdentity)
		}
		return v.VerifyIdentity(ctx, pid, provider.Identity{Document: []byte(id.Document), Signature: []byte(id.Signature)})
	}
	if !registered {
		return errIdentityPending
	}
	return fmt.Errorf("%w: the node's bootstrap token was used already", provider.ErrIdentity)
}

// armBootstrap gives a node recorded before its launch returned (it
// registered early and was found in the provider's list, without its
// token) the bootstrap token hash the launch handed it.
func (c *ControlPlane) armBootstrap(ctx context.Context, in provider.Instance) {
	if in.BootstrapToken == "" {
		return
	}
	c.mu.RLock()
	n := c.nodes[c.byProvider[in.ProviderID]]
	c.mu.RUnlock()
	if n == nil {
		return
	}
	n.mu.Lock()
	if n.rec.ProviderID != in.ProviderID || n.rec.BootstrapHash != "" || !n.rec.RegisteredAt.IsZero() {
		n.mu.Unlock()
		return
	}
	n.rec.BootstrapHash = hashToken(in.BootstrapToken)
	rec := n.rec
	n.mu.Unlock()
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		c.log.Warn("saving a node's bootstrap token hash", "node", rec.Name, "err", err)
	}
}

// capSlots caps the slots a node reports at its pool's slots per node: a
// node cannot claim more capacity than its pool gives it.
func (c *ControlPlane) capSlots(pool string, reported int) int {
	p, ok := c.pool(pool)
	if !ok || p.SlotsPerNode <= 0 {
		return reported
	}
	return min(reported, p.SlotsPerNode)
}
