package scalesettest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type scaleSet struct {
	wire     wireScaleSet
	pending  []wireJobMessage // events not yet batched into a message
	messages []*message
	session  *session
}

type message struct {
	id      int
	body    string
	stats   wireStatistics
	deleted bool
}

// ScaleSet is a scale set as the fake holds it.
type ScaleSet struct {
	ID            int
	Name          string
	RunnerGroupID int
	Labels        []string
	DisableUpdate bool
	// Session is the owner of the open message session ("" = none).
	Session string
}

// ScaleSets returns the scale sets that exist.
func (s *Server) ScaleSets() []ScaleSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ScaleSet
	for _, ss := range s.scaleSets {
		v := ScaleSet{ID: ss.wire.ID, Name: ss.wire.Name, RunnerGroupID: ss.wire.RunnerGroupID, DisableUpdate: ss.wire.RunnerSetting.DisableUpdate}
		for _, l := range ss.wire.Labels {
			v.Labels = append(v.Labels, l.Name)
		}
		if ss.session != nil {
			v.Session = ss.session.owner
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ScaleSet) int { return a.ID - b.ID })
	return out
}

// DeleteScaleSet removes a scale set as GitHub does with one left offline:
// its session, messages and runners go, its waiting jobs are queued again
// for whichever scale set matches them next, and every later call naming
// it answers 404.
func (s *Server) DeleteScaleSet(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteScaleSetLocked(id)
}

func (s *Server) deleteScaleSetLocked(id int) bool {
	ss, ok := s.scaleSets[id]
	if !ok {
		return false
	}
	if ss.session != nil {
		delete(s.sessions, ss.session.id)
	}
	delete(s.scaleSets, id)
	for rid, rn := range s.runners {
		if rn.scaleSetID == id {
			delete(s.runners, rid)
		}
	}
	for _, j := range s.jobs {
		if j.scaleSetID == id && (j.state == JobAvailable || j.state == JobAssigned) {
			j.scaleSetID, j.state = 0, JobQueued
		}
	}
	s.notifyLocked()
	return true
}

func (s *Server) statsLocked(id int) wireStatistics {
	var st wireStatistics
	for _, j := range s.jobs {
		if j.scaleSetID != id {
			continue
		}
		switch j.state {
		case JobAvailable:
			st.TotalAvailableJobs++
		case JobAssigned:
			st.TotalAssignedJobs++
		case JobRunning:
			st.TotalAssignedJobs++
			st.TotalRunningJobs++
		}
	}
	for _, rn := range s.runners {
		if rn.scaleSetID != id {
			continue
		}
		st.TotalRegisteredRunners++
		if rn.job != 0 {
			st.TotalBusyRunners++
		} else {
			st.TotalIdleRunners++
		}
	}
	return st
}

func (s *Server) scaleSetViewLocked(ss *scaleSet) *wireScaleSet {
	v := ss.wire
	st := s.statsLocked(ss.wire.ID)
	v.Statistics = &st
	return &v
}

// scaleSetFor resolves the {id} path value; it answers 404 itself.
func (s *Server) scaleSetLocked(w http.ResponseWriter, r *http.Request) *scaleSet {
	id, err := strconv.Atoi(r.PathValue("id"))
	if err != nil {
		writeException(w, http.StatusBadRequest, excArgument, "Invalid scale set id.")
		return nil
	}
	ss, ok := s.scaleSets[id]
	if !ok {
		writeException(w, http.StatusNotFound, excScaleSetNotFound, "No RunnerScaleSet with id '"+r.PathValue("id")+"' was found.")
		return nil
	}
	return ss
}

// GET runnergroups/?groupName=
func (s *Server) handleRunnerGroups(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("groupName")
	out := wireList[wireRunnerGroup]{Value: []wireRunnerGroup{}}
	s.mu.Lock()
	for _, g := range s.groups {
		if name == "" || strings.EqualFold(g.Name, name) {
			out.Value = append(out.Value, g)
		}
	}
	s.mu.Unlock()
	out.Count = len(out.Value)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) groupLocked(id int) (wireRunnerGroup, bool) {
	for _, g := range s.groups {
		if g.ID == id {
			return g, true
		}
	}
	return wireRunnerGroup{}, false
}

// GET runnerscalesets?runnerGroupId=&name=
func (s *Server) handleListScaleSets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	group, _ := strconv.Atoi(q.Get("runnerGroupId"))
	name := q.Get("name")
	out := wireList[wireScaleSet]{Value: []wireScaleSet{}}
	s.mu.Lock()
	ids := make([]int, 0, len(s.scaleSets))
	for id := range s.scaleSets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		ss := s.scaleSets[id]
		if (group == 0 || ss.wire.RunnerGroupID == group) && (name == "" || strings.EqualFold(ss.wire.Name, name)) {
			out.Value = append(out.Value, *s.scaleSetViewLocked(ss))
		}
	}
	s.mu.Unlock()
	out.Count = len(out.Value)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) decodeScaleSet(w http.ResponseWriter, r *http.Request) (wireScaleSetRequest, bool) {
	var req wireScaleSetRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.violate("%s %s: body: %v", r.Method, r.URL.Path, err)
		writeException(w, http.StatusBadRequest, excArgument, "Invalid runner scale set: "+err.Error())
		return req, false
	}
	for _, l := range req.Labels {
		if l.Name == "" || (l.Type != "System" && l.Type != "User") {
			s.violate("%s %s: label %+v", r.Method, r.URL.Path, l)
			writeException(w, http.StatusBadRequest, excArgument, "Invalid label.")
			return req, false
		}
	}
	return req, true
}

// POST runnerscalesets
func (s *Server) handleCreateScaleSet(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeScaleSet(w, r)
	if !ok {
		return
	}
	if req.Name == "" || len(req.Labels) == 0 || req.ID != 0 {
		s.violate("create scale set: name %q, %d labels, id %d", req.Name, len(req.Labels), req.ID)
		writeException(w, http.StatusBadRequest, excArgument, "A runner scale set needs a name and labels.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.RunnerGroupID == 0 {
		req.RunnerGroupID = 1
	}
	g, ok := s.groupLocked(req.RunnerGroupID)
	if !ok {
		writeException(w, http.StatusNotFound, excRunnerGroupMissing, "Runner group "+strconv.Itoa(req.RunnerGroupID)+" not found.")
		return
	}
	for _, ss := range s.scaleSets {
		if ss.wire.RunnerGroupID == g.ID && strings.EqualFold(ss.wire.Name, req.Name) {
			writeException(w, http.StatusConflict, excScaleSetExists, "A runner scale set named '"+req.Name+"' already exists in the runner group.")
			return
		}
	}
	s.nextID++
	ss := &scaleSet{wire: wireScaleSet{
		ID: s.nextID, Name: req.Name, RunnerGroupID: g.ID, RunnerGroupName: g.Name,
		Labels: req.Labels, CreatedOn: s.opts.Now().UTC(),
	}}
	if req.RunnerSetting != nil {
		ss.wire.RunnerSetting = *req.RunnerSetting
	}
	ss.wire.RunnerJitConfigURL = s.http.URL + tenantRoot + "_apis/runtime/runnerscalesets/" + strconv.Itoa(ss.wire.ID) + "/generatejitconfig"
	s.scaleSets[ss.wire.ID] = ss
	s.routeJobsLocked()
	writeJSON(w, http.StatusOK, s.scaleSetViewLocked(ss))
}

// GET runnerscalesets/{id}
func (s *Server) handleGetScaleSet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.scaleSetLocked(w, r); ss != nil {
		writeJSON(w, http.StatusOK, s.scaleSetViewLocked(ss))
	}
}

// PATCH runnerscalesets/{id}
func (s *Server) handleUpdateScaleSet(w http.ResponseWriter, r *http.Request) {
	req, ok := s.decodeScaleSet(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return
	}
	if req.Name != "" {
		ss.wire.Name = req.Name
	}
	if len(req.Labels) > 0 {
		ss.wire.Labels = req.Labels
	}
	if req.RunnerGroupID != 0 {
		g, ok := s.groupLocked(req.RunnerGroupID)
		if !ok {
			writeException(w, http.StatusNotFound, excRunnerGroupMissing, "Runner group not found.")
			return
		}
		ss.wire.RunnerGroupID, ss.wire.RunnerGroupName = g.ID, g.Name
	}
	if req.RunnerSetting != nil {
		ss.wire.RunnerSetting = *req.RunnerSetting
	}
	s.routeJobsLocked()
	writeJSON(w, http.StatusOK, s.scaleSetViewLocked(ss))
}

// DELETE runnerscalesets/{id}
func (s *Server) handleDeleteScaleSet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return
	}
	s.deleteScaleSetLocked(ss.wire.ID)
	w.WriteHeader(http.StatusNoContent)
}

// now is the fake's clock, in UTC like the service's timestamps.
func (s *Server) now() time.Time { return s.opts.Now().UTC() }
