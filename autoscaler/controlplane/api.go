package controlplane

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
	"github.com/runfleet/runfleet/autoscaler/provider"
)

const maxBody = 1 << 20

// Handler serves the fleet API (register, heartbeat) for node agents.
func (c *ControlPlane) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+fleetapi.PathRegister, c.handleRegister)
	mux.HandleFunc("POST "+fleetapi.PathHeartbeat, c.handleHeartbeat)
	c.githubRoutes(mux) // githubjit.go
	return mux
}

// AdminHandler serves the admin view (fleetapi.PathAdminNodes), /metrics
// from gatherer, and the admin actions (PathAdminCordon, PathAdminDrain…)
// which need Options.AdminToken. Serve it on a loopback or otherwise
// private address: the view and the metrics are not authenticated.
func (c *ControlPlane) AdminHandler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+fleetapi.PathAdminNodes, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, c.Status())
	})
	mux.HandleFunc("POST "+PathAdminCordon, c.handleAdminAction("cordon"))
	mux.HandleFunc("POST "+PathAdminUncordon, c.handleAdminAction("uncordon"))
	mux.HandleFunc("POST "+PathAdminDrain, c.handleAdminAction("drain"))
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", fleetapi.ContentType)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="runfleet-fleet"`)
	}
	writeJSON(w, code, fleetapi.Error{Error: msg})
}

func bearer(r *http.Request) string {
	h := r.Header.Get(fleetapi.HeaderAuthorization)
	if !strings.HasPrefix(h, fleetapi.BearerPrefix) {
		return ""
	}
	return strings.TrimSpace(h[len(fleetapi.BearerPrefix):])
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, fleetapi.ContentType) {
		return fmt.Errorf("content type %q: want %s", ct, fleetapi.ContentType)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %w", err)
	}
	return nil
}

// hashToken is how tokens are kept: only their SHA-256.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

func newNodeToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "rfn_" + hex.EncodeToString(b[:])
}

func (c *ControlPlane) handleRegister(w http.ResponseWriter, r *http.Request) {
	// The join token is checked before the body is read.
	tok := bearer(r)
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(c.o.JoinToken)) != 1 {
		c.reject(w, r, http.StatusUnauthorized, "invalid join token", authJoinToken, "register with a wrong join token rejected")
		return
	}
	if ex, _ := c.auth.exhausted(source(r)); ex {
		// Past its failure budget, a source gets no identity check and no
		// provider call until the budget refills.
		c.tooMany(w, r)
		return
	}
	var req fleetapi.RegisterRequest
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Name == "" || req.ProviderID == "" {
		writeError(w, http.StatusBadRequest, "name and provider_id are required")
		return
	}
	ctx := r.Context()
	now := c.o.Now()
	c.mu.RLock()
	name, ok := c.byProvider[req.ProviderID]
	var n *nodeState
	if ok {
		n = c.nodes[name]
	}
	c.mu.RUnlock()
	if !ok {
		var err error
		if n, err = c.adoptRegistering(ctx, req.Name, req.ProviderID, now); err != nil {
			c.log.Warn("register: cannot check an unknown node with the provider", "name", req.Name, "provider_id", req.ProviderID, "err", err)
			writeError(w, http.StatusServiceUnavailable, "cannot check the node with the provider; retry")
			return
		}
		ok, name = n != nil, req.Name
	}
	if !ok || n == nil || name != req.Name {
		c.reject(w, r, http.StatusForbidden, "unknown node: not launched by this control plane", authUnknownNode,
			"register from a node this control plane did not launch rejected", "name", req.Name, "provider_id", req.ProviderID)
		return
	}
	// One registration of a node at a time: each revokes the tokens
	// before it, in the store and in memory, in the same order.
	n.regMu.Lock()
	defer n.regMu.Unlock()
	if err := c.proveIdentity(ctx, n, req.Identity); err != nil {
		if errors.Is(err, errIdentityPending) {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		c.reject(w, r, http.StatusForbidden, "the node did not prove it is instance "+req.ProviderID, authIdentity,
			"register without a proof of the instance rejected", "name", req.Name, "provider_id", req.ProviderID, "err", err)
		return
	}
	n.mu.Lock()
	rec := n.rec
	n.mu.Unlock()
	if rec.State == policy.NodeNotReady {
		writeError(w, http.StatusConflict, "node is being replaced: "+rec.Reason)
		return
	}

	first := rec.RegisteredAt.IsZero()
	if first {
		rec.RegisteredAt = now
	} else {
		// The node's agent restarted: the idle runners it left go before
		// it gets a token to mint new ones.
		c.removeRunners(ctx, rec.Name, whyRegistered)
	}
	if rec.State == policy.NodeBooting {
		rec.State = policy.NodeReady
	}
	if req.Capacity.Slots > 0 {
		rec.Slots = c.capSlots(rec.Pool, req.Capacity.Slots)
		if rec.Slots < req.Capacity.Slots {
			c.log.Warn("node reports more slots than its pool gives a node: capped", "node", rec.Name,
				"reported", req.Capacity.Slots, "slots", rec.Slots)
		}
	}
	nodeTok := newNodeToken()
	h := hashToken(nodeTok)
	// SaveToken revokes the node's earlier tokens.
	if err := c.o.Store.SaveToken(ctx, h, rec.Name); err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot store the node token")
		c.log.Error("register", "node", rec.Name, "err", err)
		return
	}
	if err := c.o.Store.SaveNode(ctx, rec); err != nil {
		writeError(w, http.StatusServiceUnavailable, "cannot store the node")
		c.log.Error("register", "node", rec.Name, "err", err)
		return
	}
	c.mu.Lock()
	if cur := c.nodes[rec.Name]; cur == n {
		n.mu.Lock()
		// Keep a state the reconcile loop set meanwhile (Draining).
		if n.rec.State != policy.NodeBooting {
			rec.State, rec.DrainAt, rec.Reason = n.rec.State, n.rec.DrainAt, n.rec.Reason
		}
		rec.Cordoned = n.rec.Cordoned
		n.rec = rec
		n.slots = rec.Slots
		n.lastSeen = now
		if n.busy == 0 && (first || n.idleSince.IsZero()) {
			n.idleSince = now
		}
		n.mu.Unlock()
		for _, old := range c.tokensOf[rec.Name] {
			delete(c.tokens, old)
		}
		c.tokens[h] = rec.Name
		c.tokensOf[rec.Name] = []string{h}
	}
	if first {
		c.bootBackoff, c.bootRetryAt = 0, time.Time{}
	}
	c.mu.Unlock()
	if first {
		c.m.bootSeconds.WithLabelValues(rec.Pool).Observe(now.Sub(rec.LaunchedAt).Seconds())
		c.log.Info("node registered", "node", rec.Name, "pool", rec.Pool, "slots", rec.Slots, "boot", now.Sub(rec.LaunchedAt).Round(100*time.Millisecond))
		c.wake()
	} else {
		c.log.Info("node registered again: its earlier token is revoked", "node", rec.Name)
	}
	pool, _ := c.pool(rec.Pool)
	writeJSON(w, http.StatusOK, fleetapi.RegisterResponse{
		NodeToken: nodeTok, HeartbeatIntervalSeconds: int(c.o.HeartbeatInterval.Seconds()),
		MaxJobs: pool.MaxJobsPerNode, // the node enforces it itself: no second job before the drain
	})
}

// authNode finds the node whose token the request carries, and its name,
// answering the request itself (401; call says what was refused in the
// log) when there is none. The token is checked before the body is read,
// under a read lock on the registry only: nodes' calls never wait for
// each other, nor for a reconcile pass walking the nodes.
func (c *ControlPlane) authNode(w http.ResponseWriter, r *http.Request, call string) (string, *nodeState, bool) {
	tok := bearer(r)
	var name string
	var n *nodeState
	if tok != "" {
		c.mu.RLock()
		name = c.tokens[hashToken(tok)]
		n = c.nodes[name]
		c.mu.RUnlock()
	}
	if n == nil {
		c.reject(w, r, http.StatusUnauthorized, "invalid node token", authNodeToken, call+" with an invalid node token rejected")
		return "", nil, false
	}
	return name, n, true
}

func (c *ControlPlane) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	name, n, ok := c.authNode(w, r, "heartbeat")
	if !ok {
		return
	}
	var hb fleetapi.Heartbeat
	if err := decode(w, r, &hb); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	now := c.o.Now()
	n.mu.Lock()
	if hb.Name != n.rec.Name || hb.ProviderID != n.rec.ProviderID {
		n.mu.Unlock()
		c.reject(w, r, http.StatusForbidden, "unknown node: not launched by this control plane", authUnknownNode,
			"heartbeat for another node rejected", "token_node", name, "name", hb.Name, "provider_id", hb.ProviderID)
		return
	}
	wasInterrupted := n.has(fleetapi.ConditionInterrupted) || n.has(fleetapi.ConditionRebalance)
	n.lastSeen = now
	if hb.Slots > 0 {
		n.slots = c.capSlots(n.rec.Pool, hb.Slots)
	}
	hb.Busy = min(max(hb.Busy, 0), max(n.slots, n.rec.Slots))
	if hb.Busy == 0 && n.busy > 0 {
		n.idleSince = now
	}
	if hb.Busy > 0 {
		n.idleSince = time.Time{}
	} else if n.idleSince.IsZero() {
		n.idleSince = now
	}
	n.busy, n.running, n.conditions, n.cleaning = hb.Busy, hb.Running, hb.Conditions, max(hb.Cleaning, 0)
	n.countJobs(hb.Running)
	if n.rec.State == policy.NodeDraining && n.has(fleetapi.ConditionDraining) {
		n.drainSeen = true
	}
	interrupted := !wasInterrupted && (n.has(fleetapi.ConditionInterrupted) || n.has(fleetapi.ConditionRebalance))
	resp := fleetapi.HeartbeatResponse{Commands: commandsFor(n)}
	pool := n.rec.Pool
	n.mu.Unlock()
	c.m.heartbeats.Inc()
	if interrupted {
		kind := fleetapi.ConditionRebalance
		for _, cd := range hb.Conditions {
			if cd.Type == fleetapi.ConditionInterrupted {
				kind = cd.Type
			}
		}
		c.m.interruptions.WithLabelValues(pool, kind).Inc()
		c.log.Warn("node reports an interruption: replacing it", "node", name, "kind", kind)
		c.wake()
	}
	writeJSON(w, http.StatusOK, resp)
}

// commandsFor derives the commands in force from the node's state; they
// repeat on every heartbeat (level-triggered).
func commandsFor(n *nodeState) []fleetapi.Command {
	switch n.rec.State {
	case policy.NodeDraining:
		return []fleetapi.Command{{Type: fleetapi.CommandDrain, Reason: n.rec.Reason}}
	case policy.NodeNotReady:
		return []fleetapi.Command{{Type: fleetapi.CommandTerminate, Reason: n.rec.Reason}}
	}
	if n.rec.Cordoned {
		return []fleetapi.Command{{Type: fleetapi.CommandCordon, Reason: "cordoned by an operator"}}
	}
	return nil
}

func offeringKey(o policy.Offering) string { return provider.OfferingKey(o) }

func sortNodes(ns []fleetapi.NodeStatus) {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].Pool != ns[j].Pool {
			return ns[i].Pool < ns[j].Pool
		}
		return ns[i].Name < ns[j].Name
	})
}
