package githubtest

// The TEST-ONLY runner protocol. GitHub's real runner talks to the Actions
// service through a private protocol (sessions, message long-polls, job
// acquisition, log upload) that no public document describes. This fake
// replaces it with four calls, made by the stand-in runner in
// tests/githubrunner and by nothing else. The runner authenticates with
// "Authorization: Bearer <data.token of .credentials in its JIT config>"
// and names its version in every call (?runnerVersion=2.338.0; an older one
// than GitHub accepts gets 403, see runnerversion.go):
//
//	POST   /_runfleet_test/runners/{id}/session          → 200 {"session_id"}; the runner is online
//	GET    /_runfleet_test/runners/{id}/job?wait=SECONDS → 200 job | 204 none yet (long poll, ≤ 50 s)
//	POST   /_runfleet_test/runners/{id}/jobs/{job}/result {"conclusion","output"} → 204
//	DELETE /_runfleet_test/runners/{id}/session          → 204; the runner is offline
//
// Every call answers 404 once the registration is deleted (the runner must
// exit), 401 for a wrong secret. A job handed out stays the runner's only
// job (JIT runners are ephemeral): asking again returns the same job.
// Reporting a result completes the job and removes the registration, as a
// JIT runner unregisters itself after its job.

import (
	"net/http"
	"strconv"
	"time"
)

// runnerJob is the job as the stand-in runner receives it.
type runnerJob struct {
	ID     int64    `json:"id"`
	RunID  int64    `json:"run_id"`
	Name   string   `json:"name"`
	Repo   string   `json:"repository"`
	Labels []string `json:"labels"`
	Steps  []string `json:"steps"`
}

type jobResult struct {
	Conclusion string `json:"conclusion"`
	Output     string `json:"output"`
}

// runnerAuth resolves the calling runner; it answers errors itself and
// returns with s.mu held on success.
func (s *Server) runnerAuth(w http.ResponseWriter, r *http.Request) *runner {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return nil
	}
	s.mu.Lock()
	rn := s.runners[id]
	switch {
	case rn == nil:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "runner registration not found", docRunners)
		return nil
	case bearer(r) != rn.secret:
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "Bad credentials", docAuth)
		return nil
	case !s.checkRunnerVersionLocked(w, r): // runnerversion.go
		s.mu.Unlock()
		return nil
	}
	return rn
}

func (s *Server) handleSessionOpen(w http.ResponseWriter, r *http.Request) {
	rn := s.runnerAuth(w, r)
	if rn == nil {
		return
	}
	rn.online = true
	if rn.onlineAt.IsZero() {
		rn.onlineAt = s.now()
	}
	s.notifyLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"session_id": strconv.FormatInt(rn.id, 10)})
}

func (s *Server) handleSessionClose(w http.ResponseWriter, r *http.Request) {
	rn := s.runnerAuth(w, r)
	if rn == nil {
		return
	}
	rn.online = false
	s.notifyLocked()
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleNextJob(w http.ResponseWriter, r *http.Request) {
	wait := 30 * time.Second
	if v := r.URL.Query().Get("wait"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "wait must be a number of seconds", docRunners)
			return
		}
		wait = min(time.Duration(n)*time.Second, 50*time.Second)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		rn := s.runnerAuth(w, r)
		if rn == nil {
			return
		}
		var j *Job
		if rn.jobID != 0 {
			j = s.jobs[rn.jobID]
		} else if rn.online {
			j = s.assignLocked(rn)
		}
		if j != nil {
			body := runnerJob{ID: j.ID, RunID: j.RunID, Name: j.Name, Repo: j.Repo, Labels: j.Labels, Steps: j.Script}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, body)
			return
		}
		wake := s.changed
		s.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		case <-s.done:
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
}

func (s *Server) handleJobResult(w http.ResponseWriter, r *http.Request) {
	var res jobResult
	if !decodeBody(w, r, &res) {
		return
	}
	switch res.Conclusion {
	case "success", "failure", "cancelled":
	default:
		writeError(w, http.StatusUnprocessableEntity, "conclusion must be success, failure or cancelled", docRunners)
		return
	}
	rn := s.runnerAuth(w, r)
	if rn == nil {
		return
	}
	jobID, _ := strconv.ParseInt(r.PathValue("job"), 10, 64)
	j := s.jobs[jobID]
	if j == nil || rn.jobID != jobID || j.Status != "in_progress" {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "job is not running on this runner", docRunners)
		return
	}
	j.Status, j.Conclusion, j.Output, j.CompletedAt = "completed", res.Conclusion, res.Output, s.now()
	delete(s.runners, rn.id)
	s.notifyLocked()
	s.deliverLocked("completed", j)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
