package scalesettest

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// JobState is where a job stands on the service.
type JobState string

// Job states.
const (
	JobQueued    JobState = "queued"    // no scale set matches it (yet)
	JobAvailable JobState = "available" // offered to a scale set (JobAvailable sent)
	JobAssigned  JobState = "assigned"  // acquired by the scale set, waiting for a runner
	JobRunning   JobState = "running"   // a runner took it (JobStarted sent)
	JobCompleted JobState = "completed" // JobCompleted sent
)

// Errors of the job-side methods.
var (
	ErrNoSuchJob    = errors.New("scalesettest: no such job")
	ErrNoSuchRunner = errors.New("scalesettest: no such runner")
	ErrNoJob        = errors.New("scalesettest: no assigned job for this runner's scale set")
	ErrWrongState   = errors.New("scalesettest: job is in the wrong state")
)

// Job is a workflow job queued on the fake.
type Job struct {
	// Labels are the job's runs-on labels; a scale set is targeted by its
	// name (runs-on: NAME) or by having all of these labels.
	Labels      []string
	Owner       string // default "acme"
	Repository  string // default "app"
	WorkflowRef string
	DisplayName string
	EventName   string // default "push"
	RunID       int64
	// Steps are shell lines the stand-in runner (tests/githubrunner) runs.
	Steps []string
}

type job struct {
	Job
	id         int64
	state      JobState
	scaleSetID int
	offered    map[int]bool // scale sets it was offered to
	runnerID   int
	runnerName string
	result     string
	output     string
	queueTime  time.Time
	assignTime time.Time
	startTime  time.Time
	finishTime time.Time
}

// JobStatus is a job as the fake holds it.
type JobStatus struct {
	ID         int64
	State      JobState
	ScaleSetID int
	RunnerName string
	Result     string
	// Output is what the stand-in runner reported.
	Output string
	// Times on the service's clock (zero until reached).
	QueuedAt, AssignedAt, StartedAt, FinishedAt time.Time
}

// QueueJob queues a workflow job and returns its runner request id; it is
// offered (JobAvailable) to the first scale set that matches it, now or
// when one is created.
func (s *Server) QueueJob(j Job) int64 {
	if j.Owner == "" {
		j.Owner = "acme"
	}
	if j.Repository == "" {
		j.Repository = "app"
	}
	if j.EventName == "" {
		j.EventName = "push"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	if j.RunID == 0 {
		j.RunID = int64(s.nextID) * 10
	}
	if j.WorkflowRef == "" {
		j.WorkflowRef = j.Owner + "/" + j.Repository + "/.github/workflows/ci.yml@refs/heads/main"
	}
	if j.DisplayName == "" {
		j.DisplayName = "build"
	}
	nj := &job{Job: j, id: int64(s.nextID), state: JobQueued, offered: map[int]bool{}, queueTime: s.now()}
	s.jobs[nj.id] = nj
	s.jobOrder = append(s.jobOrder, nj.id)
	s.routeJobsLocked()
	return nj.id
}

// Job reports a job's state.
func (s *Server) Job(id int64) (JobStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return JobStatus{}, ErrNoSuchJob
	}
	return JobStatus{ID: j.id, State: j.state, ScaleSetID: j.scaleSetID, RunnerName: j.runnerName, Result: j.result, Output: j.output,
		QueuedAt: j.queueTime, AssignedAt: j.assignTime, StartedAt: j.startTime, FinishedAt: j.finishTime}, nil
}

func matches(ss *scaleSet, labels []string) bool {
	if len(labels) == 1 && strings.EqualFold(labels[0], ss.wire.Name) {
		return true
	}
	for _, l := range labels {
		if !slices.ContainsFunc(ss.wire.Labels, func(x wireLabel) bool { return strings.EqualFold(x.Name, l) }) {
			return false
		}
	}
	return len(labels) > 0
}

// routeJobsLocked offers queued jobs to the scale set that matches them.
func (s *Server) routeJobsLocked() {
	ids := make([]int, 0, len(s.scaleSets))
	for id := range s.scaleSets {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, jid := range s.jobOrder {
		j := s.jobs[jid]
		if j.state != JobQueued {
			continue
		}
		for _, id := range ids {
			ss := s.scaleSets[id]
			if matches(ss, j.Labels) {
				j.state, j.scaleSetID = JobAvailable, id
				j.offered[id] = true
				ss.pending = append(ss.pending, s.jobMessageLocked(j, "JobAvailable"))
				break
			}
		}
	}
	s.notifyLocked()
}

func (s *Server) jobMessageLocked(j *job, typ string) wireJobMessage {
	m := wireJobMessage{
		MessageType:        typ,
		RunnerRequestID:    j.id,
		RepositoryName:     j.Repository,
		OwnerName:          j.Owner,
		JobID:              fmt.Sprintf("%08x-0000-4000-8000-%012x", j.id, j.id),
		JobWorkflowRef:     j.WorkflowRef,
		JobDisplayName:     j.DisplayName,
		WorkflowRunID:      j.RunID,
		EventName:          j.EventName,
		RequestLabels:      slices.Clone(j.Labels),
		QueueTime:          j.queueTime,
		ScaleSetAssignTime: j.assignTime,
		RunnerAssignTime:   j.startTime,
		FinishTime:         j.finishTime,
		RunnerID:           j.runnerID,
		RunnerName:         j.runnerName,
		Result:             j.result,
	}
	if typ == "JobAvailable" {
		m.AcquireJobURL = s.http.URL + tenantRoot + "_apis/runtime/runnerscalesets/" + strconv.Itoa(j.scaleSetID) + "/acquirejobs"
	}
	return m
}

// TakeJob plays a runner of the scale set connecting to GitHub: the
// oldest job assigned to the runner's scale set starts on it (JobStarted).
func (s *Server) TakeJob(runnerName string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runnerByNameLocked(runnerName)
	if rn == nil {
		return 0, ErrNoSuchRunner
	}
	if rn.job != 0 {
		return 0, fmt.Errorf("%w: runner %s is busy", ErrWrongState, runnerName)
	}
	for _, jid := range s.jobOrder {
		j := s.jobs[jid]
		if j.state == JobAssigned && j.scaleSetID == rn.scaleSetID {
			s.startLocked(j, rn)
			return j.id, nil
		}
	}
	return 0, ErrNoJob
}

func (s *Server) startLocked(j *job, rn *runner) {
	j.state, j.startTime = JobRunning, s.now()
	j.runnerID, j.runnerName = rn.id, rn.name
	rn.job = j.id
	if ss, ok := s.scaleSets[j.scaleSetID]; ok {
		ss.pending = append(ss.pending, s.jobMessageLocked(j, "JobStarted"))
	}
	s.notifyLocked()
}

// CompleteJob ends a running job with a result ("succeeded", "failed",
// "canceled"); the ephemeral runner that ran it unregisters.
func (s *Server) CompleteJob(id int64, result string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		return ErrNoSuchJob
	}
	if j.state != JobRunning {
		return fmt.Errorf("%w: job %d is %s", ErrWrongState, id, j.state)
	}
	j.state, j.result, j.finishTime = JobCompleted, result, s.now()
	delete(s.runners, j.runnerID)
	if ss, ok := s.scaleSets[j.scaleSetID]; ok {
		ss.pending = append(ss.pending, s.jobMessageLocked(j, "JobCompleted"))
	}
	s.notifyLocked()
	return nil
}

// runner is a JIT runner registration.
type runner struct {
	id         int
	name       string
	scaleSetID int
	workFolder string
	token      string // the runner's credential (JIT .credentials)
	online     bool
	job        int64
}

// Runner is a runner registration as the fake holds it.
type Runner struct {
	ID         int
	Name       string
	ScaleSetID int
	Busy       bool
	// Online: a runner connected with its JIT config.
	Online bool
}

// Runners returns the registered runners.
func (s *Server) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Runner
	for _, rn := range s.runners {
		out = append(out, Runner{ID: rn.id, Name: rn.name, ScaleSetID: rn.scaleSetID, Busy: rn.job != 0, Online: rn.online})
	}
	slices.SortFunc(out, func(a, b Runner) int { return a.ID - b.ID })
	return out
}

func (s *Server) runnerByNameLocked(name string) *runner {
	for _, rn := range s.runners {
		if rn.name == name {
			return rn
		}
	}
	return nil
}

// JITRecord is one generated JIT config.
type JITRecord struct {
	ScaleSetID int
	RunnerID   int
	Name       string
	WorkFolder string
	Encoded    string
}

// JITConfigs returns the JIT configs generated so far.
func (s *Server) JITConfigs() []JITRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.jits)
}

// JITRunner is what an encoded JIT config carries in its .runner file.
type JITRunner struct {
	AgentID       int    `json:"AgentId"`
	AgentName     string `json:"AgentName"`
	PoolID        int    `json:"PoolId"`
	PoolName      string `json:"PoolName"`
	ServerURL     string `json:"ServerUrl"`
	GitHubURL     string `json:"GitHubUrl"`
	WorkFolder    string `json:"WorkFolder"`
	Ephemeral     bool   `json:"Ephemeral"`
	DisableUpdate bool   `json:"DisableUpdate"`
	ScaleSetID    int    `json:"ScaleSetId"`
}

// DecodeJITConfig reads the .runner part of an encoded JIT config (base64
// JSON of base64 files, as the official runner reads it).
func DecodeJITConfig(encoded string) (JITRunner, error) {
	var files map[string]string
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return JITRunner{}, fmt.Errorf("jit config: %w", err)
	}
	if err := json.Unmarshal(raw, &files); err != nil {
		return JITRunner{}, fmt.Errorf("jit config: %w", err)
	}
	rb, err := base64.StdEncoding.DecodeString(files[".runner"])
	if err != nil {
		return JITRunner{}, fmt.Errorf("jit config .runner: %w", err)
	}
	var r JITRunner
	if err := json.Unmarshal(rb, &r); err != nil {
		return JITRunner{}, fmt.Errorf("jit config .runner: %w", err)
	}
	return r, nil
}

func encodeJIT(r JITRunner, token string) string {
	b64 := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.StdEncoding.EncodeToString(b)
	}
	files := map[string]string{
		".runner": b64(r),
		".credentials": b64(map[string]any{"scheme": "OAuth", "data": map[string]string{
			"clientId": randomToken(8), "authorizationUrl": r.ServerURL + "_apis/oauth2/token", "requireFipsCryptography": "True",
			"token": token,
		}}),
		".credentials_rsaparams": b64(map[string]string{"d": randomToken(16), "exponent": "AQAB", "modulus": randomToken(32)}),
	}
	b, _ := json.Marshal(files)
	return base64.StdEncoding.EncodeToString(b)
}

// POST runnerscalesets/{id}/generatejitconfig {"name","workFolder"}
func (s *Server) handleGenerateJIT(w http.ResponseWriter, r *http.Request) {
	var req wireJitRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Name == "" || len(req.Name) > 64 {
		s.violate("generatejitconfig: body %+v (%v)", req, err)
		writeException(w, http.StatusBadRequest, excArgument, "A runner name of 1 to 64 characters is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.scaleSetLocked(w, r)
	if ss == nil {
		return
	}
	if s.runnerByNameLocked(req.Name) != nil {
		writeJSON(w, http.StatusConflict, wireException{ID: "1", Message: "A runner with name " + req.Name + " already exists.",
			TypeName: "GitHub.DistributedTask.WebApi.AgentExistsException, GitHub.DistributedTask.WebApi", TypeKey: excAgentExists, EventID: 3000})
		return
	}
	s.nextID++
	rn := &runner{id: s.nextID, name: req.Name, scaleSetID: ss.wire.ID, workFolder: req.WorkFolder, token: randomToken(16)}
	s.runners[rn.id] = rn
	enc := encodeJIT(JITRunner{
		AgentID: rn.id, AgentName: rn.name, PoolID: 1, PoolName: ss.wire.RunnerGroupName,
		ServerURL: s.http.URL + tenantRoot, GitHubURL: s.http.URL, WorkFolder: req.WorkFolder,
		Ephemeral: true, DisableUpdate: ss.wire.RunnerSetting.DisableUpdate, ScaleSetID: ss.wire.ID,
	}, rn.token)
	s.jits = append(s.jits, JITRecord{ScaleSetID: ss.wire.ID, RunnerID: rn.id, Name: rn.name, WorkFolder: req.WorkFolder, Encoded: enc})
	s.notifyLocked()
	writeJSON(w, http.StatusOK, wireJitConfig{
		Runner:           &wireRunnerReference{ID: rn.id, Name: rn.name, RunnerScaleSetID: ss.wire.ID},
		EncodedJITConfig: enc,
	})
}

func agentNotFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, wireException{ID: "1", Message: "Agent " + what + " was not found.",
		TypeName: "GitHub.DistributedTask.WebApi.AgentNotFoundException, GitHub.DistributedTask.WebApi", TypeKey: excAgentNotFound, EventID: 3000})
}

// GET distributedtask/pools/0/agents?agentName=
func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("agentName")
	out := wireList[wireRunnerReference]{Value: []wireRunnerReference{}}
	s.mu.Lock()
	for _, rn := range s.runners {
		if name == "" || rn.name == name {
			out.Value = append(out.Value, wireRunnerReference{ID: rn.id, Name: rn.name, RunnerScaleSetID: rn.scaleSetID})
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out.Value, func(a, b wireRunnerReference) int { return a.ID - b.ID })
	out.Count = len(out.Value)
	writeJSON(w, http.StatusOK, out)
}

// GET distributedtask/pools/0/agents/{id}
func (s *Server) handleGetAgent(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	rn, ok := s.runners[id]
	s.mu.Unlock()
	if !ok {
		agentNotFound(w, r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, wireRunnerReference{ID: rn.id, Name: rn.name, RunnerScaleSetID: rn.scaleSetID})
}

// DELETE distributedtask/pools/0/agents/{id}: refused while the runner
// runs a job.
func (s *Server) handleDeleteAgent(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(r.PathValue("id"))
	s.mu.Lock()
	defer s.mu.Unlock()
	rn, ok := s.runners[id]
	if !ok {
		agentNotFound(w, r.PathValue("id"))
		return
	}
	if rn.job != 0 {
		writeJSON(w, http.StatusBadRequest, wireException{ID: "1", Message: "Job " + strconv.FormatInt(rn.job, 10) + " is still running on runner " + rn.name + ".",
			TypeName: "GitHub.DistributedTask.WebApi.JobStillRunningException, GitHub.DistributedTask.WebApi", TypeKey: "JobStillRunningException", EventID: 3000})
		return
	}
	delete(s.runners, id)
	s.notifyLocked()
	w.WriteHeader(http.StatusNoContent)
}
