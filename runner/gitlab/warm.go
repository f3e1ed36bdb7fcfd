package gitlab

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/runner/config"
)

// helperParamsDir, under builds_dir, holds one directory per sources
// helper container: the checkout's parameters (helperParams), which the
// agent writes there just before the helper's script runs. The helper
// mounts its own directory read-only; no job container mounts any.
const helperParamsDir = ".helper-params"

// Warm keeps containers created ahead of each slot's next job, for the
// slot's last one (warmSlots), off the next job's critical path:
//
//   - a sources helper for the last job's project (gitcheckout.go): the
//     next job of that project checks out without waiting for the engine
//     to create a container;
//   - a job container waiting for its first step (warmjob.go), with the
//     last job's image, mounts and limits: the next such job's script
//     starts without a container being created or started for it.
//
// Each is what a fresh one would be but for its name and labels (no job
// or project: it is made before its job is known): a new container that
// has run nothing of any job, with the same image (as of when it was
// made: an if-not-present tag moved since is seen at the next one),
// limits and mounts, used for one job and then removed. What makes it the job's (the checkout's
// parameters, the job's script and variables) is handed to it when a job
// takes it. The agent removes them at stop (Close); after a crash the
// start-up reap does.
//
// A nil *Warm keeps nothing: every job creates its containers.
type Warm struct {
	helpers *warmSlots[*helperEnvRun]
	jobs    *warmSlots[*warmJob]
	busy    sync.WaitGroup
}

// WarmBudget bounds the warm containers an agent keeps across its
// runners (NewWarm): at most as many sources helpers, and as many job
// containers, as it runs jobs at once. Each runner's slots would
// otherwise each keep theirs, and every waiting job container holds a
// network of its own.
type WarmBudget struct {
	helpers, jobs warmBudget
}

// NewWarmBudget returns the budget of an agent that runs at most
// concurrent jobs at once.
func NewWarmBudget(concurrent int) *WarmBudget {
	return &WarmBudget{helpers: warmBudget{max: concurrent}, jobs: warmBudget{max: concurrent}}
}

// NewWarm returns the warm containers of runner r's slots, within budget
// (nil: unbounded). Parameter directories a killed agent left are
// removed (its containers are reaped with the rest of the node's
// objects).
func NewWarm(r config.Runner, budget *WarmBudget, log *slog.Logger) *Warm {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var hb, jb *warmBudget
	if budget != nil {
		hb, jb = &budget.helpers, &budget.jobs
	}
	w := &Warm{}
	w.helpers = newWarmSlots(log, "sources helper", &w.busy, hb, (*helperEnvRun).remove)
	w.jobs = newWarmSlots(log, "job container", &w.busy, jb, (*warmJob).remove)
	params := helperParamsRoot(r)
	if err := os.RemoveAll(params); err != nil {
		log.Warn("removing old sources helper parameter directories", "dir", params, "err", err)
	}
	return w
}

// helperParamsRoot is where runner r's helpers' parameter directories go,
// with or without warm helpers (runner exec).
func helperParamsRoot(r config.Runner) string {
	return filepath.Join(r.BuildsDir, helperParamsDir, r.ShortToken())
}

// helperSlots and jobSlots are w's pools; nil for a nil w.
func (w *Warm) helperSlots() *warmSlots[*helperEnvRun] {
	if w == nil {
		return nil
	}
	return w.helpers
}

func (w *Warm) jobSlots() *warmSlots[*warmJob] {
	if w == nil {
		return nil
	}
	return w.jobs
}

// Close removes every warm container, once the creations in flight are
// done, or gives up when ctx ends. Nothing is kept warm after it.
func (w *Warm) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.helpers.close()
	w.jobs.close()
	done := make(chan struct{})
	go func() {
		w.busy.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gitlab: removing warm containers: %w", ctx.Err())
	}
}

// labelWarm marks a warm container with its kind ("helper", "job").
const labelWarm = "dev.runfleet.warm"

// warmSpec is spec for a warm container of kind: its own name, and the
// labels of no job or project, marked warm.
func warmSpec(spec executors.Spec, kind string) executors.Spec {
	spec.JobID = kind + "-warm-" + randomSuffix()
	spec.Labels = maps.Clone(spec.Labels)
	delete(spec.Labels, "dev.runfleet.gitlab.job")
	delete(spec.Labels, "dev.runfleet.project")
	if spec.Labels == nil {
		spec.Labels = map[string]string{}
	}
	spec.Labels[labelWarm] = kind
	return spec
}

// specKey is what a warm container must share with the container a job
// needs: everything in its spec but its names, labels, environment
// (handed over with the step), log and registry credentials (its image
// is on the node already: canWarmJob excludes images pulled at every
// job, and the helper image is the agent's); services and an image's
// entrypoint or command are never in a spec made warm.
// TestSpecKeyCoversSpec checks it field by field.
func specKey(spec executors.Spec) string {
	return fmt.Sprintf("%s|%s|%s|%v|%s|%q|%t|%t|%s|%s|%+v|%q", spec.Image.Name, spec.Image.PullPolicy, spec.WorkDir,
		spec.Mounts, spec.Network, spec.ExtraHosts, spec.Privileged, spec.ReadOnlyRootfs, spec.Runtime, spec.User,
		spec.Resources, spec.AllowedImages)
}

// bindSources are the host directories spec bind-mounts: a warm
// container fits only while they are the directories it mounted.
func bindSources(spec executors.Spec) []string {
	var dirs []string
	for _, m := range spec.Mounts {
		if !m.Volume {
			dirs = append(dirs, m.Source)
		}
	}
	return dirs
}
