package controlplane

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// Admin actions on one node, served on the admin listener and
// authenticated with Options.AdminToken ("Authorization: Bearer …").
// Without an admin token they are disabled (403).
const (
	// PathAdminCordon: POST → NodeStatus. The node takes no new jobs.
	PathAdminCordon = "/admin/v1/nodes/{name}/cordon"
	// PathAdminUncordon: POST → NodeStatus. Undoes a cordon.
	PathAdminUncordon = "/admin/v1/nodes/{name}/uncordon"
	// PathAdminDrain: POST → NodeStatus. The node finishes its jobs and
	// is retired (terminated once it reports Draining with no busy slot,
	// or by the drain timeout).
	PathAdminDrain = "/admin/v1/nodes/{name}/drain"
)

// ErrNotRunning is returned (wrapped) by Cordon and Drain for a node that
// is already being replaced.
var ErrNotRunning = errors.New("node is being replaced")

// Cordon sets (or with on=false clears) an operator's cordon on a node:
// it is told to take no new jobs, its idle slots stop counting as
// capacity and the policy never retires it while cordoned.
func (c *ControlPlane) Cordon(ctx context.Context, name string, on bool) (fleetapi.NodeStatus, error) {
	n := c.node(name)
	if n == nil {
		return fleetapi.NodeStatus{}, fmt.Errorf("node %q: %w", name, ErrNotFound)
	}
	n.mu.Lock()
	if n.rec.State == policy.NodeNotReady {
		n.mu.Unlock()
		return fleetapi.NodeStatus{}, fmt.Errorf("node %q: %w", name, ErrNotRunning)
	}
	n.rec.Cordoned = on
	rec := n.rec
	n.mu.Unlock()
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		return fleetapi.NodeStatus{}, err
	}
	kind := "cordon"
	if !on {
		kind = "uncordon"
	}
	c.log.Info("node "+kind+"ed by an operator", "node", name)
	c.event(ctx, ScaleEvent{At: c.o.Now(), Kind: kind, Pool: rec.Pool, Node: name, Detail: "operator"})
	c.wake()
	return c.nodeStatus(n), nil
}

// Drain starts draining a node on an operator's request: it finishes its
// running jobs, takes no new ones, and is terminated once it reports
// Draining with no busy slot (or by the drain timeout, see
// Options.DrainTimeout).
func (c *ControlPlane) Drain(ctx context.Context, name string) (fleetapi.NodeStatus, error) {
	n := c.node(name)
	if n == nil {
		return fleetapi.NodeStatus{}, fmt.Errorf("node %q: %w", name, ErrNotFound)
	}
	now := c.o.Now()
	n.mu.Lock()
	switch n.rec.State {
	case policy.NodeNotReady:
		n.mu.Unlock()
		return fleetapi.NodeStatus{}, fmt.Errorf("node %q: %w", name, ErrNotRunning)
	case policy.NodeDraining:
		n.mu.Unlock()
		return c.nodeStatus(n), nil
	}
	n.rec.State, n.rec.DrainAt, n.rec.Reason = policy.NodeDraining, now, "drained by an operator"
	n.drainSeen = false
	rec := n.rec
	n.mu.Unlock()
	c.m.decisions.WithLabelValues(rec.Pool, "drain").Inc()
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		return fleetapi.NodeStatus{}, err
	}
	c.log.Info("draining node on an operator's request", "node", name)
	c.event(ctx, ScaleEvent{At: now, Kind: "drain", Pool: rec.Pool, Node: name, Detail: rec.Reason})
	c.wake()
	return c.nodeStatus(n), nil
}

func (c *ControlPlane) nodeStatus(n *nodeState) fleetapi.NodeStatus {
	n.mu.Lock()
	defer n.mu.Unlock()
	return fleetapi.NodeStatus{
		Name: n.rec.Name, ProviderID: n.rec.ProviderID, Pool: n.rec.Pool, Offering: offeringKey(n.rec.Offering),
		State: string(n.rec.State), Slots: n.slots, Busy: n.busy, Cleaning: n.cleaning, Conditions: n.conditions, Running: n.running,
		LaunchedAt: n.rec.LaunchedAt, RegisteredAt: n.rec.RegisteredAt, LastHeartbeat: n.heartbeatAt(),
	}
}

// adminAuth wraps an admin action with the admin token check.
func (c *ControlPlane) adminAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if c.o.AdminToken == "" {
			writeError(w, http.StatusForbidden, "admin actions are disabled: no admin token configured")
			return
		}
		tok := bearer(r)
		if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.o.AdminToken)) != 1 {
			c.reject(w, r, http.StatusUnauthorized, "invalid admin token", authAdminToken,
				"admin request with a wrong admin token rejected", "path", r.URL.Path)
			return
		}
		next(w, r)
	}
}

func (c *ControlPlane) handleAdminAction(action string) http.HandlerFunc {
	return c.adminAuth(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		var st fleetapi.NodeStatus
		var err error
		switch action {
		case "cordon":
			st, err = c.Cordon(r.Context(), name, true)
		case "uncordon":
			st, err = c.Cordon(r.Context(), name, false)
		case "drain":
			st, err = c.Drain(r.Context(), name)
		}
		switch {
		case errors.Is(err, ErrNotFound):
			writeError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, ErrNotRunning):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			c.log.Error("admin "+action, "node", name, "err", err)
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeJSON(w, http.StatusOK, st)
		}
	})
}

// enforceDrainTimeouts terminates Draining nodes that never confirmed the
// drain (no heartbeat with the Draining condition) within DrainTimeout,
// but only when their last heartbeat reported no busy slot and no
// running job, or, whatever they run, once DrainHardLimit has passed too.
// Either way it logs at error level: an agent that ignores drain is a bug
// or a wedged node.
func (c *ControlPlane) enforceDrainTimeouts(ctx context.Context, now time.Time) {
	if c.o.DrainTimeout <= 0 {
		return
	}
	type victim struct {
		name, why string
		running   int
	}
	var vs []victim
	c.mu.RLock()
	for name, n := range c.nodes {
		n.mu.Lock()
		if n.rec.State == policy.NodeDraining && !n.drainSeen && !n.rec.DrainAt.IsZero() {
			waited := now.Sub(n.rec.DrainAt)
			idle := n.busy == 0 && len(n.running) == 0
			hard := c.o.DrainHardLimit > 0 && waited > c.o.DrainHardLimit
			switch {
			case waited <= c.o.DrainTimeout:
			case idle || hard:
				why := fmt.Sprintf("drain not confirmed within %s; its last heartbeat reported 0 running jobs", c.o.DrainTimeout)
				if !idle {
					why = fmt.Sprintf("drain not confirmed within the hard limit %s", c.o.DrainHardLimit)
				}
				n.rec.Reason = "drain timeout"
				vs = append(vs, victim{name, why, max(n.busy, len(n.running))})
			case !n.drainTimeoutLogged:
				n.drainTimeoutLogged = true
				c.log.Warn("DRAIN TIMEOUT: node never confirmed the drain but reports running jobs: waiting (drain_hard_limit ends the wait)",
					"node", name, "waited", waited.Round(time.Second), "busy", n.busy, "running", len(n.running), "hard_limit", c.o.DrainHardLimit)
			}
		}
		n.mu.Unlock()
	}
	c.mu.RUnlock()
	for _, v := range vs {
		c.log.Error("DRAIN TIMEOUT: terminating a node that never confirmed the drain", "node", v.name, "why", v.why, "running_jobs", v.running)
		c.m.drainTimeouts.Inc()
		if err := c.terminate(ctx, v.name, now); err != nil {
			c.log.Warn("terminate after drain timeout", "node", v.name, "err", err)
			if isThrottled(err) {
				return
			}
		}
	}
}
