package gitlabtest

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
)

// traceChecksum is the output checksum GitLab compares: crc32 (IEEE) of the log.
func traceChecksum(trace []byte) string {
	return fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(trace))
}

func (s *Server) handleUpdateJob(w http.ResponseWriter, r *http.Request) {
	id := infoOf(r).jobID
	var body updateJobBody
	if err := decodeJSON(r, &body); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	final := body.State == string(StateSuccess) || body.State == string(StateFailed)
	if s.injectFault(w, r, EndpointUpdateJob, final) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireHoldsLocked()
	j, ok := s.jobs[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "404 Not Found")
		return
	}
	setJobStatus(w, j)
	token := body.Token
	if h := r.Header.Get("JOB-TOKEN"); h != "" {
		if token != "" && token != h {
			writeMessage(w, http.StatusForbidden, "403 Forbidden - token mismatch")
			return
		}
		token = h
	}
	if j.token == "" || token != j.token {
		j.event("update %q with a bad token: 403", body.State)
		writeMessage(w, http.StatusForbidden, "403 Forbidden - invalid job token")
		return
	}
	if j.state.Final() {
		if final {
			j.rejectedFinals++
		}
		j.event("update %q after final state %s: 403", body.State, j.state)
		writeMessage(w, http.StatusForbidden, "403 Forbidden - Job is not processing on runner")
		return
	}
	if !j.onRunner() && !j.assigned {
		writeMessage(w, http.StatusForbidden, "403 Forbidden - Job is not processing on runner")
		return
	}

	switch body.State {
	case string(StatePending):
		s.updatePendingLocked(w, j)
	case string(StateRunning):
		s.updateRunningLocked(w, j)
	case string(StateSuccess), string(StateFailed):
		s.updateFinalLocked(w, j, body)
	default:
		j.event("update with invalid state %q: 400", body.State)
		s.violateLocked("job %d: update with invalid state %q", j.id, body.State)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - state is invalid")
	}
}

// updatePendingLocked handles a two-phase keep-alive.
func (s *Server) updatePendingLocked(w http.ResponseWriter, j *job) {
	if j.state != StatePending {
		j.event("pending update on a %s job: 409", j.state)
		s.violateLocked("job %d: state=pending update on a %s job", j.id, j.state)
		writeMessage(w, http.StatusConflict, "409 Conflict - job is not waiting for runner ack")
		return
	}
	j.ackAt = s.cfg.now()
	j.keepAlives++
	writeMessage(w, http.StatusOK, "200 OK")
}

func (s *Server) updateRunningLocked(w http.ResponseWriter, j *job) {
	j.keepAlives++
	if j.state == StatePending {
		j.state = StateRunning
		j.event("two-phase ack: running")
		setJobStatus(w, j)
	}
	j.accepted = true
	writeMessage(w, http.StatusOK, "200 OK")
}

func (s *Server) updateFinalLocked(w http.ResponseWriter, j *job, body updateJobBody) {
	if body.State == string(StateFailed) && body.FailureReason != "" &&
		!slices.Contains(j.spec.FailureReasons, body.FailureReason) {
		j.event("final failed with failure_reason %q not offered: 400", body.FailureReason)
		s.violateLocked("job %d: failure_reason %q not in features.failure_reasons", j.id, body.FailureReason)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - failure_reason does not have a valid value")
		return
	}
	checksumOK := false
	switch {
	case body.Output == nil || body.Output.Checksum == "" || body.Output.Bytesize == nil:
		s.violateLocked("job %d: final update without output checksum and bytesize", j.id)
	case body.Output.Checksum == traceChecksum(j.trace) && *body.Output.Bytesize == int64(len(j.trace)):
		checksumOK = true
	default:
		j.mismatches++
		j.event("final update checksum %s/%d, server has %s/%d", body.Output.Checksum,
			*body.Output.Bytesize, traceChecksum(j.trace), len(j.trace))
		if j.mismatches == 1 {
			// Ask for the whole log again; the stored log is dropped so the
			// resend starts at offset 0.
			j.trace = nil
			j.event("412: trace reset, resend the whole log")
			writeMessage(w, http.StatusPreconditionFailed, "412 Precondition Failed - trace checksum mismatch")
			return
		}
		s.violateLocked("job %d: final update checksum still mismatches after a trace reset", j.id)
	}

	j.finalUpdates++
	j.checksumOK = checksumOK
	j.reportedState = body.State
	j.exitCode = body.ExitCode
	reason := body.FailureReason
	if body.State == string(StateFailed) && reason == "" {
		reason = "unknown_failure"
	}
	if body.State == string(StateSuccess) {
		reason = ""
	}
	if !j.accepted {
		j.event("final update without a prior PUT state=running")
	}
	switch {
	case j.state == StateCanceling:
		j.failureReason = reason
		j.finish(StateCanceled, "")
	case body.State == string(StateSuccess):
		j.finish(StateSuccess, "")
	default:
		j.finish(StateFailed, reason)
	}
	exit := "none"
	if body.ExitCode != nil {
		exit = fmt.Sprint(*body.ExitCode)
	}
	j.event("final update %s reason=%q exit=%s checksumOK=%v", body.State, body.FailureReason, exit, checksumOK)
	setJobStatus(w, j)
	writeMessage(w, http.StatusOK, "200 OK")
}
