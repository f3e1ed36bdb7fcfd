package gitlabtest

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"
)

// JobState is a job's state on the coordinator, as sent in Job-Status.
type JobState string

// Job states.
const (
	StatePending   JobState = "pending"
	StateRunning   JobState = "running"
	StateCanceling JobState = "canceling"
	StateSuccess   JobState = "success"
	StateFailed    JobState = "failed"
	StateCanceled  JobState = "canceled"
)

// Final reports whether the state is terminal.
func (s JobState) Final() bool {
	return s == StateSuccess || s == StateFailed || s == StateCanceled
}

// Endpoint names one runner API call, for fault rules and request records.
type Endpoint string

// Endpoints of the fake.
const (
	EndpointVerify            Endpoint = "verify"
	EndpointRegister          Endpoint = "register"
	EndpointUnregister        Endpoint = "unregister"
	EndpointUnregisterManager Endpoint = "unregister_manager"
	EndpointResetToken        Endpoint = "reset_token"
	EndpointRequestJob        Endpoint = "request_job"
	EndpointUpdateJob         Endpoint = "update_job"
	EndpointPatchTrace        Endpoint = "patch_trace"
	EndpointUploadArtifacts   Endpoint = "upload_artifacts"
	EndpointDownloadArtifacts Endpoint = "download_artifacts"
	EndpointGit               Endpoint = "git"
)

// RequestRecord is one request the server answered.
type RequestRecord struct {
	Method    string
	Path      string
	Query     string
	Endpoint  Endpoint // empty when no route matched
	JobID     int64    // job of a /jobs/:id call, or the job handed out by jobs/request
	Status    int
	Fault     bool // the answer was injected by a FaultPlan rule
	UserAgent string
	RequestID string // X-Request-Id
	Time      time.Time
	Duration  time.Duration
}

// ArtifactUpload is one accepted artifact upload.
type ArtifactUpload struct {
	Type     string // artifact_type, e.g. "archive", "junit"
	Format   string // artifact_format: zip, gzip, raw
	ExpireIn string
	Filename string // multipart file name
	Data     []byte
}

// JobRecord is a snapshot of a job on the coordinator.
type JobRecord struct {
	ID         int64
	PipelineID int64
	Name       string
	Token      string // job token, set once the job was handed out
	State      JobState
	// ReportedState is the state of the accepted final update (success or
	// failed); it differs from State when the job was canceled meanwhile.
	ReportedState string
	FailureReason string
	ExitCode      *int
	Trace         []byte
	// TraceChecksumOK is true when the accepted final update's output
	// checksum and bytesize matched the received log.
	TraceChecksumOK bool
	// FinalUpdates counts accepted final updates; a correct runner makes it 1.
	FinalUpdates int
	// RejectedFinalUpdates counts final updates answered 403 because the job
	// was already final (retries of a lost 200 land here).
	RejectedFinalUpdates int
	// ChecksumMismatches counts final updates whose checksum did not match.
	ChecksumMismatches int
	// Accepted is true once the runner confirmed the job with PUT state=running.
	Accepted bool
	// KeepAlives counts PUT state=running/pending updates.
	KeepAlives int
	// TwoPhase is true when the job was handed out with two-phase commit.
	TwoPhase bool
	// RunnerFeatures are the features the runner advertised when it got the job.
	RunnerFeatures map[string]bool
	// SystemID is the system_id of the runner manager that got the job.
	SystemID string
	// Artifacts holds the data of accepted uploads by artifact_type.
	Artifacts map[string][]byte
	// Uploads lists accepted uploads in order.
	Uploads []ArtifactUpload
	// Payload is the job JSON handed out by jobs/request.
	Payload json.RawMessage
	// Events is a human-readable history, for test failure messages.
	Events []string
}

func (j *job) snapshot() JobRecord {
	r := JobRecord{
		ID:                   j.id,
		PipelineID:           j.pipelineID,
		Name:                 j.spec.Name,
		Token:                j.token,
		State:                j.state,
		ReportedState:        j.reportedState,
		FailureReason:        j.failureReason,
		Trace:                slices.Clone(j.trace),
		TraceChecksumOK:      j.checksumOK,
		FinalUpdates:         j.finalUpdates,
		RejectedFinalUpdates: j.rejectedFinals,
		ChecksumMismatches:   j.mismatches,
		Accepted:             j.accepted,
		KeepAlives:           j.keepAlives,
		TwoPhase:             j.twoPhase,
		RunnerFeatures:       maps.Clone(j.features),
		SystemID:             j.systemID,
		Artifacts:            map[string][]byte{},
		Uploads:              slices.Clone(j.uploads),
		Payload:              slices.Clone(j.payload),
		Events:               slices.Clone(j.events),
	}
	if j.exitCode != nil {
		c := *j.exitCode
		r.ExitCode = &c
	}
	for _, u := range j.uploads {
		r.Artifacts[u.Type] = u.Data
	}
	return r
}

// Job returns a snapshot of job id. It fails the test if there is no such job.
func (s *Server) Job(id int64) JobRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		s.tb.Errorf("gitlabtest: no job %d", id)
		return JobRecord{ID: id}
	}
	return j.snapshot()
}

// Handed is closed once a runner got job id (its first hand-out), and
// Finished once it is final: for callers that time those moments
// without polling the server.
func (s *Server) Handed(id int64) <-chan struct{} {
	return s.jobChan(id, func(j *job) chan struct{} { return j.handed })
}

// Finished: see Handed.
func (s *Server) Finished(id int64) <-chan struct{} {
	return s.jobChan(id, func(j *job) chan struct{} { return j.final })
}

func (s *Server) jobChan(id int64, c func(*job) chan struct{}) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	j, ok := s.jobs[id]
	if !ok {
		s.tb.Errorf("gitlabtest: no job %d", id)
		return nil
	}
	return c(j)
}

// WaitFinal waits until job id is final (success, failed or canceled) and
// returns its snapshot; it fails the test after timeout. An aborted job
// (Abort) is final at once.
func (s *Server) WaitFinal(tb testing.TB, id int64, timeout time.Duration) JobRecord {
	tb.Helper()
	s.mu.Lock()
	j, ok := s.jobs[id]
	s.mu.Unlock()
	if !ok {
		tb.Fatalf("gitlabtest: no job %d", id)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-j.final:
	case <-timer.C:
		rec := s.Job(id)
		tb.Fatalf("gitlabtest: job %d not final after %v: state %s\nevents:\n  %s\ntrace:\n%s",
			id, timeout, rec.State, joinLines(rec.Events), rec.Trace)
	}
	return s.Job(id)
}

// Requests returns every request answered so far, in completion order.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// Violations returns the protocol violations recorded so far: requests a
// real GitLab would reject or that break the documented protocol.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.violations)
}
