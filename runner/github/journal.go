package github

import (
	"context"
	"log/slog"
	"strconv"

	"github.com/runfleet/runfleet/runner/journal"
)

// journalEntry is the journal record of runner registration id.
func (s *Source) journalEntry(name string, id int64) journal.Entry {
	return journal.Entry{
		Platform: journal.PlatformGitHub, Runner: s.o.Name, JobID: strconv.FormatInt(id, 10), RunnerID: id,
		Node: s.o.Node, EngineLabel: name,
	}
}

// record journals a minted runner before its container starts: if the
// agent dies from here on, the next start removes the registration
// (Recover). A runner whose record cannot be written still runs.
func (s *Source) record(log *slog.Logger, name string, id int64) {
	if s.o.Journal == nil {
		return
	}
	if err := s.o.Journal.Record(s.journalEntry(name, id)); err != nil {
		log.Error("recording the runner in the journal failed: a crash now would leave its registration", "err", err)
	}
}

// unregister deletes registration id and, once it is gone, its journal
// record.
func (s *Source) unregister(ctx context.Context, id int64) error {
	if err := s.o.API.DeleteRunner(ctx, id); err != nil {
		return err
	}
	if s.o.Journal != nil {
		if err := s.o.Journal.Done(s.journalEntry("", id)); err != nil {
			s.log.Warn("removing a runner's journal record", "github_runner_id", id, "err", err)
		}
	}
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
