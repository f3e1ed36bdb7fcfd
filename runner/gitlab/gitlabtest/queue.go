package gitlabtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Enqueue queues a job built from spec and returns its id. The queue
// version changes, waking long polls. It may be called from any goroutine.
func (s *Server) Enqueue(spec JobSpec) int64 {
	spec = spec.withDefaults()
	s.mu.Lock()
	id := s.nextJobID
	s.nextJobID++
	if spec.PipelineID == 0 {
		spec.PipelineID = s.nextPipelineID
		s.nextPipelineID++
	}
	rp := s.repos[spec.ProjectPath]
	s.mu.Unlock()

	beforeSHA := zeroSHA
	if rp != nil {
		if spec.SHA == "" {
			spec.SHA = rp.head()
		}
		beforeSHA = rp.parentOf(spec.SHA)
		// GitLab keeps a persistent ref per pipeline; refspecs point at it.
		if _, err := rp.run(nil, "update-ref", fmt.Sprintf("refs/pipelines/%d", spec.PipelineID), spec.SHA); err != nil {
			s.tb.Errorf("gitlabtest: enqueue: %v", err)
		}
	}
	if spec.SHA == "" {
		spec.SHA = fmt.Sprintf("%040x", id)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	j := &job{
		id:         id,
		pipelineID: spec.PipelineID,
		spec:       spec,
		beforeSHA:  beforeSHA,
		state:      StatePending,
		enqueuedAt: s.cfg.now(),
		final:      make(chan struct{}),
		handed:     make(chan struct{}),
	}
	j.event("enqueued")
	s.jobs[id] = j
	s.order = append(s.order, id)
	s.tickLocked()
	return id
}

const zeroSHA = "0000000000000000000000000000000000000000"

// tickLocked changes the queue version and wakes held long polls.
func (s *Server) tickLocked() {
	s.version++
	close(s.changed)
	s.changed = make(chan struct{})
}

// versionLocked is the opaque X-GitLab-Last-Update value.
func (s *Server) versionLocked() string {
	x := s.version*0x9e3779b97f4a7c15 ^ s.cfg.seed
	x ^= x >> 31
	return fmt.Sprintf("%016x", x)
}

// expireHoldsLocked requeues two-phase jobs whose runner stopped confirming.
func (s *Server) expireHoldsLocked() {
	now := s.cfg.now()
	for _, id := range s.order {
		j := s.jobs[id]
		if j.state != StatePending || !j.assigned || now.Sub(j.ackAt) < s.cfg.twoPhaseHold {
			continue
		}
		j.event("two-phase hold expired after %v: requeued", now.Sub(j.ackAt))
		delete(s.jobTokens, j.token)
		j.token, j.runner, j.assigned, j.payload = "", nil, false, nil
		s.tickLocked()
	}
}

// pollLimitedLocked records a poll and reports the wait if over the limit.
func (s *Server) pollLimitedLocked(rn *runner) (time.Duration, bool) {
	if s.cfg.requestRateLimit <= 0 {
		return 0, false
	}
	now := s.cfg.now()
	cut := 0
	for cut < len(rn.polls) && now.Sub(rn.polls[cut]) >= time.Minute {
		cut++
	}
	rn.polls = rn.polls[cut:]
	if len(rn.polls) >= s.cfg.requestRateLimit {
		return time.Minute - now.Sub(rn.polls[0]), true
	}
	rn.polls = append(rn.polls, now)
	return 0, false
}

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
	if body.SystemID == nil || !systemIDPattern.MatchString(*body.SystemID) {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - system_id is missing or invalid")
		return
	}
	s.mu.Lock()
	rn := s.runnerLocked(*body.Token)
	if rn == nil {
		s.mu.Unlock()
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	if h := r.Header.Get("RUNNER-TOKEN"); h != "" && h != *body.Token {
		s.violateLocked("jobs/request: RUNNER-TOKEN header differs from body token")
	}
	if wait, limited := s.pollLimitedLocked(rn); limited {
		seconds := int(wait.Seconds() + 0.999)
		s.rateLimitedLocked(r, http.StatusTooManyRequests, seconds, s.cfg.now())
		s.mu.Unlock()
		w.Header().Set("Retry-After", fmt.Sprint(seconds))
		writeMessage(w, http.StatusTooManyRequests, "429 Too Many Requests")
		return
	}
	rn.managers[*body.SystemID] = true
	s.expireHoldsLocked()

	var features map[string]bool
	if body.Info != nil {
		features = body.Info.Features
	}
	if j := s.pickLocked(rn, *body.SystemID, features); j != nil {
		infoOf(r).jobID = j.id
		payload := j.payload
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(payload)
		return
	}
	current := s.versionLocked()
	wake := s.changed
	s.mu.Unlock()
	// Workhorse: a runner that already saw the current queue version is held
	// until the queue changes or the hold ends, then answered 204 without
	// X-GitLab-Last-Update; the runner must poll again (with its old value).
	if body.LastUpdate != "" && body.LastUpdate == current {
		s.sleepOrDone(r.Context(), s.cfg.longPollHold, wake)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("X-GitLab-Last-Update", current)
	w.WriteHeader(http.StatusNoContent)
}

// pickLocked hands the oldest eligible job to the runner, failing on the way
// jobs whose needs the runner cannot meet, as GitLab's RegisterJobService.
func (s *Server) pickLocked(rn *runner, systemID string, features map[string]bool) *job {
	for _, id := range s.order {
		j := s.jobs[id]
		if j.state != StatePending || j.assigned || !rn.canRun(j.spec.Tags) {
			continue
		}
		if missing := missingFeatures(j.spec, features); len(missing) > 0 {
			j.event("runner %d lacks features %v", rn.id, missing)
			j.finish(StateFailed, "runner_unsupported")
			continue
		}
		if dep := s.invalidDependencyLocked(j); dep != 0 {
			j.event("dependency %d did not succeed", dep)
			j.finish(StateFailed, "missing_dependency_failure")
			continue
		}
		j.token = s.randTokenLocked("glcbt-")
		s.jobTokens[j.token] = j.id
		j.runner = rn
		j.systemID = systemID
		j.features = maps.Clone(features)
		j.twoPhase = features["two_phase_job_commit"]
		if j.twoPhase {
			j.assigned = true
			j.ackAt = s.cfg.now()
			j.event("picked by runner %d (%s), two-phase: pending until PUT running", rn.id, systemID)
		} else {
			j.assigned = true
			j.state = StateRunning
			j.event("picked by runner %d (%s): running", rn.id, systemID)
		}
		j.payload = s.payloadLocked(j)
		select {
		case <-j.handed:
		default:
			close(j.handed)
		}
		return j
	}
	return nil
}

func missingFeatures(spec JobSpec, features map[string]bool) []string {
	var missing []string
	for _, f := range requiredFeatures(spec) {
		if !features[f] && !slices.Contains(missing, f) {
			missing = append(missing, f)
		}
	}
	return missing
}

// invalidDependencyLocked returns the first dependency that is not a
// successful job, or 0.
func (s *Server) invalidDependencyLocked(j *job) int64 {
	for _, d := range j.spec.Dependencies {
		dj, ok := s.jobs[d]
		if !ok || dj.state != StateSuccess {
			return d
		}
	}
	return 0
}

// jobByTokenLocked returns the job whose token is tok, or nil.
func (s *Server) jobByTokenLocked(tok string) *job {
	id, ok := s.jobTokens[tok]
	if !ok || tok == "" {
		return nil
	}
	return s.jobs[id]
}
