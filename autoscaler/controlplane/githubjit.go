package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/runfleet/runfleet/autoscaler/fleetapi"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// GitHubRunners is what the control plane needs from GitHub to hand nodes
// just-in-time runner configs while the GitHub App key stays here
// (cmd/autoscaler wires runner/github's REST client). Errors that drive
// answers wrap ErrGitHubNotFound, ErrGitHubBusy, ErrGitHubInvalid,
// ErrGitHubUnauthorized or *GitHubRateLimitError.
type GitHubRunners interface {
	MintJIT(ctx context.Context, req GitHubJITRequest) (fleetapi.JITConfig, error)
	// ListRunners lists every runner of the target, or the one named name.
	ListRunners(ctx context.Context, name string) ([]fleetapi.Runner, error)
	// Runner is the runner with id (ErrGitHubNotFound when none).
	Runner(ctx context.Context, id int64) (fleetapi.Runner, error)
	// DeleteRunner removes a registration; one already gone is no error.
	DeleteRunner(ctx context.Context, id int64) error
	RunnerJob(ctx context.Context, ref fleetapi.JobRef, runner string) (fleetapi.Job, bool, error)
}

// GitHubJITRequest is a mint as the control plane sends it to GitHub.
type GitHubJITRequest struct {
	Name          string
	RunnerGroupID int64
	Labels        []string
}

// Typed GitHub errors (see GitHubRunners).
var (
	ErrGitHubNotFound     = errors.New("github: not found")
	ErrGitHubBusy         = errors.New("github: runner is busy")
	ErrGitHubInvalid      = errors.New("github: request rejected")
	ErrGitHubUnauthorized = errors.New("github: the control plane's credentials were rejected")
)

// GitHubRateLimitError is GitHub's rate limit: no call before RetryAfter.
type GitHubRateLimitError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *GitHubRateLimitError) Error() string {
	return fmt.Sprintf("github: rate limited for %s: %v", e.RetryAfter.Round(time.Second), e.Err)
}

func (e *GitHubRateLimitError) Unwrap() error { return e.Err }

// GitHubJITPool is what nodes of one pool may mint.
type GitHubJITPool struct {
	// Labels a node of the pool may give its runners (a mint asks for a
	// subset; GitHub labels compare case-insensitively).
	Labels        []string
	RunnerGroupID int64
}

// GitHubJITOptions enable the fleet API's GitHub endpoints.
type GitHubJITOptions struct {
	API GitHubRunners
	// Pools by pool name; a node of a pool not listed may not mint.
	Pools map[string]GitHubJITPool
	// NamePrefix precedes the node name in every runner name (the nodes'
	// [[github]] name_prefix).
	NamePrefix string
	// CleanupTimeout bounds the deletes of a removed or re-registered
	// node's idle runners (default 10 s; best effort, logged on failure).
	CleanupTimeout time.Duration
	// ScaleSets by scale set name: runner scale sets whose message session
	// the control plane holds; nodes of each one's pool mint its runners
	// (githubscaleset.go).
	ScaleSets map[string]GitHubScaleSet
}

// githubJIT serves the GitHub endpoints.
type githubJIT struct {
	o     GitHubJITOptions
	mints *prometheus.CounterVec

	mu    sync.Mutex
	nodes map[string]*jitNode // by node name
}

// jitNode is what the control plane knows of one node's runners.
type jitNode struct {
	// mu serialises the node's mints and cleanups (so the slot cap
	// holds) and guards ids.
	mu sync.Mutex
	// ids are the node's registered runners: loaded from GitHub's list at
	// the node's first mint (after a start of the control plane, too),
	// then kept by its mints and deletes, and listed again whenever they
	// fill the node's slots (a runner GitHub removed after its job is then
	// seen gone). Only at the cap does a mint cost a list of the target.
	ids    map[int64]bool
	loaded bool
	// scale are the node's scale-set runners (id → scale set), kept by
	// its mints and deletes and asked of GitHub one by one at the cap.
	scale map[int64]string
}

// Results of mints, the values of runfleet_fleet_github_jit_mints_total's
// result label.
const (
	mintOK          = "ok"
	mintWrongName   = "refused_name"
	mintWrongLabels = "refused_labels"
	mintAtCap       = "refused_slots"
	mintNotReady    = "refused_state"
	mintRateLimited = "rate_limited"
	mintFailed      = "github_error"
)

func newGitHubJIT(o *GitHubJITOptions, reg prometheus.Registerer) (*githubJIT, error) {
	if o == nil {
		return nil, nil
	}
	if o.API == nil {
		return nil, errors.New("controlplane: GitHubJIT needs its API")
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 10 * time.Second
	}
	j := &githubJIT{o: *o, nodes: map[string]*jitNode{}, mints: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "runfleet_fleet_github_jit_mints_total", Help: "JIT runner configs nodes asked the control plane for, by result.",
	}, []string{"result"})}
	for _, r := range []string{mintOK, mintWrongName, mintWrongLabels, mintAtCap, mintNotReady, mintRateLimited, mintFailed} {
		j.mints.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(j.mints)
	}
	return j, nil
}

// routes adds the GitHub endpoints to the fleet API.
func (c *ControlPlane) githubRoutes(mux *http.ServeMux) {
	if c.jit == nil {
		return
	}
	mux.HandleFunc("POST "+fleetapi.PathGitHubJIT, c.handleMintJIT)
	mux.HandleFunc("POST "+fleetapi.PathGitHubRunners, c.handleListRunners)
	mux.HandleFunc("POST "+fleetapi.PathGitHubDeleteRunner, c.handleDeleteRunner)
	mux.HandleFunc("POST "+fleetapi.PathGitHubRunnerJob, c.handleRunnerJob)
}

// runnerSuffix is what follows a node's prefix in its runner names: the
// slot index and a hex suffix. Two dash-free parts make ownership
// unambiguous: node "a" cannot name a runner "a-b-0-ff" of node "a-b".
var runnerSuffix = regexp.MustCompile(`^[0-9]{1,6}-[0-9a-f]{1,32}$`)

// prefix is what every runner name of node starts with.
func (j *githubJIT) prefix(node string) string { return j.o.NamePrefix + node + "-" }

// owns reports whether the runner named name is node's.
func (j *githubJIT) owns(node, name string) bool {
	rest, ok := strings.CutPrefix(name, j.prefix(node))
	return ok && runnerSuffix.MatchString(rest)
}

// node is node's record, created on first use.
func (j *githubJIT) node(node string) *jitNode {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := j.nodes[node]
	if n == nil {
		n = &jitNode{ids: map[int64]bool{}, scale: map[int64]string{}}
		j.nodes[node] = n
	}
	return n
}

// reload replaces n's runners with GitHub's list. Called with n.mu held.
func (j *githubJIT) reload(ctx context.Context, n *jitNode, node string) error {
	rs, err := j.listOwned(ctx, node, "")
	if err != nil {
		return err
	}
	clear(n.ids)
	for _, r := range rs {
		if _, ok := n.scale[r.ID]; !ok { // GitHub may list scale-set runners too
			n.ids[r.ID] = true
		}
	}
	n.loaded = true
	return nil
}

// nodeRequest authenticates a node's GitHub call and reads its body,
// answering the request itself when either fails.
func nodeRequest[T any](c *ControlPlane, w http.ResponseWriter, r *http.Request) (*nodeState, T, bool) {
	var req T
	_, n, ok := c.authNode(w, r, "GitHub call")
	if !ok {
		return nil, req, false
	}
	if err := decode(w, r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, req, false
	}
	return n, req, true
}

func (c *ControlPlane) handleMintJIT(w http.ResponseWriter, r *http.Request) {
	n, req, ok := nodeRequest[fleetapi.JITRequest](c, w, r)
	if !ok {
		return
	}
	n.mu.Lock()
	rec := n.rec
	n.mu.Unlock()
	j := c.jit
	refuse := func(code int, result, msg string) {
		j.mints.WithLabelValues(result).Inc()
		level := slog.LevelWarn // a node asking for what it may not have
		if code == http.StatusConflict {
			level = slog.LevelInfo // full, or draining: the node's slot asks again
		}
		c.log.Log(r.Context(), level, "GitHub JIT mint refused", "node", rec.Name, "runner", req.Name, "reason", msg)
		writeError(w, code, msg)
	}
	if !j.owns(rec.Name, req.Name) {
		refuse(http.StatusForbidden, mintWrongName, fmt.Sprintf("runner name %q: a node mints only names %s<slot>-<hex>", req.Name, j.prefix(rec.Name)))
		return
	}
	if rec.State == policy.NodeDraining || rec.State == policy.NodeNotReady {
		refuse(http.StatusConflict, mintNotReady, "node is "+string(rec.State)+": it takes no new runners")
		return
	}
	// The node's slots, as registered (capped at its pool's slots per
	// node, capSlots); the pool's when the node reported none.
	slots := rec.Slots
	if p, ok := c.pool(rec.Pool); ok && slots <= 0 {
		slots = p.SlotsPerNode
	}
	if req.ScaleSet != "" {
		c.mintScaleSet(w, r, rec, req, slots, refuse) // githubscaleset.go
		return
	}
	pc, ok := j.o.Pools[rec.Pool]
	if !ok {
		refuse(http.StatusForbidden, mintWrongLabels, fmt.Sprintf("pool %q has no GitHub runner labels configured ([github_jit] pools)", rec.Pool))
		return
	}
	if bad := outside(req.Labels, pc.Labels); len(req.Labels) == 0 || len(bad) > 0 {
		refuse(http.StatusForbidden, mintWrongLabels, fmt.Sprintf("labels %v: pool %q allows %v", req.Labels, rec.Pool, pc.Labels))
		return
	}
	c.mintWithin(w, r, rec, slots, refuse, runnerMint{
		call: func(ctx context.Context) (fleetapi.JITConfig, error) {
			return j.o.API.MintJIT(ctx, GitHubJITRequest{Name: req.Name, RunnerGroupID: pc.RunnerGroupID, Labels: req.Labels})
		},
		unregister: func(ctx context.Context) { c.removeIdle(ctx, rec.Name, req.Name, whyMintLost) },
	})
}

// refused reports whether GitHub answered err (so it registered nothing).
func refused(err error) bool {
	var rl *GitHubRateLimitError
	return errors.As(err, &rl) || errors.Is(err, ErrGitHubInvalid) || errors.Is(err, ErrGitHubUnauthorized) ||
		errors.Is(err, ErrGitHubNotFound) || errors.Is(err, ErrGitHubBusy)
}

// outside lists the labels of want not in allowed.
func outside(want, allowed []string) []string {
	var out []string
next:
	for _, l := range want {
		for _, a := range allowed {
			if strings.EqualFold(l, a) {
				continue next
			}
		}
		out = append(out, l)
	}
	return out
}

func resultOf(err error) string {
	var rl *GitHubRateLimitError
	if errors.As(err, &rl) {
		return mintRateLimited
	}
	return mintFailed
}

// listOwned lists node's runners (name "" = all of them).
func (j *githubJIT) listOwned(ctx context.Context, node, name string) ([]fleetapi.Runner, error) {
	rs, err := j.o.API.ListRunners(ctx, name)
	if err != nil {
		return nil, err
	}
	out := []fleetapi.Runner{}
	for _, r := range rs {
		if j.owns(node, r.Name) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (c *ControlPlane) handleListRunners(w http.ResponseWriter, r *http.Request) {
	n, req, ok := nodeRequest[fleetapi.RunnersRequest](c, w, r)
	if !ok {
		return
	}
	name := n.name()
	if req.Name != "" && !c.jit.owns(name, req.Name) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("runner %q is not this node's", req.Name))
		return
	}
	if req.ScaleSet != "" {
		c.listScaleSet(w, r, n, req) // githubscaleset.go
		return
	}
	rs, err := c.jit.listOwned(r.Context(), name, req.Name)
	if err != nil {
		c.githubError(w, "listing the node's runners", name, err)
		return
	}
	writeJSON(w, http.StatusOK, fleetapi.RunnerList{Runners: rs})
}

func (c *ControlPlane) handleDeleteRunner(w http.ResponseWriter, r *http.Request) {
	n, req, ok := nodeRequest[fleetapi.DeleteRunnerRequest](c, w, r)
	if !ok {
		return
	}
	if req.ScaleSet != "" {
		c.deleteScaleSet(w, r, n, req) // githubscaleset.go
		return
	}
	c.deleteOwned(w, r, n.name(), c.jit.o.API, "", req.ID)
}

func (c *ControlPlane) handleRunnerJob(w http.ResponseWriter, r *http.Request) {
	n, req, ok := nodeRequest[fleetapi.RunnerJobRequest](c, w, r)
	if !ok {
		return
	}
	name := n.name()
	if !c.jit.owns(name, req.Runner) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("runner %q is not this node's", req.Runner))
		return
	}
	if req.ScaleSet != "" {
		c.scaleSetJob(w, n, req) // githubscaleset.go
		return
	}
	job, found, err := c.jit.o.API.RunnerJob(r.Context(), req.Ref, req.Runner)
	if err != nil {
		c.githubError(w, "looking up a runner's job", name, err)
		return
	}
	if found && job.RunnerName != req.Runner { // GitHub's answer decides, not the node
		found, job = false, fleetapi.Job{}
	}
	writeJSON(w, http.StatusOK, fleetapi.RunnerJobResponse{Found: found, Job: job})
}

// githubError answers a failed GitHub call: GitHub's rate limit as 429
// with Retry-After (the node waits it out), its refusals by meaning.
func (c *ControlPlane) githubError(w http.ResponseWriter, op, node string, err error) {
	var rl *GitHubRateLimitError
	switch {
	case errors.As(err, &rl):
		secs := max(1, int((rl.RetryAfter+time.Second-1)/time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "GitHub rate limit: retry after "+strconv.Itoa(secs)+"s")
		return
	case errors.Is(err, ErrGitHubBusy):
		writeError(w, http.StatusConflict, "the runner is busy: "+err.Error())
		return
	case errors.Is(err, ErrGitHubNotFound):
		writeError(w, http.StatusNotFound, err.Error())
		return
	case errors.Is(err, ErrGitHubInvalid):
		writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	case errors.Is(err, ErrGitHubUnauthorized):
		c.log.Error("GitHub refused the control plane's credentials", "op", op, "node", node, "err", err)
		writeError(w, http.StatusBadGateway, "GitHub refused the control plane's credentials")
		return
	}
	c.log.Warn("GitHub call for a node failed", "op", op, "node", node, "err", err)
	writeError(w, http.StatusBadGateway, op+": GitHub failed")
}

// removeRunners deletes node's idle runner registrations, when the node
// is gone or registers again (its agent restarted). Busy ones are left:
// GitHub refuses to delete them and their job ends on its own.
func (c *ControlPlane) removeRunners(ctx context.Context, node, why string) {
	if c.jit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.jit.o.CleanupTimeout)
	defer cancel()
	jn := c.jit.node(node)
	jn.mu.Lock() // no mint of the node between the list and the deletes
	defer jn.mu.Unlock()
	jn.loaded = false                           // what is left, GitHub lists at the next mint
	c.removeScaleSetRunners(ctx, jn, node, why) // githubscaleset.go
	if len(c.jit.o.Pools) > 0 {                 // label mode: the node's runners by GitHub's list
		c.removeIdle(ctx, node, "", why)
	}
	if why == whyRemoved {
		c.jit.mu.Lock()
		delete(c.jit.nodes, node)
		c.jit.mu.Unlock()
	}
}

// removeIdle deletes node's idle label-mode registrations: the one named
// name, or all of them for name "". A runner busy meanwhile stays (GitHub
// refuses; its job ends on its own). Called with the node's jitNode.mu
// held (by removeRunners, or by mintWithin after a lost answer).
func (c *ControlPlane) removeIdle(ctx context.Context, node, name, why string) {
	rs, err := c.jit.listOwned(ctx, node, name)
	if err != nil {
		c.log.Warn("listing the GitHub runners of a node", "node", node, "runner", name, "why", why, "err", err)
		return
	}
	for _, r := range rs {
		if r.Busy || name != "" && r.Name != name {
			continue
		}
		switch err := c.jit.o.API.DeleteRunner(ctx, r.ID); {
		case errors.Is(err, ErrGitHubBusy):
		case err != nil:
			c.log.Warn("deleting a GitHub runner of a node", "node", node, "why", why, "runner", r.Name, "err", err)
		default:
			c.log.Info("deleted an idle GitHub runner of a node", "node", node, "why", why, "runner", r.Name)
		}
	}
}

// Why a node's runners are removed.
const (
	whyRemoved    = "node removed"
	whyRegistered = "node registered again"
	whyMintLost   = "the answer to its mint was lost"
)

func (n *nodeState) name() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.rec.Name
}
