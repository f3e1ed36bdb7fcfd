package gitlab

import (
	"io"
	"os"
	"strconv"

	"github.com/runfleet/runfleet/runner/journal"
)

// jobRecord is a running job's journal record (SourceOptions.Journal); its
// methods do nothing without a journal (or on nil).
type jobRecord struct {
	j     *journal.Journal
	e     journal.Entry
	spool *os.File
}

// record writes the job's journal record before the job is accepted
// (nothing of it has started on the engine yet), and opens its log spool. A job whose record cannot be
// written still runs (it is accepted already), without crash safety.
func (j *remoteJob) record() *jobRecord {
	jr := j.src.o.Journal
	if jr == nil {
		return &jobRecord{}
	}
	rec := &jobRecord{j: jr, e: journal.Entry{
		Platform:    journal.PlatformGitLab,
		Runner:      j.src.o.Runner.Name,
		URL:         j.src.o.Runner.URL.String(),
		JobID:       strconv.FormatInt(j.job.ID, 10),
		JobToken:    j.job.Token,
		Node:        j.src.o.Build.Node,
		EngineLabel: strconv.FormatInt(j.job.ID, 10) + "-", // prepare.go: "<id>-<suffix>"
	}}
	if err := jr.Record(rec.e); err != nil {
		j.log.Error("recording the job in the journal failed: a crash now would leave it running on GitLab", "err", err)
		return &jobRecord{}
	}
	spool, err := jr.Spool(rec.e)
	if err != nil {
		j.log.Warn("spooling the job log failed: a restart could not resend it", "err", err)
	}
	rec.spool = spool
	return rec
}

// spoolWriter is the Trace's Spool (nil without one).
func (r *jobRecord) spoolWriter() io.Writer {
	if r == nil || r.spool == nil {
		return nil
	}
	return r.spool
}

// close releases the spool file.
func (r *jobRecord) close() {
	if r != nil && r.spool != nil {
		_ = r.spool.Close()
	}
}

// done deletes the record once GitLab acknowledged the final state.
func (r *jobRecord) done() error {
	if r == nil || r.j == nil {
		return nil
	}
	r.close()
	r.spool = nil
	return r.j.Done(r.e)
}
