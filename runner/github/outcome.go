package github

import (
	"context"
	"time"

	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/clock"
)

// outcome is how the runner's job ended. GitHub's conclusion is
// authoritative: the runner container exits 0 after a failed job too.
// The hooks recorded the job's run; the run's jobs tell which one this
// runner ran and how it ended. Without hook information, or when GitHub
// does not answer, the runner's exit code is all there is.
func (j *job) outcome(ctx context.Context) runner.Outcome {
	res, xerr := j.lr.Result()
	exitOutcome := runner.Outcome{State: runner.StateSuccess}
	if xerr != nil || res.ExitCode != 0 {
		exitOutcome = runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureRunnerSystem}
		j.log.Warn("runner ended abnormally", "exit_code", res.ExitCode, "err", xerr)
	}
	ref := j.lr.Events().Job
	if !ref.Valid() {
		j.log.Info("job conclusion unknown (no run recorded by the hooks): using the runner's exit code", "exit_code", res.ExitCode)
		return exitOutcome
	}
	cctx, cancel := j.src.cleanupCtx(ctx)
	defer cancel()
	// The runner reports its job's result before it exits, but GitHub may
	// show the job completed a moment later.
	wait := 250 * time.Millisecond
	for attempt := 0; ; attempt++ {
		st, found, err := j.src.o.API.RunnerJob(cctx, ref, j.lr.Name())
		switch {
		case err != nil:
			j.log.Warn("asking GitHub for the job's conclusion: using the runner's exit code", "err", err)
			return exitOutcome
		case !found:
			j.log.Warn("GitHub lists no job of the run for this runner: using the runner's exit code", "repo", ref.Repo, "run_id", ref.RunID)
			return exitOutcome
		case st.Status == "completed":
			j.log.Info("job concluded", "github_job_id", st.ID, "conclusion", st.Conclusion, "repo", ref.Repo, "run_id", ref.RunID)
			return ConclusionOutcome(st.Conclusion)
		case attempt >= 5:
			j.log.Warn("job not completed on GitHub after its runner exited", "github_job_id", st.ID, "status", st.Status)
			return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureRunnerSystem}
		}
		if clock.Sleep(cctx, j.src.o.Clock, wait) != nil {
			return exitOutcome
		}
		wait *= 2
	}
}

// ConclusionOutcome maps a GitHub job conclusion to an agent outcome.
func ConclusionOutcome(conclusion string) runner.Outcome {
	switch conclusion {
	case "success", "neutral", "skipped":
		return runner.Outcome{State: runner.StateSuccess}
	case "cancelled":
		return runner.Outcome{State: runner.StateCanceled}
	case "timed_out":
		return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureJobExecutionTimeout}
	case "failure":
		return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureScript}
	}
	return runner.Outcome{State: runner.StateFailed, FailureReason: runner.FailureUnknown}
}
