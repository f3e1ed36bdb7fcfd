package gitlab

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/runfleet/runfleet/runner"
)

// JobResponse is the job payload GitLab answers to POST jobs/request with 201.
// Unknown fields are ignored.
type JobResponse struct {
	ID            int64        `json:"id"`
	Token         string       `json:"token"`
	AllowGitFetch bool         `json:"allow_git_fetch"`
	JobInfo       JobInfo      `json:"job_info"`
	GitInfo       GitInfo      `json:"git_info"`
	RunnerInfo    RunnerInfo   `json:"runner_info"`
	Variables     Variables    `json:"variables"`
	Steps         []Step       `json:"steps"`
	Hooks         []Hook       `json:"hooks"`
	Image         *Image       `json:"image"`
	Services      []Service    `json:"services"`
	Artifacts     []Artifact   `json:"artifacts"`
	Cache         []Cache      `json:"cache"`
	Credentials   []Credential `json:"credentials"`
	Dependencies  []Dependency `json:"dependencies"`
	Features      Features     `json:"features"`
}

// JobInfo describes the job and where it comes from.
type JobInfo struct {
	ID                 int64   `json:"id"`
	Name               string  `json:"name"`
	Stage              string  `json:"stage"`
	PipelineID         int64   `json:"pipeline_id"`
	ProjectID          int64   `json:"project_id"`
	ProjectName        string  `json:"project_name"`
	ProjectFullPath    string  `json:"project_full_path"`
	TimeInQueueSeconds float64 `json:"time_in_queue_seconds"`
	QueueSize          int64   `json:"queue_size"`
	QueueDepth         int64   `json:"queue_depth"`
}

// GitInfo says what to clone and check out.
type GitInfo struct {
	// RepoURL embeds the job token as credentials.
	RepoURL   string   `json:"repo_url"`
	Ref       string   `json:"ref"`
	Sha       string   `json:"sha"`
	BeforeSha string   `json:"before_sha"`
	RefType   string   `json:"ref_type"` // "branch" or "tag"
	Refspecs  []string `json:"refspecs"`
	Depth     int      `json:"depth"`
	Protected bool     `json:"protected"`
}

// RunnerInfo carries runner-side limits for the job.
type RunnerInfo struct {
	// Timeout is the job's execution timeout in seconds.
	Timeout int `json:"timeout"`
}

// TimeoutDuration returns Timeout as a duration (zero when unset).
func (r RunnerInfo) TimeoutDuration() time.Duration {
	return time.Duration(r.Timeout) * time.Second
}

// Variable is one CI/CD variable of the job.
type Variable struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Public bool   `json:"public"`
	// Masked values must never appear in the job log.
	Masked bool `json:"masked"`
	// File means Value is written to a file and the variable holds its path.
	File bool `json:"file"`
	// Raw means Value is used verbatim, without $VAR expansion.
	Raw bool `json:"raw"`
}

// Step names used by GitLab.
const (
	StepScript      = "script"
	StepAfterScript = "after_script"
	StepRelease     = "release"
)

// Step "when" values.
const (
	WhenOnSuccess = "on_success"
	WhenOnFailure = "on_failure"
	WhenAlways    = "always"
)

// Step is one script section of the job.
type Step struct {
	Name         string   `json:"name"`
	Script       []string `json:"script"`
	Timeout      int      `json:"timeout"` // seconds
	When         string   `json:"when"`
	AllowFailure bool     `json:"allow_failure"`
}

// Hook is a script run around a job phase (pre_get_sources_script,
// post_get_sources_script).
type Hook struct {
	Name   string   `json:"name"`
	Script []string `json:"script"`
}

// Port is a port an image or service exposes.
type Port struct {
	Number   int    `json:"number"`
	Protocol string `json:"protocol"`
	Name     string `json:"name"`
}

// Image is the job's image or one of its services.
type Image struct {
	Name       string    `json:"name"`
	Alias      string    `json:"alias"`
	Command    []string  `json:"command"`
	Entrypoint []string  `json:"entrypoint"`
	Ports      []Port    `json:"ports"`
	PullPolicy []string  `json:"pull_policy"`
	Variables  Variables `json:"variables"`
}

// Service is a service container of the job; it has the same shape as Image.
type Service = Image

// Aliases splits Alias, which may hold several names separated by commas,
// trimming blanks and dropping empty names.
func (i Image) Aliases() []string {
	var out []string
	for _, a := range strings.Split(i.Alias, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Artifact describes one artifacts upload of the job.
type Artifact struct {
	Name           string   `json:"name"`
	Untracked      bool     `json:"untracked"`
	Paths          []string `json:"paths"`
	Exclude        []string `json:"exclude"`
	When           string   `json:"when"`
	ArtifactType   string   `json:"artifact_type"`
	ArtifactFormat string   `json:"artifact_format"`
	ExpireIn       string   `json:"expire_in"`
}

// Cache policies.
const (
	CachePullPush = "pull-push"
	CachePull     = "pull"
	CachePush     = "push"
)

// Cache describes one cache of the job.
type Cache struct {
	Key          string   `json:"key"`
	Untracked    bool     `json:"untracked"`
	Policy       string   `json:"policy"`
	Paths        []string `json:"paths"`
	When         string   `json:"when"`
	FallbackKeys []string `json:"fallback_keys"`
}

// Credential is a set of registry credentials.
type Credential struct {
	Type     string `json:"type"` // "registry"
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// Dependency is an earlier job whose artifacts this job downloads.
type Dependency struct {
	ID            int64         `json:"id"`
	Name          string        `json:"name"`
	Token         string        `json:"token"`
	ArtifactsFile ArtifactsFile `json:"artifacts_file"`
}

// ArtifactsFile names a dependency's artifacts archive.
type ArtifactsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

// Features are the job's server-side options.
type Features struct {
	TraceSections     bool     `json:"trace_sections"`
	TokenMaskPrefixes []string `json:"token_mask_prefixes"`
	FailureReasons    []string `json:"failure_reasons"`
}

// Failure reasons a runner may send with a failed job: the agent's one
// vocabulary (runner.FailureReason) as the wire's strings.
const (
	FailureScript                   = string(runner.FailureScript)
	FailureRunnerSystem             = string(runner.FailureRunnerSystem)
	FailureJobExecutionTimeout      = string(runner.FailureJobExecutionTimeout)
	FailureImagePull                = string(runner.FailureImagePull)
	FailureUnknown                  = string(runner.FailureUnknown)
	FailureRunnerConfiguration      = string(runner.FailureRunnerConfiguration)
	FailureRunnerExternalDependency = string(runner.FailureRunnerExternalDependency)
	FailureRunnerInterrupted        = string(runner.FailureRunnerInterrupted)
)

// FailureReason maps reason to one the job's server accepts: reason itself
// when listed in FailureReasons (or when the list is empty, i.e. the server
// did not say), image_pull_failure falls back to runner_system_failure, and
// anything else to unknown_failure.
func (f Features) FailureReason(reason string) string {
	if reason == "" {
		return ""
	}
	if len(f.FailureReasons) == 0 {
		return reason
	}
	supported := func(r string) bool {
		for _, s := range f.FailureReasons {
			if s == r {
				return true
			}
		}
		return false
	}
	switch {
	case supported(reason):
		return reason
	case reason == FailureImagePull && supported(FailureRunnerSystem):
		return FailureRunnerSystem
	default:
		return FailureUnknown
	}
}

// ErrInvalidJob reports a job payload that cannot be used.
var ErrInvalidJob = errors.New("gitlab: invalid job payload")

// DecodeJob decodes a job payload, rejecting malformed JSON, wrong field
// types, trailing data and payloads without id or token.
func DecodeJob(r io.Reader) (*JobResponse, error) {
	dec := json.NewDecoder(r)
	var job JobResponse
	if err := dec.Decode(&job); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalidJob, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalidJob)
	}
	switch {
	case job.ID <= 0:
		return nil, fmt.Errorf("%w: missing or invalid id", ErrInvalidJob)
	case job.Token == "":
		return nil, fmt.Errorf("%w: job %d has no token", ErrInvalidJob, job.ID)
	}
	return &job, nil
}

// decodeJobBytes is DecodeJob over a byte slice.
func decodeJobBytes(b []byte) (*JobResponse, error) {
	return DecodeJob(bytes.NewReader(b))
}

// Job states used in UpdateJobBody.State: the agent's one vocabulary
// (runner.State) as the wire's strings.
const (
	StatePending = "pending"
	StateRunning = string(runner.StateRunning)
	StateSuccess = string(runner.StateSuccess)
	StateFailed  = string(runner.StateFailed)
)

// Job-Status header values that drive the runner.
const (
	JobStatusRunning   = "running"
	JobStatusCanceling = "canceling"
	JobStatusCanceled  = "canceled"
	JobStatusFailed    = "failed"
)

// VersionInfo describes the runner to GitLab.
type VersionInfo struct {
	Name         string       `json:"name,omitempty"`
	Version      string       `json:"version,omitempty"`
	Revision     string       `json:"revision,omitempty"`
	Platform     string       `json:"platform,omitempty"`
	Architecture string       `json:"architecture,omitempty"`
	Executor     string       `json:"executor,omitempty"`
	Shell        string       `json:"shell,omitempty"`
	Features     FeaturesInfo `json:"features"`
}

// FeaturesInfo advertises what the runner implements. Leave false whatever
// is not implemented: GitLab fails jobs that need a missing feature with
// runner_unsupported instead of running them wrongly.
type FeaturesInfo struct {
	Variables               bool `json:"variables,omitempty"`
	Image                   bool `json:"image,omitempty"`
	Services                bool `json:"services,omitempty"`
	Artifacts               bool `json:"artifacts,omitempty"`
	Cache                   bool `json:"cache,omitempty"`
	FallbackCacheKeys       bool `json:"fallback_cache_keys,omitempty"`
	Shared                  bool `json:"shared,omitempty"`
	UploadMultipleArtifacts bool `json:"upload_multiple_artifacts,omitempty"`
	UploadRawArtifacts      bool `json:"upload_raw_artifacts,omitempty"`
	Session                 bool `json:"session,omitempty"`
	Terminal                bool `json:"terminal,omitempty"`
	Refspecs                bool `json:"refspecs,omitempty"`
	Masking                 bool `json:"masking,omitempty"`
	Proxy                   bool `json:"proxy,omitempty"`
	RawVariables            bool `json:"raw_variables,omitempty"`
	ArtifactsExclude        bool `json:"artifacts_exclude,omitempty"`
	MultiBuildSteps         bool `json:"multi_build_steps,omitempty"`
	TraceReset              bool `json:"trace_reset,omitempty"`
	TraceChecksum           bool `json:"trace_checksum,omitempty"`
	TraceSize               bool `json:"trace_size,omitempty"`
	VaultSecrets            bool `json:"vault_secrets,omitempty"`
	Cancelable              bool `json:"cancelable,omitempty"`
	ReturnExitCode          bool `json:"return_exit_code,omitempty"`
	ServiceVariables        bool `json:"service_variables,omitempty"`
	CancelGracefully        bool `json:"cancel_gracefully,omitempty"`
	TwoPhaseJobCommit       bool `json:"two_phase_job_commit,omitempty"`
}

// RequestJobBody is the body of POST jobs/request.
type RequestJobBody struct {
	Token    string `json:"token"`
	SystemID string `json:"system_id,omitempty"`
	// LastUpdate is the last X-GitLab-Last-Update seen; it enables long polling.
	LastUpdate string      `json:"last_update,omitempty"`
	Info       VersionInfo `json:"info"`
}

// JobOutput describes the job log as the runner sent it.
type JobOutput struct {
	Checksum string `json:"checksum,omitempty"` // "crc32:%08x"
	Bytesize int64  `json:"bytesize"`
}

// UpdateJobBody is the body of PUT jobs/:id. Token is the job token.
type UpdateJobBody struct {
	Token         string       `json:"token"`
	State         string       `json:"state"`
	FailureReason string       `json:"failure_reason,omitempty"`
	ExitCode      *int         `json:"exit_code,omitempty"`
	Output        *JobOutput   `json:"output,omitempty"`
	Info          *VersionInfo `json:"info,omitempty"`
}

// RegisterRequest is a legacy registration (POST runners) with a
// registration token.
type RegisterRequest struct {
	Description     string      `json:"description,omitempty"`
	Tags            []string    `json:"-"`
	RunUntagged     bool        `json:"run_untagged"`
	Locked          bool        `json:"locked"`
	Paused          bool        `json:"paused,omitempty"`
	AccessLevel     string      `json:"access_level,omitempty"` // not_protected | ref_protected
	MaximumTimeout  int         `json:"maximum_timeout,omitempty"`
	MaintenanceNote string      `json:"maintenance_note,omitempty"`
	Info            VersionInfo `json:"info"`
}

// VerifyResult is GitLab's answer to verify, register and token reset.
type VerifyResult struct {
	ID    int64  `json:"id"`
	Token string `json:"token"`
	// TokenExpiresAt is zero when the token does not expire.
	TokenExpiresAt time.Time `json:"-"`
}

// verifyWire is VerifyResult as it travels (token_expires_at may be null).
type verifyWire struct {
	ID             int64      `json:"id"`
	Token          string     `json:"token"`
	TokenExpiresAt *time.Time `json:"token_expires_at"`
}

func (w verifyWire) result() VerifyResult {
	r := VerifyResult{ID: w.ID, Token: w.Token}
	if w.TokenExpiresAt != nil {
		r.TokenExpiresAt = *w.TokenExpiresAt
	}
	return r
}
