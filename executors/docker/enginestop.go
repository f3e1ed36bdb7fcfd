package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// engineStopWatch is how long a first step killed by a signal from outside
// the job watches the engine before the exit counts as the job's own: a
// stopping engine closes its API after it has stopped its containers and
// its networks, which can take seconds on a loaded node (Docker's own
// --shutdown-timeout defaults to 15 s). The container's init dies by a
// signal without the wrapper's end mark almost only when killed from
// outside the job (the engine, an administrator): those pay this wait.
const engineStopWatch = 15 * time.Second

// signalExit reports whether a container exit code means a signal killed
// the process (128+n): SIGTERM or SIGKILL from the engine stopping it.
func signalExit(code int64) bool { return code > 128 && code <= 128+64 }

// engineStopped tells a first step the engine killed apart from one that
// died by itself. When the Docker engine shuts down or restarts (without
// live-restore) it stops every container — SIGTERM, then SIGKILL — and
// then stops answering: a job container that died by a signal, with the
// engine gone within engineStopWatch, was stopped by the engine. That is
// a system failure (ErrEngine), not the script's; the engine being away
// is said in the error the job's log shows. Known gap: an engine that is
// back within the moment the agent takes to see the exit answers this
// watch, and the job is reported as the script's failure.
func (v *Env) engineStopped(ctx context.Context, code int64) error {
	deadline := v.ex.now().Add(engineStopWatch)
	for {
		ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_, err := v.ex.api.Info(ictx)
		cancel()
		if err != nil {
			v.ex.log.WarnContext(ctx, "the Docker engine stopped under a running job", "job", v.jobID, "exit_code", code, "err", err)
			return fmt.Errorf("docker: the container engine stopped or restarted under the job (its container was killed with exit code %d and the engine stopped answering: %v): %w",
				code, err, executors.ErrEngine)
		}
		if !v.ex.now().Before(deadline) || ctx.Err() != nil {
			return nil
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil
		}
	}
}
