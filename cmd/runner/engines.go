package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/clock"
	"github.com/runfleet/runfleet/runner/config"
)

// engines holds one executor per container engine, shared by every job
// source of the node (GitLab runners, GitHub tables, scale sets): so
// Reap sees every live job of the engine, and PruneImages under disk
// pressure reaches every executor.
type engines struct {
	node   string
	logger *slog.Logger
	warm   int
	// egress is the job egress policy every executor installs.
	egress []executors.EgressBlock
	byKey  map[string]nodeExecutor
	order  []nodeExecutor
	// helpers are the engines (keys) that hold the default sources
	// helper image the agent built (helperimage.go).
	helpers map[string]bool
}

func newEngines(node string, warm int, logger *slog.Logger) *engines {
	return &engines{node: node, logger: logger, warm: warm, byKey: map[string]nodeExecutor{}}
}

// get returns the executor of r's engine, connecting and reaping what a
// previous agent of this node left on it the first time.
func (e *engines) get(ctx context.Context, r config.Runner) (nodeExecutor, error) {
	key := executorKey(r)
	if ex, ok := e.byKey[key]; ok {
		return ex, nil
	}
	ex, err := newExecutor(r, e.node, e.logger, e.warm, e.egress)
	if err != nil {
		return nil, err
	}
	e.logger.Info("removing what a previous agent on this node left behind", "node", e.node, "engine", key)
	if err := ex.Reap(ctx); err != nil {
		ex.Close()
		return nil, fmt.Errorf("reaping leftovers: %w", err)
	}
	e.byKey[key] = ex
	e.order = append(e.order, ex)
	return ex, nil
}

// all returns the executors in the order they were made.
func (e *engines) all() []nodeExecutor { return e.order }

// close releases every executor.
func (e *engines) close() {
	for _, ex := range e.order {
		_ = ex.Close()
	}
}

// pruneImages prunes unused images on every engine (disk pressure).
func (e *engines) pruneImages(ctx context.Context) error {
	var errs []error
	for _, ex := range e.order {
		freed, err := ex.PruneImages(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		e.logger.Info("disk pressure: pruned unused images", "freed_bytes", freed)
	}
	// The helper image went with the unused images.
	errs = append(errs, e.rebuildHelpers(ctx))
	return errors.Join(errs...)
}

// sweeper removes what no job used for long (gitlab.SourceStores).
type sweeper interface {
	Sweep(ctx context.Context) error
}

// reapPeriodically reaps every engine, and runs every sweeper, every
// interval on clk until ctx ends. An executor's Reap leaves alone the
// objects of its live jobs (each engine has one executor, so that is
// every job running on this agent): it removes what a crashed job or a
// failed cleanup left. Sweepers keep what live jobs use too.
func reapPeriodically(ctx context.Context, clk clock.Clock, interval time.Duration, exs []nodeExecutor, logger *slog.Logger, sweepers ...sweeper) {
	if interval <= 0 || len(exs)+len(sweepers) == 0 {
		return
	}
	t := clk.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		for _, ex := range exs {
			if err := ex.Reap(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("periodic reap", "err", err)
			}
		}
		for _, s := range sweepers {
			_ = s.Sweep(ctx) // logs its own failures
		}
		t.Reset(interval)
	}
}

// allowedImages gives every spec of one runner the runner's
// allowed_images on a shared executor; a spec the agent built with its own
// list (the sources helper: its image) keeps it.
type allowedImages struct {
	executors.Executor
	allowed []string
}

func (a allowedImages) Create(ctx context.Context, spec executors.Spec) (executors.Env, error) {
	if spec.AllowedImages == nil {
		spec.AllowedImages = a.allowed
	}
	return a.Executor.Create(ctx, spec)
}

// allowedImagesFirstStep keeps the executor's first-step capability.
type allowedImagesFirstStep struct {
	allowedImages
	fs executors.FirstStepCreator
}

func (a allowedImagesFirstStep) CreateFirstStep(ctx context.Context, spec executors.Spec, first executors.Step) (executors.FirstStepEnv, error) {
	if spec.AllowedImages == nil {
		spec.AllowedImages = a.allowed
	}
	return a.fs.CreateFirstStep(ctx, spec, first)
}

// allowedImagesLateFirstStep keeps the executor's late-first-step
// capability too (warm job containers).
type allowedImagesLateFirstStep struct {
	allowedImagesFirstStep
	lc executors.LateFirstStepCreator
}

func (a allowedImagesLateFirstStep) CreateLateFirstStep(ctx context.Context, spec executors.Spec) (executors.LateFirstStepEnv, error) {
	if spec.AllowedImages == nil {
		spec.AllowedImages = a.allowed
	}
	return a.lc.CreateLateFirstStep(ctx, spec)
}

// withAllowedImages wraps ex for a runner with allowed_images, keeping
// its optional capabilities.
func withAllowedImages(ex executors.Executor, allowed []string) executors.Executor {
	if len(allowed) == 0 {
		return ex
	}
	a := allowedImages{Executor: ex, allowed: allowed}
	fs, ok := ex.(executors.FirstStepCreator)
	if !ok {
		return a
	}
	af := allowedImagesFirstStep{allowedImages: a, fs: fs}
	if lc, ok := ex.(executors.LateFirstStepCreator); ok {
		return allowedImagesLateFirstStep{allowedImagesFirstStep: af, lc: lc}
	}
	return af
}
