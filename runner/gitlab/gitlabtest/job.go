package gitlabtest

import (
	"fmt"
	"time"
)

// job is a job on the coordinator.
type job struct {
	id         int64
	pipelineID int64
	spec       JobSpec
	beforeSHA  string
	state      JobState
	enqueuedAt time.Time

	// Set when a runner picks the job.
	token    string
	runner   *runner
	systemID string
	features map[string]bool
	twoPhase bool
	assigned bool      // picked; with two-phase commit the state stays pending
	ackAt    time.Time // last two-phase ack (pick or pending keep-alive)
	payload  []byte

	trace          []byte
	reportedState  string
	failureReason  string
	exitCode       *int
	checksumOK     bool
	finalUpdates   int
	rejectedFinals int
	mismatches     int
	keepAlives     int
	accepted       bool
	uploads        []ArtifactUpload
	events         []string
	final          chan struct{} // closed when the state becomes final
	handed         chan struct{} // closed when a runner first got the job
}

func (j *job) event(format string, args ...any) {
	j.events = append(j.events, fmt.Sprintf(format, args...))
}

// finish moves the job to a final state once.
func (j *job) finish(state JobState, reason string) {
	if j.state.Final() {
		return
	}
	j.state = state
	if reason != "" {
		j.failureReason = reason
	}
	j.event("final: %s %s", state, reason)
	close(j.final)
}

// onRunner reports whether the job is processing on a runner (running or
// canceling), the condition for trace, update and artifact calls.
func (j *job) onRunner() bool {
	return j.state == StateRunning || j.state == StateCanceling
}

func (j *job) artifact(typ string) (ArtifactUpload, bool) {
	for _, u := range j.uploads {
		if u.Type == typ {
			return u, true
		}
	}
	return ArtifactUpload{}, false
}

// Cancel cancels job id as a user would. A job not yet on a runner becomes
// canceled at once. A running job whose runner advertised cancel_gracefully
// becomes canceling: responses carry Job-Status: canceling, the runner's
// final update is accepted and the job ends canceled. Without that feature
// the job is canceled at once (Job-Status: canceled, 403 on later calls).
func (s *Server) Cancel(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.mustJobLocked(id)
	if j == nil || j.state.Final() || j.state == StateCanceling {
		return
	}
	if j.state == StateRunning && j.features["cancel_gracefully"] {
		j.state = StateCanceling
		j.event("cancel requested: canceling")
		return
	}
	j.event("cancel requested")
	s.abortLocked(j)
}

// Abort force-cancels job id: it is canceled at once, responses carry
// Job-Status: canceled and trace/update calls answer 403.
func (s *Server) Abort(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.mustJobLocked(id)
	if j == nil || j.state.Final() {
		return
	}
	j.event("abort requested")
	s.abortLocked(j)
}

func (s *Server) abortLocked(j *job) {
	wasQueued := j.state == StatePending
	j.finish(StateCanceled, "")
	if wasQueued {
		s.tickLocked()
	}
}

func (s *Server) mustJobLocked(id int64) *job {
	j, ok := s.jobs[id]
	if !ok {
		s.tb.Errorf("gitlabtest: no job %d", id)
		return nil
	}
	return j
}
