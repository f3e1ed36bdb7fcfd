package controlplane

import (
	"time"

	"github.com/runfleet/runfleet/autoscaler/policy"
)

// cleanupHold reports whether the draining node n must not be terminated
// yet because its last heartbeat reported job cleanups still running
// (its finished jobs' containers, networks and volumes being removed: a
// termination would leave them half done). The hold lasts at most the
// drain timeout (DefaultDrainTimeout when drain timeouts are off) from
// the later of the drain decision and the end of the node's last job, so
// a node whose cleanups hang still goes. n.mu held.
func (c *ControlPlane) cleanupHold(n *nodeState, now time.Time) bool {
	if n.rec.State != policy.NodeDraining || n.cleaning <= 0 {
		return false
	}
	bound := c.o.DrainTimeout
	if bound <= 0 {
		bound = DefaultDrainTimeout
	}
	since := n.rec.DrainAt
	if n.idleSince.After(since) {
		since = n.idleSince
	}
	if now.Sub(since) < bound {
		return true
	}
	if !n.cleanupHoldLogged {
		n.cleanupHoldLogged = true
		c.log.Warn("drained node still reports job cleanups past the drain timeout: terminating it anyway",
			"node", n.rec.Name, "cleaning", n.cleaning, "since", since, "bound", bound)
	}
	return false
}
