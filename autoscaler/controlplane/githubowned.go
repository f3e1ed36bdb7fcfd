package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// What label mode and scale sets share: a mint within the node's slots,
// a delete of a runner GitHub names as the node's, and the node's record
// of its runners (jitNode) that both keep.

// count is the node's unfinished runners known (n.mu held).
func (n *jitNode) count() int { return len(n.ids) + len(n.scale) }

// add records the node's runner id, minted in label mode (scaleSet "")
// or on the scale set (n.mu held).
func (n *jitNode) add(id int64, scaleSet string) {
	if scaleSet == "" {
		n.ids[id] = true
		return
	}
	n.scale[id] = scaleSet
}

// gone records that node's runner id (label mode's for scaleSet "", else
// the scale set's) is no longer registered.
func (j *githubJIT) gone(node, scaleSet string, id int64) {
	n := j.node(node)
	n.mu.Lock()
	defer n.mu.Unlock()
	if scaleSet == "" {
		delete(n.ids, id)
		return
	}
	delete(n.scale, id)
}

// kind names a runner of scaleSet ("" = label mode) in messages.
func kind(scaleSet string) string {
	if scaleSet == "" {
		return "runner"
	}
	return "scale-set runner"
}

// runnerMint is one mint for a node, in label mode (scaleSet "") or on a
// scale set.
type runnerMint struct {
	scaleSet string
	// call asks GitHub for the JIT config.
	call func(ctx context.Context) (fleetapi.JITConfig, error)
	// unregister deletes the idle registration GitHub may have made for a
	// mint whose answer never came (within the cleanup timeout).
	unregister func(ctx context.Context)
}

// mintWithin carries out m for the node of rec if its unfinished runners
// (label-mode and scale-set ones together) leave one of its slots free,
// and answers the request.
func (c *ControlPlane) mintWithin(w http.ResponseWriter, r *http.Request, rec Node, slots int, refuse func(int, string, string), m runnerMint) {
	j := c.jit
	jn := j.node(rec.Name)
	jn.mu.Lock()
	defer jn.mu.Unlock()
	ctx := r.Context()
	// GitHub is the record of the node's unfinished runners (a JIT runner
	// is registered from its mint until its one job ends): asked at the
	// node's first label-mode mint and whenever the runners known fill
	// its slots.
	if m.scaleSet == "" && !jn.loaded || jn.count() >= slots {
		if err := j.refresh(ctx, jn, rec.Name, rec.Pool); err != nil {
			j.mints.WithLabelValues(resultOf(err)).Inc()
			c.githubError(w, "listing the node's runners", rec.Name, err)
			return
		}
	}
	if n := jn.count(); n >= slots {
		refuse(http.StatusConflict, mintAtCap, fmt.Sprintf("node has %d unfinished runners in its %d slots", n, slots))
		return
	}
	op := "minting a JIT runner config"
	if m.scaleSet != "" {
		op = "minting a scale-set JIT runner config"
	}
	cfg, err := m.call(ctx)
	if err != nil {
		if !refused(err) {
			// No answer (a timeout, the node gone): GitHub may have
			// registered the runner all the same, which nobody would
			// start. Its idle registration goes; label mode's count is
			// GitHub's next time.
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.o.CleanupTimeout)
			m.unregister(uctx)
			cancel()
			if m.scaleSet == "" {
				jn.loaded = false
			}
		}
		j.mints.WithLabelValues(resultOf(err)).Inc()
		c.githubError(w, op, rec.Name, err)
		return
	}
	jn.add(cfg.RunnerID, m.scaleSet)
	j.mints.WithLabelValues(mintOK).Inc()
	if m.scaleSet != "" {
		c.log.Info("minted a GitHub scale-set JIT runner for a node", "node", rec.Name, "scale_set", m.scaleSet, "runner", cfg.Name, "runner_id", cfg.RunnerID)
	} else {
		c.log.Info("minted a GitHub JIT runner for a node", "node", rec.Name, "runner", cfg.Name, "runner_id", cfg.RunnerID)
	}
	writeJSON(w, http.StatusOK, cfg)
}

// runnerRegistry is where a runner deleteOwned deletes is registered:
// label mode's GitHubRunners or a scale set's GitHubScaleSetRunners.
type runnerRegistry interface {
	Runner(ctx context.Context, id int64) (fleetapi.Runner, error)
	DeleteRunner(ctx context.Context, id int64) error
}

// deleteOwned answers a node's DeleteRunnerRequest for runner id of reg
// (label mode's for scaleSet "", else the scale set's): whose runner it is,
// GitHub says, not the node; one already gone (a JIT runner unregisters
// after its job) is deleted already.
func (c *ControlPlane) deleteOwned(w http.ResponseWriter, r *http.Request, node string, reg runnerRegistry, scaleSet string, id int64) {
	ctx, what := r.Context(), kind(scaleSet)
	rn, err := reg.Runner(ctx, id)
	if errors.Is(err, ErrGitHubNotFound) {
		c.jit.gone(node, scaleSet, id)
		writeJSON(w, http.StatusOK, fleetapi.DeleteRunnerResponse{})
		return
	}
	if err != nil {
		c.githubError(w, "looking up a "+what+" to delete", node, err)
		return
	}
	if !c.jit.owns(node, rn.Name) {
		c.log.Warn("a node asked to delete another node's "+what+": refused", "node", node, "runner", rn.Name, "runner_id", rn.ID)
		writeError(w, http.StatusForbidden, fmt.Sprintf("runner %d is not this node's", id))
		return
	}
	if err := reg.DeleteRunner(ctx, rn.ID); err != nil {
		c.githubError(w, "deleting a "+what, node, err)
		return
	}
	c.jit.gone(node, scaleSet, rn.ID)
	writeJSON(w, http.StatusOK, fleetapi.DeleteRunnerResponse{})
}
