package gitlabtest

import (
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// jobForToken finds the path's job and checks the job token, answering
// 404/403 itself when it does not match.
func (s *Server) jobForTokenLocked(w http.ResponseWriter, r *http.Request, token string) *job {
	j := s.jobs[infoOf(r).jobID]
	if j == nil {
		writeMessage(w, http.StatusNotFound, "404 Job Not Found")
		return nil
	}
	if token == "" || token != j.token {
		if token == "" {
			s.violateLocked("%s %s without a job token", r.Method, r.URL.Path)
		}
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return nil
	}
	return j
}

// runningJobLocked is jobForTokenLocked with the JOB-TOKEN header, for a
// job that must be on a runner (trace and artifact calls): 403 otherwise.
func (s *Server) runningJobLocked(w http.ResponseWriter, r *http.Request) *job {
	j := s.jobForTokenLocked(w, r, r.Header.Get("JOB-TOKEN"))
	if j == nil {
		return nil
	}
	if !j.onRunner() {
		s.jobHeaders(w, j)
		writeMessage(w, http.StatusForbidden, "403 Forbidden - job is not running")
		return nil
	}
	return j
}

// handleUpdateJob is PUT jobs/:id.
func (s *Server) handleUpdateJob(w http.ResponseWriter, r *http.Request) {
	var body updateJobBody
	if err := decodeJSON(r, &body); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	final := body.State == "success" || body.State == "failed"
	if s.injectFault(w, r, EndpointUpdateJob, final) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobForTokenLocked(w, r, body.Token)
	if j == nil {
		return
	}
	switch body.State {
	case "pending", "running", "success", "failed":
	default:
		s.violateLocked("job %d: update with invalid state %q", j.id, body.State)
		writeMessage(w, http.StatusBadRequest, "400 Bad request - state does not have a valid value")
		return
	}
	if j.state.Final() {
		if final {
			j.rejectedFinals++
			j.event("final update after the job ended: 403")
		}
		s.jobHeaders(w, j)
		writeMessage(w, http.StatusForbidden, "403 Forbidden - job is not running")
		return
	}
	if j.state == StatePending {
		// Two-phase commit: only "pending" keep-alives and "running" (accept).
		switch body.State {
		case "running":
			j.state, j.accepted = StateRunning, true
			j.event("accepted (running)")
		case "pending":
			j.ackAt = s.cfg.now()
			j.keepAlives++
		default:
			s.violateLocked("job %d: final update %q before the job was accepted", j.id, body.State)
			s.jobHeaders(w, j)
			writeMessage(w, http.StatusForbidden, "403 Forbidden - job is not running")
			return
		}
		s.jobHeaders(w, j)
		writeJSON(w, http.StatusOK, map[string]string{})
		return
	}
	if !final {
		j.keepAlives++
		j.accepted = true
		s.jobHeaders(w, j)
		writeJSON(w, http.StatusOK, map[string]string{})
		return
	}
	if body.FailureReason != "" {
		if body.State == "success" {
			s.violateLocked("job %d: success with failure_reason %q", j.id, body.FailureReason)
		} else if !slices.Contains(j.spec.FailureReasons, body.FailureReason) {
			s.violateLocked("job %d: failure_reason %q not in features.failure_reasons", j.id, body.FailureReason)
			writeMessage(w, http.StatusBadRequest, "400 Bad request - failure_reason does not have a valid value")
			return
		}
	}
	if j.features["trace_checksum"] {
		want := fmt.Sprintf("crc32:%08x", crc32.ChecksumIEEE(j.trace))
		if body.Output == nil || body.Output.Checksum != want || body.Output.Bytesize == nil || *body.Output.Bytesize != int64(len(j.trace)) {
			j.mismatches++
			j.resetAllowed = true
			got := "none"
			if body.Output != nil {
				got = body.Output.Checksum
			}
			j.event("final update checksum %s, log has %s (%d bytes): 412", got, want, len(j.trace))
			s.jobHeaders(w, j)
			writeMessage(w, http.StatusPreconditionFailed, "412 Precondition Failed - trace checksum mismatch")
			return
		}
	}
	j.finalUpdates++
	j.checksumOK = true
	j.reportedState, j.exitCode = body.State, body.ExitCode
	state := JobState(body.State)
	if j.state == StateCanceling {
		state = StateCanceled
	}
	j.finish(state, body.FailureReason)
	s.jobHeaders(w, j)
	writeJSON(w, http.StatusOK, map[string]string{})
}

// handlePatchTrace is PATCH jobs/:id/trace.
func (s *Server) handlePatchTrace(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.maxTracePatch+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.runningJobLocked(w, r)
	if j == nil {
		return
	}
	if int64(len(data)) > s.cfg.maxTracePatch {
		s.violateLocked("job %d: trace patch of %d bytes exceeds the limit", j.id, len(data))
		writeMessage(w, http.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		s.violateLocked("job %d: trace patch with Content-Type %q", j.id, ct)
	}
	start, end, ok := parseContentRange(r.Header.Get("Content-Range"))
	if !ok {
		s.violateLocked("job %d: trace patch with Content-Range %q", j.id, r.Header.Get("Content-Range"))
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Content-Range is invalid")
		return
	}
	if start == 0 && j.resetAllowed && len(j.trace) > 0 {
		j.event("trace reset by the runner after a 412")
		j.trace, j.resetAllowed = nil, false
	}
	if start != int64(len(j.trace)) {
		w.Header().Set("Range", "0-"+strconv.Itoa(len(j.trace)))
		s.jobHeaders(w, j)
		writeMessage(w, http.StatusRequestedRangeNotSatisfiable, "416 Range Not Satisfiable")
		return
	}
	if end != start+int64(len(data))-1 {
		s.violateLocked("job %d: Content-Range %d-%d for %d bytes", j.id, start, end, len(data))
		writeMessage(w, http.StatusBadRequest, "400 Bad request - Content-Range does not match the body")
		return
	}
	j.trace = append(j.trace, data...)
	w.Header().Set("Range", "0-"+strconv.Itoa(len(j.trace)))
	s.jobHeaders(w, j)
	w.WriteHeader(http.StatusAccepted)
}

// parseContentRange reads GitLab's "start-end" (inclusive, no unit).
func parseContentRange(v string) (start, end int64, ok bool) {
	a, b, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}
