package gitlab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/runfleet/runfleet/runner/journal"
)

// RestartNote closes the log of a job reported by a restarted agent.
const RestartNote = "\nrunfleet: the agent running this job restarted (it was killed or its node rebooted); " +
	"the job is reported failed as a runner system failure.\n"

// RecoverOptions configure RecoverJob.
type RecoverOptions struct {
	Client *Client
	// RunnerToken is the token of the runner the job came from, so the
	// report shares its rate-limit gate.
	RunnerToken string
	Info        *VersionInfo
	Logger      *slog.Logger
	// FinalTimeout bounds the report (default 1 minute).
	FinalTimeout time.Duration
}

// RecoverJob reports a job a previous agent left unfinished — its journal
// record and spooled log — as failed with runner_system_failure, after a
// closing log line (RestartNote). The log GitLab is missing is resent
// first (GitLab's 416 says where it stands), so the final update's checksum
// matches. It returns nil once GitLab acknowledged the final state, or
// said the job no longer runs (it ended it itself, or the previous agent's
// final update had gone through): in both cases the record may go. Any
// other error means the report must be tried again.
func RecoverJob(ctx context.Context, o RecoverOptions, e journal.Entry, spool []byte) error {
	if e.Platform != journal.PlatformGitLab {
		return fmt.Errorf("gitlab: journal record of platform %q", e.Platform)
	}
	id, err := strconv.ParseInt(e.JobID, 10, 64)
	if err != nil || id <= 0 || e.JobToken == "" {
		return fmt.Errorf("gitlab: journal record of job %q: no job id or token", e.JobID)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FinalTimeout <= 0 {
		o.FinalTimeout = time.Minute
	}
	o.Client.BindJob(e.JobToken, o.RunnerToken)
	tr, err := NewTrace(TraceOptions{
		Client: o.Client, JobID: id, JobToken: e.JobToken, Info: o.Info, Logger: o.Logger,
		Limit: int64(len(spool)+len(RestartNote)) + 1, FinalTimeout: o.FinalTimeout,
	})
	if err != nil {
		return err
	}
	// The spool is the log as the previous agent sent it, masked already.
	if _, err := tr.Write(spool); err != nil {
		return err
	}
	if _, err := tr.Write([]byte(RestartNote)); err != nil {
		return err
	}
	err = tr.Finish(ctx, FinalResult{State: StateFailed, FailureReason: FailureRunnerSystem})
	switch {
	case err == nil && tr.AbortErr() == nil:
		return nil
	case err == nil || errors.Is(err, ErrJobNotRunning) || errors.Is(err, ErrForbidden):
		o.Logger.Info("gitlab: the job had already ended on GitLab", "job", id, "reason", tr.AbortErr())
		return nil
	}
	return fmt.Errorf("gitlab: reporting job %d after a restart: %w", id, err)
}
