package scaleset

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/journal"
)

// Every runner the listener launches is journaled (runner/journal) from
// its JIT config until its registration is gone, as label mode's runners
// are: if the agent is killed, the next start removes the registration
// (Recover) once, and the executors' reap of everything labelled for the
// node removes its container (EngineLabel is the runner's name, the
// executors' job label of its container).

// journalEntry is the record of registration id, named name.
func (l *Listener) journalEntry(name string, id int64) journal.Entry {
	return journal.Entry{
		Platform: journal.PlatformGitHubScaleSet, Runner: l.cfg.Name, JobID: strconv.FormatInt(id, 10), RunnerID: id,
		Node: l.cfg.Owner, EngineLabel: name,
	}
}

// record journals a minted runner before its container starts. A runner
// whose record cannot be written still runs.
func (l *Listener) record(name string, id int64) {
	if l.journal == nil {
		return
	}
	if err := l.journal.Record(l.journalEntry(name, id)); err != nil {
		l.log.Error("recording the runner in the journal failed: a crash now would leave its registration", "runner", name, "err", err)
	}
}

// forget deletes the record of registration id, once it is gone.
func (l *Listener) forget(id int64) {
	if l.journal == nil {
		return
	}
	if err := l.journal.Done(l.journalEntry("", id)); err != nil {
		l.log.Warn("removing a runner's journal record", "runner_id", id, "err", err)
	}
}

// registrationGone reports whether err says the registration does not
// exist (any more).
func registrationGone(err error) bool {
	return errors.Is(err, actions.RunnerNotFoundError) || httpStatus(err) == 404
}

// unregister removes registration id and then its record; a registration
// already gone (JIT runners are removed after their job) is fine. While
// the service counts the runner busy the error matches
// github.ErrRunnerBusy and the record stays.
func (l *Listener) unregister(ctx context.Context, id int64) error {
	err := l.api.RemoveRunner(ctx, id)
	switch {
	case err == nil || registrationGone(err):
		l.forget(id)
		return nil
	case errors.Is(err, actions.JobStillRunningError):
		return fmt.Errorf("scale set %s: runner %d: %w: %w", l.cfg.Name, id, github.ErrRunnerBusy, err)
	}
	return fmt.Errorf("scale set %s: removing runner %d: %w", l.cfg.Name, id, err)
}

// Recover removes the registration of a runner a previous, killed agent
// left (its journal record e), and the record. It matches
// github.ErrRunnerBusy while the service still counts the runner busy:
// it fails the job once the runner stops answering and then lets the
// registration go, so the caller tries again later.
func (l *Listener) Recover(ctx context.Context, e journal.Entry) error {
	if e.Platform != journal.PlatformGitHubScaleSet || e.Runner != l.cfg.Name {
		return fmt.Errorf("scale set %s: not its journal record: %s runner %q", l.cfg.Name, e.Platform, e.Runner)
	}
	return l.unregister(ctx, e.RunnerID)
}
