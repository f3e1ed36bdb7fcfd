package gitlab

import (
	"context"
	"errors"

	"github.com/runfleet/runfleet/executors"
)

// firstStepIndex returns the index in b.job.Steps of the step that runs
// first when nothing fails before it, or -1 when the job cannot start with
// it as the container's own process (executors.FirstStepCreator): the
// executor lacks the capability, the image overrides its entrypoint, or a
// hook must run in the container before the script.
func (b *build) firstStepIndex(img executors.Image) int {
	if _, ok := b.s.Executor.(executors.FirstStepCreator); !ok || len(img.Entrypoint) > 0 {
		return -1
	}
	for _, h := range b.job.Hooks {
		if len(h.Script) > 0 {
			return -1
		}
	}
	if hasContainerHooks(b.s.Runner, nil) {
		return -1
	}
	for i, st := range b.job.Steps {
		if st.Name == "after_script" || !whenMatches(st.When, false) {
			continue
		}
		if len(st.Script) == 0 {
			return -1
		}
		return i
	}
	return -1
}

// createEnv creates the job's environment: with the first step as the job
// container's process when firstStepIndex allows it, so the script starts
// without an exec into an idle container; in the slot's warm job
// container, waiting for that step, when one fits the job.
func (b *build) createEnv(ctx context.Context, spec executors.Spec) (executors.Env, error) {
	b.firstStep = -1
	b.spec = spec
	b.warmJob = b.canWarmJob(spec)
	i := b.firstStepIndex(spec.Image)
	if i < 0 {
		return b.s.Executor.Create(ctx, spec)
	}
	if late := b.takeWarmJob(ctx, spec); late != nil { // warmjob.go
		// The job's variables go with each step: the container was
		// created before they were known.
		b.late, b.firstStep, b.stepEnv = late, i, spec.Env
		return late, nil
	}
	fc := b.s.Executor.(executors.FirstStepCreator)
	env, err := fc.CreateFirstStep(ctx, spec, b.stepOf(b.job.Steps[i]))
	if err != nil {
		return nil, err
	}
	b.first, b.firstStep = env, i
	return env, nil
}

// prestartFirst starts the first step's container while the sources are
// being fetched and checked out, its step held at the executor's gate
// until execStep runs it (executors.FirstStepPrestarter): the engine's
// container start overlaps the checkout instead of following it. The
// checkout still runs only in the helper container, with the store
// read-only and no network; the job container runs no step of the job
// until RunFirst opens the gate. (A job image whose shell ignores the
// gate only races its own checkout: it can reach nothing the job could
// not reach once its script runs.) A failed prestart is only logged:
// RunFirst then starts the container itself.
//
// b.jobUp is done once the prestart returned, or at once without one.
func (b *build) prestartFirst(ctx context.Context) {
	p, ok := b.first.(executors.FirstStepPrestarter)
	if !ok || b.pre == nil || b.s.LocalSources != "" || strategy(b.vars) == gitNone {
		b.jobUp.done()
		return
	}
	go func() {
		defer b.jobUp.done()
		if err := p.Prestart(ctx); err != nil && ctx.Err() == nil && b.s.Logger != nil {
			b.s.Logger.WarnContext(ctx, "starting the job container ahead of its first step failed", "job", b.job.ID, "err", err)
		}
		b.phases.mark("first_step_prestarted")
	}()
}

// waitPrestart waits for a prestart to return (Prestart returns before
// RunFirst or Close): b.jobUp is done then, or at once without one. A
// build whose prepare never got that far has no jobUp to wait for.
func (b *build) waitPrestart() {
	if c := b.jobUp.wait(); c != nil {
		<-c
	}
}

// stepOf is the executor step that runs a job step's script.
func (b *build) stepOf(st Step) executors.Step {
	return executors.Step{Script: stepScript(withBuildHooks(b.s.Runner, st)), WorkDir: b.projectDir(), Env: b.stepEnv}
}

// execStep runs job step i: as the first-step container's process when
// it is the step created with the environment (or the step a warm job
// container waits for) and it has not run yet, otherwise with Exec.
func (b *build) execStep(ctx context.Context, i int, st Step) (executors.Result, error) {
	if b.late != nil && i == b.firstStep {
		late := b.late
		b.late = nil
		return b.runLateFirst(ctx, late, st)
	}
	if b.first != nil && i == b.firstStep {
		first := b.first
		b.first = nil
		b.waitPrestart()
		res, err := first.RunFirst(ctx, b.refillOnOutput()) // warmjob.go
		if !errors.Is(err, executors.ErrFirstStepUsed) {
			return res, err
		}
	}
	return b.env.Exec(ctx, b.stepOf(st), b.rep)
}
