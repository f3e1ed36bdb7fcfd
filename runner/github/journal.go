package github

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/runfleet/runfleet/runner/journal"
)

// RunnerJournal journals the runner registrations of one source (a
// [[github]] table or a scale set): each from its JIT config until the
// registration is gone, so that after a killed agent the next start
// removes it once (Recover), and the executors' reap of everything
// labelled for the node removes its container (EngineLabel is the
// runner's name, the job label of its container). A nil Journal records
// nothing.
type RunnerJournal struct {
	Journal *journal.Journal
	// Platform is journal.PlatformGitHub or PlatformGitHubScaleSet;
	// Source names the table or scale set, Node this node.
	Platform, Source, Node string
}

// entry is the record of registration id, named name.
func (r RunnerJournal) entry(name string, id int64) journal.Entry {
	return journal.Entry{
		Platform: r.Platform, Runner: r.Source, JobID: strconv.FormatInt(id, 10), RunnerID: id,
		Node: r.Node, EngineLabel: name,
	}
}

// Record journals a minted runner before its container starts. A runner
// whose record cannot be written still runs.
func (r RunnerJournal) Record(log *slog.Logger, name string, id int64) {
	if r.Journal == nil {
		return
	}
	if err := r.Journal.Record(r.entry(name, id)); err != nil {
		log.Error("recording the runner in the journal failed: a crash now would leave its registration", "github_runner", name, "err", err)
	}
}

// Forget deletes the record of registration id, once it is gone.
func (r RunnerJournal) Forget(log *slog.Logger, id int64) {
	if r.Journal == nil {
		return
	}
	if err := r.Journal.Done(r.entry("", id)); err != nil {
		log.Warn("removing a runner's journal record", "github_runner_id", id, "err", err)
	}
}

// runners is the source's RunnerJournal.
func (s *Source) runners() RunnerJournal {
	return RunnerJournal{Journal: s.o.Journal, Platform: journal.PlatformGitHub, Source: s.o.Name, Node: s.o.Node}
}

// unregister deletes registration id and, once it is gone, its journal
// record.
func (s *Source) unregister(ctx context.Context, id int64) error {
	if err := s.o.API.DeleteRunner(ctx, id); err != nil {
		return err
	}
	s.runners().Forget(s.log, id)
	return nil
}

// Recover removes the registration of a runner a previous, killed agent
// left (its journal record e), and the record. It matches ErrRunnerBusy
// while GitHub still counts the runner busy: GitHub fails the job once the
// runner stops answering and then lets the registration go, so the caller
// tries again later.
func (s *Source) Recover(ctx context.Context, e journal.Entry) error {
	return s.unregister(ctx, e.RunnerID)
}
