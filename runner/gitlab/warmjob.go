package gitlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// warmJob is a job container waiting for its first step (Warm): created
// and started with the image, mounts and limits of the slot's last job,
// running nothing until a job of the same kind hands it its script and
// variables (executors.LateFirstStepEnv), through its stdin.
type warmJob struct {
	env executors.LateFirstStepEnv
	// notes are what the executor wrote for the job log at creation (the
	// limits applied): the job that takes it logs them.
	notes []byte
	log   *slog.Logger
}

// remove removes the container of a warm job container nobody took.
func (j *warmJob) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := j.env.Close(ctx); err != nil && j.log != nil {
		j.log.Warn("remove a warm job container", "err", err)
	}
}

// warmRefillDelay bounds how long the slot's next warm job container
// waits, after the job's first step was handed over, for that step's
// first output: the job's own start keeps the engine first.
const warmRefillDelay = time.Second

// canWarmJob reports whether a job of spec can start in a warm job
// container, and have one made for the slot's next job: its first step
// can be the container's process (firstStepIndex) and the executor can
// create that container before the step is known; it has no services
// (their network is the job's own), no size-capped build directory (the
// job's own filesystem), no entrypoint override, and an image that is not
// pulled at every job.
// createEnv records it once per job (build.warmJob).
func (b *build) canWarmJob(spec executors.Spec) bool {
	if _, ok := b.s.Executor.(executors.LateFirstStepCreator); !ok || b.s.Warm == nil || !b.s.Runner.WarmJobContainers {
		return false
	}
	return len(spec.Services) == 0 && spec.Resources.DiskSize == 0 && len(spec.Image.Entrypoint) == 0 &&
		spec.Image.PullPolicy != executors.PullAlways && b.s.LocalSources == "" && b.firstStepIndex(spec.Image) >= 0
}

// takeWarmJob returns the slot's warm job container when it fits the
// job's spec and still waits for a step, or nil. Its creation's notes go
// to the job log.
func (b *build) takeWarmJob(ctx context.Context, spec executors.Spec) executors.LateFirstStepEnv {
	if !b.warmJob {
		return nil
	}
	slots := b.s.Warm.jobSlots()
	j, ok := slots.take(ctx, b.slot, specKey(spec), bindSources(spec)...)
	if !ok {
		return nil
	}
	if err := j.env.Waiting(ctx); err != nil {
		if b.s.Logger != nil {
			b.s.Logger.WarnContext(ctx, "the slot's warm job container no longer waits; creating one", "job", b.job.ID, "err", err)
		}
		slots.discard(j)
		return nil
	}
	_, _ = b.rep.Write(j.notes)
	b.phases.mark("job_warm")
	return j.env
}

// refillJob has the slot's next job container created ahead, like this
// job's (spec), once after is closed: this job's script has started.
func (b *build) refillJob(spec executors.Spec, after <-chan struct{}) {
	if !b.warmJob {
		return
	}
	lc := b.s.Executor.(executors.LateFirstStepCreator)
	ws := warmSpec(spec, "job")
	ws.Env = nil // handed over with each step
	log := b.s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, slot := b.job.ID, b.slot
	b.s.Warm.jobSlots().refill(b.slot, specKey(spec), bindSources(spec), after, func(ctx context.Context) (*warmJob, error) {
		var notes bytes.Buffer
		ws.Log = &notes
		env, err := lc.CreateLateFirstStep(ctx, ws)
		if err != nil {
			return nil, err
		}
		j := &warmJob{env: env, log: log}
		if err := env.Prestart(ctx); err != nil {
			j.remove()
			return nil, err
		}
		j.notes = notes.Bytes()
		log.Debug("warm job container ready", "after_job", id, "slot", slot)
		return j, nil
	})
}

// runLateFirst hands job step st to the warm job container late, and has
// the slot's next one created (refillOnOutput). A step the container cannot be given
// (executors.ErrStepUnfit) runs with Exec instead.
func (b *build) runLateFirst(ctx context.Context, late executors.LateFirstStepEnv, st Step) (executors.Result, error) {
	res, err := late.RunFirstStep(ctx, b.stepOf(st), b.refillOnOutput())
	if errors.Is(err, executors.ErrStepUnfit) {
		fmt.Fprintf(b.rep, "The job's first step cannot be handed to the waiting job container (%v): running the script with exec\n", err)
		return b.env.Exec(ctx, b.stepOf(st), b.rep)
	}
	return res, err
}

// refillOnOutput returns the job log's writer for the job's first step,
// and has the slot's next job container created (refillJob) once that
// writer got the step's first output, or warmRefillDelay passed.
func (b *build) refillOnOutput() io.Writer {
	if !b.warmJob {
		return b.rep
	}
	out := &firstWrite{w: b.rep, c: make(chan struct{})}
	after := make(chan struct{})
	go func() {
		t := time.NewTimer(warmRefillDelay)
		defer t.Stop()
		select {
		case <-out.c:
		case <-t.C:
		}
		close(after)
	}()
	b.refillJob(b.spec, after)
	return out
}

// firstWrite is a writer that closes c at its first write.
type firstWrite struct {
	w    io.Writer
	c    chan struct{}
	once sync.Once
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.c) })
	return f.w.Write(p)
}
