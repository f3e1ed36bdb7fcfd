package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/runfleet/runfleet/executors/helperimage"
	"github.com/runfleet/runfleet/runner/config"
	"github.com/runfleet/runfleet/runner/gitlab"
)

// defaultHelper reports whether r checks sources out with the default
// helper image, which the agent builds itself; a helper_image of the
// runner's own is pulled by its pull policy like any image, never built.
func defaultHelper(r config.Runner) bool {
	return r.Docker.HelperImage == "" || r.Docker.HelperImage == gitlab.DefaultHelperImage
}

// ensureHelperImage builds the default sources helper image from the
// host's git into ex's engine when the engine lacks it, or in any case
// with force: it is published nowhere, and a node has git. built says
// whether it was built.
func ensureHelperImage(ctx context.Context, ex nodeExecutor, force bool, logger *slog.Logger) (built bool, err error) {
	eng, ok := ex.(helperimage.Engine)
	if !ok {
		return false, fmt.Errorf("sources helper image %s: the %T executor cannot build it", gitlab.DefaultHelperImage, ex)
	}
	if force {
		return true, helperimage.Build(ctx, eng, gitlab.DefaultHelperImage, helperimage.Host{}, logger)
	}
	return helperimage.Ensure(ctx, eng, gitlab.DefaultHelperImage, helperimage.Host{}, logger)
}

// forGitLab returns the executor of a GitLab runner's engine (get) with
// the default sources helper image on it, built once per engine.
func (e *engines) forGitLab(ctx context.Context, r config.Runner) (nodeExecutor, error) {
	ex, err := e.get(ctx, r)
	if err != nil || !defaultHelper(r) {
		return ex, err
	}
	key := executorKey(r)
	if e.helpers[key] {
		return ex, nil
	}
	if _, err := ensureHelperImage(ctx, ex, false, e.logger); err != nil {
		return nil, err
	}
	if e.helpers == nil {
		e.helpers = map[string]bool{}
	}
	e.helpers[key] = true
	return ex, nil
}

// rebuildHelpers puts the default helper image back on the engines whose
// GitLab runners use it, after pruning removed it with every unused
// image.
func (e *engines) rebuildHelpers(ctx context.Context) error {
	for key := range e.helpers {
		if _, err := ensureHelperImage(ctx, e.byKey[key], false, e.logger); err != nil {
			return err
		}
	}
	return nil
}
