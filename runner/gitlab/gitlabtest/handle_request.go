package gitlabtest

import (
	"net/http"
	"slices"
	"strconv"
	"time"
)

// handleRequestJob is POST jobs/request with long polling and two-phase
// commit.
func (s *Server) handleRequestJob(w http.ResponseWriter, r *http.Request) {
	var body requestJobBody
	if err := decodeJSON(r, &body); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	if body.Token == nil || *body.Token == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token is missing")
		return
	}
	if body.SystemID != nil && !systemIDPattern.MatchString(*body.SystemID) {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - system_id is invalid")
		return
	}
	var features map[string]bool
	if body.Info != nil {
		features = body.Info.Features
	}
	s.mu.Lock()
	rn := s.runnerLocked(*body.Token)
	if rn == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	now := s.cfg.now()
	if limit := s.cfg.requestRateLimit; limit > 0 {
		recent := rn.polls[:0]
		for _, t := range rn.polls {
			if now.Sub(t) < time.Minute {
				recent = append(recent, t)
			}
		}
		rn.polls = recent
		if len(rn.polls) >= limit {
			s.mu.Unlock()
			w.Header().Set("Retry-After", "60")
			writeMessage(w, http.StatusTooManyRequests, "429 Too Many Requests")
			return
		}
		rn.polls = append(rn.polls, now)
	}
	if body.SystemID != nil {
		rn.managers[*body.SystemID] = true
	}
	if j := s.pickJobLocked(rn, features); j != nil {
		j.token = s.randTokenLocked("glcbt-")
		j.runner, j.features = rn, features
		if body.SystemID != nil {
			j.systemID = *body.SystemID
		}
		j.twoPhase = features["two_phase_job_commit"]
		if j.twoPhase {
			j.assigned, j.ackAt = true, now
			j.event("handed out (two-phase: pending until accepted)")
		} else {
			j.state, j.accepted = StateRunning, true
			j.event("handed out (running)")
		}
		s.jobTokens[j.token] = j.id
		j.payload = s.payloadLocked(j)
		payload := j.payload
		infoOf(r).jobID = j.id
		s.tickLocked()
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(payload)
		return
	}
	current := s.lastUpdateLocked()
	changed := s.changed
	s.mu.Unlock()
	if body.LastUpdate != "" && body.LastUpdate == current {
		t := time.NewTimer(s.cfg.longPollHold)
		select {
		case <-changed:
		case <-t.C:
		case <-r.Context().Done():
		case <-s.done:
		}
		t.Stop()
		s.mu.Lock()
		current = s.lastUpdateLocked()
		s.mu.Unlock()
	}
	w.Header().Set("X-GitLab-Last-Update", current)
	w.WriteHeader(http.StatusNoContent)
}

// pickJobLocked finds the oldest pending job the runner can take, failing
// jobs that need features the runner lacks (runner_unsupported) and
// releasing two-phase holds that expired.
func (s *Server) pickJobLocked(rn *runner, features map[string]bool) *job {
	now := s.cfg.now()
	for _, id := range s.order {
		j := s.jobs[id]
		if j.state != StatePending {
			continue
		}
		if j.assigned {
			if now.Sub(j.ackAt) < s.cfg.twoPhaseHold {
				continue
			}
			j.event("two-phase hold expired: back in the queue")
			delete(s.jobTokens, j.token)
			j.assigned, j.token, j.runner = false, "", nil
		}
		if !rn.canRun(j.spec.Tags) {
			continue
		}
		if missing := missingFeatures(j.spec, features); len(missing) > 0 {
			j.event("runner lacks features %v", missing)
			j.finish(StateFailed, "runner_unsupported")
			continue
		}
		return j
	}
	return nil
}

func missingFeatures(spec JobSpec, features map[string]bool) []string {
	var out []string
	for _, f := range requiredFeatures(spec) {
		if !features[f] && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// jobHeaders sets the headers GitLab sends on job-scoped answers.
func (s *Server) jobHeaders(w http.ResponseWriter, j *job) {
	w.Header().Set("Job-Status", string(j.state))
	w.Header().Set("X-GitLab-Trace-Update-Interval", strconv.Itoa(s.cfg.updateInterval))
}
