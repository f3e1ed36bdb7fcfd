package scalesettest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

type session struct {
	id         string
	owner      string
	token      string
	expired    bool // token expired: the next call answers 401
	scaleSetID int
}

// AcquireCall is one acquirejobs request and its answer.
type AcquireCall struct {
	ScaleSetID int
	Requested  []int64
	Acquired   []int64
}

// Acks returns the message ids the client acknowledged (deleted), in
// order.
func (s *Server) Acks() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acks)
}

// Unacknowledged returns the ids of messages built for delivery that the
// client has not acknowledged yet, across all scale sets.
func (s *Server) Unacknowledged() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for _, ss := range s.scaleSets {
		for _, m := range ss.messages {
			if !m.deleted {
				out = append(out, m.id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// AcquireCalls returns the acquirejobs calls, in order.
func (s *Server) AcquireCalls() []AcquireCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.acquires)
}

// ExpireSessions plays GitHub ending the sessions of listeners that
// stopped answering (a killed agent's): every scale set's session is
// dropped, so that the next session request is granted. It returns how
// many were dropped.
func (s *Server) ExpireSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.scaleSets {
		if ss.session != nil {
			delete(s.sessions, ss.session.id)
			ss.session = nil
			n++
		}
	}
	s.notifyLocked()
	return n
}

// HoldSession opens a message session on the scale set for a foreign
// owner (another listener), so the client's session request answers 409
// until release is called.
func (s *Server) HoldSession(scaleSetID int, owner string) (release func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, found := s.scaleSets[scaleSetID]
	if !found || ss.session != nil {
		return nil, false
	}
	sess := s.newSessionLocked(ss, owner)
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur, ok := s.scaleSets[scaleSetID]; ok && cur.session == sess {
			cur.session = nil
		}
		delete(s.sessions, sess.id)
		s.notifyLocked()
	}, true
}

// ExpireMessageTokens expires every session's message-queue token: the
// next queue call answers 401 and the client must refresh its session.
func (s *Server) ExpireMessageTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		sess.expired = true
	}
}

func (s *Server) newSessionLocked(ss *scaleSet, owner string) *session {
	sess := &session{id: uuid.NewString(), owner: owner, token: randomToken(20), scaleSetID: ss.wire.ID}
	ss.session = sess
	s.sessions[sess.id] = sess
	return sess
}

func (s *Server) sessionViewLocked(ss *scaleSet, sess *session) wireSession {
	st := s.statsLocked(ss.wire.ID)
	return wireSession{
		SessionID:               sess.id,
		OwnerName:               sess.owner,
		RunnerScaleSet:          s.scaleSetViewLocked(ss),
		MessageQueueURL:         s.http.URL + brokerRoot + strconv.Itoa(ss.wire.ID) + "/messages?sessionId=" + sess.id,
		MessageQueueAccessToken: sess.token,
		Statistics:              &st,
	}
}

// POST runnerscalesets/{id}/sessions {"ownerName": …}
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) {
	var req wireSessionRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.OwnerName == "" || (req.SessionID != "" && req.SessionID != uuid.Nil.String()) {
		s.violate("create session: body %+v (%v)", req, err)
		writeException(w, http.StatusBadRequest, excArgument, "ownerName is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return
	}
	if ss.session != nil {
		writeException(w, http.StatusConflict, excSessionConflict,
			"The actions runner scale set "+ss.wire.Name+" already has an active session for owner "+ss.session.owner+".")
		return
	}
	sess := s.newSessionLocked(ss, req.OwnerName)
	writeJSON(w, http.StatusOK, s.sessionViewLocked(ss, sess))
}

// sessionLocked resolves {id}/sessions/{sid}; it answers the errors itself.
func (s *Server) sessionLocked(w http.ResponseWriter, r *http.Request, missing int) (*scaleSet, *session) {
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return nil, nil
	}
	sess, ok := s.sessions[r.PathValue("sid")]
	if !ok || sess.scaleSetID != ss.wire.ID {
		writeException(w, missing, excSessionExpired, "The session identifier "+r.PathValue("sid")+" is not valid.")
		return nil, nil
	}
	return ss, sess
}

// PATCH runnerscalesets/{id}/sessions/{sid}: a fresh message-queue token.
func (s *Server) handleRefreshSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, sess := s.sessionLocked(w, r, http.StatusNotFound)
	if sess == nil {
		return
	}
	sess.token, sess.expired = randomToken(20), false
	writeJSON(w, http.StatusOK, s.sessionViewLocked(ss, sess))
}

// DELETE runnerscalesets/{id}/sessions/{sid}
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, sess := s.sessionLocked(w, r, http.StatusBadRequest)
	if sess == nil {
		return
	}
	delete(s.sessions, sess.id)
	ss.session = nil
	s.notifyLocked()
	w.WriteHeader(http.StatusNoContent)
}

// queueSessionLocked authenticates a message-queue call: the scale set
// must exist (404), the session must be its open one and the token
// current (401, after which the client refreshes the session).
func (s *Server) queueSessionLocked(w http.ResponseWriter, r *http.Request) (*scaleSet, *session) {
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return nil, nil
	}
	tok := bearer(r)
	sess := ss.session
	if sess == nil || tok != sess.token || sess.expired || r.URL.Query().Get("sessionId") != sess.id {
		writeException(w, http.StatusUnauthorized, excUnauthorized, "The message queue token is not valid for this session.")
		return nil, nil
	}
	return ss, sess
}

// GET broker/{id}/messages?sessionId=&lastMessageId= with
// X-ScaleSetMaxCapacity: the oldest unacknowledged message after
// lastMessageId, waiting up to PollTimeout for one (202 when none came).
func (s *Server) handleGetMessage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	last := 0
	if v := q.Get("lastMessageId"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.violate("get message: lastMessageId %q", v)
			writeException(w, http.StatusBadRequest, excArgument, "Invalid lastMessageId.")
			return
		}
		last = n
	}
	capHeader := r.Header.Get("X-ScaleSetMaxCapacity")
	if n, err := strconv.Atoi(capHeader); err != nil || n < 0 {
		s.violate("get message: X-ScaleSetMaxCapacity %q", capHeader)
		writeException(w, http.StatusBadRequest, excArgument, "X-ScaleSetMaxCapacity header is required.")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		s.violate("get message: Accept %q", r.Header.Get("Accept"))
	}
	timer := time.NewTimer(s.opts.PollTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ss, sess := s.queueSessionLocked(w, r)
		if sess == nil {
			s.mu.Unlock()
			return
		}
		if m := s.nextMessageLocked(ss, last); m != nil {
			out := wireMessage{MessageID: m.id, MessageType: "RunnerScaleSetJobMessages", Body: m.body, Statistics: &m.stats}
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, out)
			return
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-timer.C:
			w.WriteHeader(http.StatusAccepted)
			return
		case <-r.Context().Done():
			return
		case <-s.closing:
			w.WriteHeader(http.StatusAccepted)
			return
		}
	}
}

// nextMessageLocked returns the first undeleted message after last,
// batching pending events into a new message when there is none.
func (s *Server) nextMessageLocked(ss *scaleSet, last int) *message {
	for _, m := range ss.messages {
		if m.id > last && !m.deleted {
			return m
		}
	}
	if len(ss.pending) == 0 {
		return nil
	}
	body, err := json.Marshal(ss.pending)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	m := &message{id: s.nextMsgID, body: string(body), stats: s.statsLocked(ss.wire.ID)}
	s.nextMsgID++
	ss.pending = nil
	ss.messages = append(ss.messages, m)
	return m
}

// DELETE broker/{id}/messages/{mid}?sessionId=: acknowledge.
func (s *Server) handleDeleteMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, sess := s.queueSessionLocked(w, r)
	if sess == nil {
		return
	}
	id, _ := strconv.Atoi(r.PathValue("mid"))
	for _, m := range ss.messages {
		if m.id == id && !m.deleted {
			m.deleted = true
			s.acks = append(s.acks, id)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	s.violateLocked("delete message %s: not an unacknowledged message of scale set %d", r.PathValue("mid"), ss.wire.ID)
	writeException(w, http.StatusNotFound, excMessageNotFound, "Message "+r.PathValue("mid")+" was not found.")
}

// POST runnerscalesets/{id}/acquirejobs [ids] with the message-queue
// token: jobs offered to this scale set and still available are
// acquired and, in this fake, assigned to the scale set at once.
func (s *Server) handleAcquireJobs(w http.ResponseWriter, r *http.Request) {
	var ids []int64
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&ids); err != nil || len(ids) == 0 {
		s.violate("acquirejobs: body (%v), %d ids", err, len(ids))
		writeException(w, http.StatusBadRequest, excArgument, "A list of job request ids is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return
	}
	if ss.session == nil || bearer(r) != ss.session.token || ss.session.expired {
		writeException(w, http.StatusUnauthorized, excUnauthorized, "The message queue token is not valid for this session.")
		return
	}
	acquired := []int64{}
	for _, id := range ids {
		j, ok := s.jobs[id]
		switch {
		case !ok || !j.offered[ss.wire.ID]:
			s.violateLocked("acquirejobs: job %d was never offered to scale set %d", id, ss.wire.ID)
		case j.state == JobAvailable && j.scaleSetID == ss.wire.ID:
			j.state = JobAssigned
			j.assignTime = s.now()
			acquired = append(acquired, id)
			ss.pending = append(ss.pending, s.jobMessageLocked(j, "JobAssigned"))
		}
	}
	s.acquires = append(s.acquires, AcquireCall{ScaleSetID: ss.wire.ID, Requested: slices.Clone(ids), Acquired: slices.Clone(acquired)})
	s.notifyLocked()
	writeJSON(w, http.StatusOK, wireList[int64]{Count: len(acquired), Value: acquired})
}
