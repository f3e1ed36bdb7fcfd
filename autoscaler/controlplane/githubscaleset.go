package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
)

// GitHubScaleSetRunners is what the control plane needs from one GitHub
// runner scale set whose message session it holds (as
// actions-runner-controller's listener does): cmd/autoscaler wires the
// scale-set client (github.com/actions/scaleset) and the listener that
// acquires the scale set's jobs and reports its demand. Errors wrap the
// typed errors of GitHubRunners.
type GitHubScaleSetRunners interface {
	// MintJIT generates a JIT runner config named name on the scale set.
	MintJIT(ctx context.Context, name string) (fleetapi.JITConfig, error)
	// RunnerByName is the registration named name (found false when none).
	RunnerByName(ctx context.Context, name string) (fleetapi.Runner, bool, error)
	// Runner is the registration with id (ErrGitHubNotFound when none).
	Runner(ctx context.Context, id int64) (fleetapi.Runner, error)
	// DeleteRunner removes a registration: gone already is no error, a
	// runner running a job is ErrGitHubBusy.
	DeleteRunner(ctx context.Context, id int64) error
	// Job is what the scale set's message session said of the job of the
	// runner named runner (JobStarted, JobCompleted), found false when it
	// said nothing yet.
	Job(runner string) (ScaleSetJob, bool)
}

// ScaleSetJob is a job of a scale set as its message session reports it.
type ScaleSetJob struct {
	ID        int64
	Completed bool
	// Result of a completed job: succeeded, failed, canceled (the scale
	// set service's words).
	Result string
}

// GitHubScaleSet is one scale set ([github_jit.scale_sets.NAME]).
type GitHubScaleSet struct {
	// Pool is the pool whose nodes run the scale set's runners.
	Pool string
	API  GitHubScaleSetRunners
}

// scaleSetFor checks that the node of pool may use the scale set named
// name; the error is the refusal to send.
func (j *githubJIT) scaleSetFor(name, pool string) (GitHubScaleSet, error) {
	s, ok := j.o.ScaleSets[name]
	switch {
	case !ok:
		return s, fmt.Errorf("scale set %q is not configured on the control plane ([github_jit.scale_sets.%s])", name, name)
	case s.Pool != pool:
		return s, fmt.Errorf("scale set %q belongs to pool %q, not to this node's pool %q", name, s.Pool, pool)
	}
	return s, nil
}

// nodeScaleSet is the node's record and the scale set named name, which
// its pool must have; it answers 403 itself otherwise.
func (c *ControlPlane) nodeScaleSet(w http.ResponseWriter, n *nodeState, name string) (Node, GitHubScaleSet, bool) {
	n.mu.Lock()
	rec := n.rec
	n.mu.Unlock()
	s, err := c.jit.scaleSetFor(name, rec.Pool)
	if err != nil {
		writeError(w, http.StatusForbidden, err.Error())
		return rec, s, false
	}
	return rec, s, true
}

// mintScaleSet mints a runner of the scale set req.ScaleSet for the node
// of rec, within the node's slots (label-mode and scale-set runners
// together).
func (c *ControlPlane) mintScaleSet(w http.ResponseWriter, r *http.Request, rec Node, req fleetapi.JITRequest, slots int, refuse func(int, string, string)) {
	j := c.jit
	s, err := j.scaleSetFor(req.ScaleSet, rec.Pool)
	if err != nil {
		refuse(http.StatusForbidden, mintWrongLabels, err.Error())
		return
	}
	c.mintWithin(w, r, rec, slots, refuse, runnerMint{
		scaleSet:   req.ScaleSet,
		call:       func(ctx context.Context) (fleetapi.JITConfig, error) { return s.API.MintJIT(ctx, req.Name) },
		unregister: func(ctx context.Context) { j.removeScaleSetNamed(ctx, c, s, rec.Name, req.Name) },
	})
}

// refresh asks GitHub which of the node's runners are still registered
// (n.mu held): label mode's by its list (when the node's pool has label
// mode), the scale sets' one by one (the scale-set service lists no
// runners by prefix). A JIT runner unregisters after its one job, so what
// is gone has finished.
func (j *githubJIT) refresh(ctx context.Context, n *jitNode, node, pool string) error {
	if _, label := j.o.Pools[pool]; label && (!n.loaded || len(n.ids) > 0) {
		if err := j.reload(ctx, n, node); err != nil {
			return err
		}
	}
	for id, name := range n.scale {
		s, ok := j.o.ScaleSets[name]
		if !ok {
			delete(n.scale, id)
			continue
		}
		switch _, err := s.API.Runner(ctx, id); {
		case errors.Is(err, ErrGitHubNotFound):
			delete(n.scale, id)
		case err != nil:
			return err
		}
	}
	return nil
}

// removeScaleSetNamed deletes the idle registration named name on the
// scale set, if there is one.
func (j *githubJIT) removeScaleSetNamed(ctx context.Context, c *ControlPlane, s GitHubScaleSet, node, name string) {
	rn, found, err := s.API.RunnerByName(ctx, name)
	if err == nil && found {
		err = s.API.DeleteRunner(ctx, rn.ID)
	}
	if err != nil && !errors.Is(err, ErrGitHubBusy) {
		c.log.Warn("deleting the scale-set registration of a runner whose mint failed", "node", node, "runner", name, "err", err)
	}
}

// withJob fills in Busy from the scale set's session: the runner took a
// job that has not completed.
func withJob(s GitHubScaleSet, rn fleetapi.Runner) fleetapi.Runner {
	if job, ok := s.API.Job(rn.Name); ok && !job.Completed {
		rn.Busy, rn.Status = true, "online"
	}
	return rn
}

// listScaleSet answers RunnersRequest for a scale set: the node's runner
// named req.Name, or every runner the control plane minted for the node on
// the scale set that is still registered.
func (c *ControlPlane) listScaleSet(w http.ResponseWriter, r *http.Request, n *nodeState, req fleetapi.RunnersRequest) {
	rec, s, ok := c.nodeScaleSet(w, n, req.ScaleSet)
	if !ok {
		return
	}
	j, ctx := c.jit, r.Context()
	out := []fleetapi.Runner{}
	if req.Name != "" {
		rn, found, err := s.API.RunnerByName(ctx, req.Name)
		if err != nil {
			c.githubError(w, "looking up a scale-set runner", rec.Name, err)
			return
		}
		if found && j.owns(rec.Name, rn.Name) {
			out = append(out, withJob(s, rn))
		}
		writeJSON(w, http.StatusOK, fleetapi.RunnerList{Runners: out})
		return
	}
	jn := j.node(rec.Name)
	jn.mu.Lock()
	defer jn.mu.Unlock()
	for id, name := range jn.scale {
		if name != req.ScaleSet {
			continue
		}
		rn, err := s.API.Runner(ctx, id)
		switch {
		case errors.Is(err, ErrGitHubNotFound):
			delete(jn.scale, id)
		case err != nil:
			c.githubError(w, "looking up a scale-set runner", rec.Name, err)
			return
		case j.owns(rec.Name, rn.Name):
			out = append(out, withJob(s, rn))
		}
	}
	writeJSON(w, http.StatusOK, fleetapi.RunnerList{Runners: out})
}

// deleteScaleSet answers DeleteRunnerRequest for a scale set: GitHub says
// whose runner the id is, not the node.
func (c *ControlPlane) deleteScaleSet(w http.ResponseWriter, r *http.Request, n *nodeState, req fleetapi.DeleteRunnerRequest) {
	rec, s, ok := c.nodeScaleSet(w, n, req.ScaleSet)
	if !ok {
		return
	}
	c.deleteOwned(w, r, rec.Name, s.API, req.ScaleSet, req.ID)
}

// scaleSetJob answers RunnerJobRequest for a scale set from what its
// message session said of the runner's job.
func (c *ControlPlane) scaleSetJob(w http.ResponseWriter, n *nodeState, req fleetapi.RunnerJobRequest) {
	_, s, ok := c.nodeScaleSet(w, n, req.ScaleSet)
	if !ok {
		return
	}
	job, ok := s.API.Job(req.Runner)
	if !ok {
		writeJSON(w, http.StatusOK, fleetapi.RunnerJobResponse{})
		return
	}
	out := fleetapi.Job{ID: job.ID, Status: "in_progress", RunnerName: req.Runner}
	if job.Completed {
		out.Status, out.Conclusion = "completed", conclusion(job.Result)
	}
	writeJSON(w, http.StatusOK, fleetapi.RunnerJobResponse{Found: true, Job: out})
}

// conclusion turns a scale-set job result into the REST API's conclusion
// (what nodes read in label mode too), with the results the scale-set
// source itself reads (runner/github/scaleset resultOutcome).
func conclusion(result string) string {
	switch strings.ToLower(result) {
	case "succeeded", "succeededwithissues":
		return "success"
	case "failed":
		return "failure"
	case "canceled", "cancelled", "abandoned":
		return "cancelled"
	case "skipped":
		return "skipped"
	}
	return result
}

// removeScaleSetRunners deletes node's idle scale-set registrations
// (n.mu held); busy ones run out.
func (c *ControlPlane) removeScaleSetRunners(ctx context.Context, jn *jitNode, node, why string) {
	for id, name := range jn.scale {
		s, ok := c.jit.o.ScaleSets[name]
		if !ok {
			continue
		}
		switch err := s.API.DeleteRunner(ctx, id); {
		case errors.Is(err, ErrGitHubBusy):
		case err != nil:
			c.log.Warn("deleting a scale-set runner of a node", "node", node, "why", why, "runner_id", id, "err", err)
		default:
			delete(jn.scale, id)
			c.log.Info("deleted an idle scale-set runner of a node", "node", node, "why", why, "scale_set", name, "runner_id", id)
		}
	}
}
