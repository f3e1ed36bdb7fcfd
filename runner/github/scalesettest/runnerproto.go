package scalesettest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The stand-in runner's protocol (tests/githubrunner, a test double): the
// official runner's own protocol with the Actions service is not public,
// so the runner container side speaks this test-only one, the same the
// REST fake (runner/github/githubtest) serves, under the JIT config's
// ServerUrl:
//
//	POST runners/{id}/session            → 200 (404: registration deleted)
//	GET  runners/{id}/job?wait=SECONDS   → 200 {id,name,steps} | 204 none yet
//	POST runners/{id}/jobs/{job}/result  {conclusion, output} → 204
//
// all with "Authorization: Bearer <JIT credentials token>". Taking a job
// here is what TakeJob does (JobStarted), the result what CompleteJob
// does (JobCompleted; the ephemeral registration goes).

// runnerAuthLocked resolves {rid} and checks the runner's token.
func (s *Server) runnerAuthLocked(w http.ResponseWriter, r *http.Request) *runner {
	id, _ := strconv.Atoi(r.PathValue("rid"))
	rn, ok := s.runners[id]
	if !ok {
		agentNotFound(w, r.PathValue("rid"))
		return nil
	}
	if bearer(r) != rn.token {
		writeException(w, http.StatusUnauthorized, excUnauthorized, "Invalid runner credentials.")
		return nil
	}
	return rn
}

func (s *Server) handleRunnerSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runnerAuthLocked(w, r)
	if rn == nil || !s.checkRunnerVersionLocked(w, r) {
		return
	}
	rn.online = true
	s.notifyLocked()
	writeJSON(w, http.StatusOK, map[string]any{"sessionId": randomToken(8), "agent": map[string]any{"id": rn.id, "name": rn.name}})
}

func (s *Server) handleRunnerJob(w http.ResponseWriter, r *http.Request) {
	wait := 30 * time.Second
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 60 {
			s.violate("runner job poll: wait %q", v)
			writeException(w, http.StatusBadRequest, excArgument, "wait must be 0..60 seconds")
			return
		}
		wait = time.Duration(n) * time.Second
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		s.mu.Lock()
		rn := s.runnerAuthLocked(w, r)
		if rn == nil || !s.checkRunnerVersionLocked(w, r) {
			s.mu.Unlock()
			return
		}
		if !rn.online {
			s.violateLocked("runner %s polled for a job without a session", rn.name)
		}
		if rn.job == 0 {
			for _, jid := range s.jobOrder {
				if j := s.jobs[jid]; j.state == JobAssigned && j.scaleSetID == rn.scaleSetID {
					s.startLocked(j, rn)
					break
				}
			}
		}
		if rn.job != 0 {
			j := s.jobs[rn.job]
			out := map[string]any{"id": j.id, "name": j.DisplayName, "steps": j.Steps}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
			return
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		case <-s.closing:
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
}

func (s *Server) handleRunnerResult(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Conclusion string `json:"conclusion"`
		Output     string `json:"output"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	result := map[string]string{"success": "succeeded", "failure": "failed", "cancelled": "canceled"}
	if err := dec.Decode(&body); err != nil || result[body.Conclusion] == "" {
		s.violate("runner result: %+v (%v)", body, err)
		writeException(w, http.StatusBadRequest, excArgument, "conclusion must be success, failure or cancelled")
		return
	}
	jid, _ := strconv.ParseInt(r.PathValue("jid"), 10, 64)
	s.mu.Lock()
	rn := s.runnerAuthLocked(w, r)
	if rn == nil {
		s.mu.Unlock()
		return
	}
	if rn.job != jid {
		s.violateLocked("runner %s reported job %d, it runs %d", rn.name, jid, rn.job)
		s.mu.Unlock()
		writeException(w, http.StatusConflict, excInvalidRequest, "The job is not assigned to this runner.")
		return
	}
	s.jobs[jid].output = body.Output
	s.mu.Unlock()
	if err := s.CompleteJob(jid, result[body.Conclusion]); err != nil {
		writeException(w, http.StatusConflict, excInvalidRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
