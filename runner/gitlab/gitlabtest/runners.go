package gitlabtest

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

var systemIDPattern = regexp.MustCompile(`^[sr]_[0-9a-f]{12}$`)

// runner is a runner known to the coordinator.
type runner struct {
	id          int64
	token       string
	tags        []string
	runUntagged bool
	legacy      bool
	expiresAt   time.Time // zero: never
	managers    map[string]bool
	polls       []time.Time // jobs/request times, for the rate limit
}

// canRun reports whether the runner may take a job with tags.
func (rn *runner) canRun(tags []string) bool {
	if len(tags) == 0 {
		return rn.runUntagged
	}
	for _, t := range tags {
		if !slices.Contains(rn.tags, t) {
			return false
		}
	}
	return true
}

// AddRunner makes token a valid runner authentication token (normally
// glrt-…) whose runner has the given tags and also runs untagged jobs.
func (s *Server) AddRunner(token string, tags ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addRunnerLocked(token, tags, true, false)
}

func (s *Server) addRunnerLocked(token string, tags []string, runUntagged, legacy bool) *runner {
	rn := &runner{
		id:          s.nextRunnerID,
		token:       token,
		tags:        tags,
		runUntagged: runUntagged,
		legacy:      legacy,
		managers:    map[string]bool{},
	}
	if s.cfg.tokenLifetime > 0 {
		rn.expiresAt = s.cfg.now().Add(s.cfg.tokenLifetime)
	}
	s.nextRunnerID++
	s.runners[token] = rn
	return rn
}

// AddLegacyRegistrationToken makes tok a registration token accepted by
// POST /api/v4/runners (unless WithLegacyRegistrationDisabled).
func (s *Server) AddLegacyRegistrationToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.regTokens[tok] = true
}

// RunnerManagers returns the system_ids seen for the runner token.
func (s *Server) RunnerManagers(token string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn, ok := s.runners[token]
	if !ok {
		return nil
	}
	var ids []string
	for id := range rn.managers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// HasRunner reports whether token is a valid runner token right now.
func (s *Server) HasRunner(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runnerLocked(token) != nil
}

// runnerLocked returns the runner for a valid, unexpired token, or nil.
func (s *Server) runnerLocked(token string) *runner {
	rn, ok := s.runners[token]
	if !ok {
		return nil
	}
	if !rn.expiresAt.IsZero() && !s.cfg.now().Before(rn.expiresAt) {
		return nil
	}
	return rn
}

func (s *Server) tokenAnswerLocked(rn *runner, withID bool) tokenAnswer {
	a := tokenAnswer{Token: rn.token}
	if withID {
		a.ID = rn.id
	}
	if !rn.expiresAt.IsZero() {
		t := rn.expiresAt.UTC().Format(time.RFC3339)
		a.TokenExpiresAt = &t
	}
	return a
}

func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) {
	var body verifyBody
	if err := decodeJSON(r, &body); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	if body.Token == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token is missing")
		return
	}
	if body.SystemID != nil && !systemIDPattern.MatchString(*body.SystemID) {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - system_id is invalid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runnerLocked(body.Token)
	if rn == nil {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	if body.SystemID != nil {
		rn.managers[*body.SystemID] = true
	}
	writeJSON(w, http.StatusOK, s.tokenAnswerLocked(rn, true))
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if s.cfg.legacyDisabled {
		writeMessage(w, http.StatusGone, "410 Gone - runner registration disallowed")
		return
	}
	var body registerBody
	if err := decodeJSON(r, &body); err != nil {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - "+err.Error())
		return
	}
	if body.Token == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token is missing")
		return
	}
	tags, ok := parseTagList(body.TagList)
	if !ok {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - tag_list is invalid")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.regTokens[body.Token] {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	runUntagged := len(tags) == 0
	if body.RunUntagged != nil {
		runUntagged = *body.RunUntagged
	}
	if !runUntagged && len(tags) == 0 {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - tags list can not be empty when runner is not allowed to pick untagged jobs")
		return
	}
	rn := s.addRunnerLocked(s.randTokenLocked("glrt-"), tags, runUntagged, true)
	writeJSON(w, http.StatusCreated, s.tokenAnswerLocked(rn, true))
}

// parseTagList accepts GitLab's comma-separated string or a JSON array.
func parseTagList(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, true
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return nil, false
	}
	for _, t := range strings.Split(text, ",") {
		if t = strings.TrimSpace(t); t != "" {
			list = append(list, t)
		}
	}
	return list, true
}

// decodeTokenBody reads {token, system_id} from a JSON body or the query.
func decodeTokenBody(r *http.Request) (tokenBody, error) {
	var body tokenBody
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		if err := decodeJSON(r, &body); err != nil {
			return body, err
		}
	}
	q := r.URL.Query()
	if body.Token == "" {
		body.Token = q.Get("token")
	}
	if body.SystemID == "" {
		body.SystemID = q.Get("system_id")
	}
	return body, nil
}

func (s *Server) handleUnregister(w http.ResponseWriter, r *http.Request) {
	body, err := decodeTokenBody(r)
	if err != nil || body.Token == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token is missing")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.runnerLocked(body.Token) == nil {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	delete(s.runners, body.Token)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleUnregisterManager(w http.ResponseWriter, r *http.Request) {
	body, err := decodeTokenBody(r)
	if err != nil || body.Token == "" || body.SystemID == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token or system_id is missing")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runnerLocked(body.Token)
	if rn == nil {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	if !rn.managers[body.SystemID] {
		writeMessage(w, http.StatusNotFound, "404 Runner Manager Not Found")
		return
	}
	delete(rn.managers, body.SystemID)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleResetToken(w http.ResponseWriter, r *http.Request) {
	body, err := decodeTokenBody(r)
	if err != nil || body.Token == "" {
		writeMessage(w, http.StatusBadRequest, "400 Bad request - token is missing")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runnerLocked(body.Token)
	if rn == nil {
		writeMessage(w, http.StatusForbidden, "403 Forbidden")
		return
	}
	delete(s.runners, rn.token)
	rn.token = s.randTokenLocked("glrt-")
	if s.cfg.tokenLifetime > 0 {
		rn.expiresAt = s.cfg.now().Add(s.cfg.tokenLifetime)
	}
	s.runners[rn.token] = rn
	writeJSON(w, http.StatusCreated, s.tokenAnswerLocked(rn, false))
}
