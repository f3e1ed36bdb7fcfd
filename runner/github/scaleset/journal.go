package scaleset

import (
	"context"
	"errors"
	"fmt"

	actions "github.com/actions/scaleset"

	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/journal"
)

// Every runner the listener launches is journaled as label mode's runners
// are (github.RunnerJournal).
func (l *Listener) records() github.RunnerJournal {
	return github.RunnerJournal{Journal: l.journal, Platform: journal.PlatformGitHubScaleSet, Source: l.cfg.Name, Node: l.cfg.Owner}
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
		l.records().Forget(l.log, id)
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
