package gitlabtest

import "encoding/json"

// Wire structs of the runner API, owned here so the fake does not share
// (and hide) mistakes with the client package.

type runnerInfo struct {
	Name         string          `json:"name"`
	Version      string          `json:"version"`
	Revision     string          `json:"revision"`
	Platform     string          `json:"platform"`
	Architecture string          `json:"architecture"`
	Executor     string          `json:"executor"`
	Shell        string          `json:"shell"`
	Features     map[string]bool `json:"features"`
}

type requestJobBody struct {
	Token      *string     `json:"token"`
	SystemID   *string     `json:"system_id"`
	LastUpdate string      `json:"last_update"`
	Info       *runnerInfo `json:"info"`
}

type verifyBody struct {
	Token    string          `json:"token"`
	SystemID *string         `json:"system_id"`
	Info     json.RawMessage `json:"info"`
}

type registerBody struct {
	Token       string          `json:"token"`
	Description string          `json:"description"`
	TagList     json.RawMessage `json:"tag_list"` // "a,b" or ["a","b"]
	RunUntagged *bool           `json:"run_untagged"`
	Locked      *bool           `json:"locked"`
	Info        json.RawMessage `json:"info"`
}

type tokenBody struct {
	Token    string `json:"token"`
	SystemID string `json:"system_id"`
}

type tokenAnswer struct {
	ID             int64   `json:"id,omitempty"`
	Token          string  `json:"token"`
	TokenExpiresAt *string `json:"token_expires_at"`
}

type updateJobBody struct {
	Token         string          `json:"token"`
	State         string          `json:"state"`
	FailureReason string          `json:"failure_reason"`
	ExitCode      *int            `json:"exit_code"`
	Output        *updateOutput   `json:"output"`
	Info          json.RawMessage `json:"info"`
}

type updateOutput struct {
	Checksum string `json:"checksum"`
	Bytesize *int64 `json:"bytesize"`
}

// The job payload (201 of jobs/request).

type jobPayload struct {
	ID            int64            `json:"id"`
	Token         string           `json:"token"`
	AllowGitFetch bool             `json:"allow_git_fetch"`
	JobInfo       payloadJobInfo   `json:"job_info"`
	GitInfo       payloadGitInfo   `json:"git_info"`
	RunnerInfo    payloadRunner    `json:"runner_info"`
	Variables     []payloadVar     `json:"variables"`
	Steps         []payloadStep    `json:"steps"`
	Hooks         []payloadHook    `json:"hooks"`
	Image         *payloadImage    `json:"image"`
	Services      []payloadImage   `json:"services"`
	Artifacts     []payloadArt     `json:"artifacts"`
	Cache         []payloadCache   `json:"cache"`
	Credentials   []payloadCred    `json:"credentials"`
	Dependencies  []payloadDep     `json:"dependencies"`
	Features      payloadFeatures  `json:"features"`
	PolicyOptions map[string]any   `json:"policy_options"`  // newer GitLab field a runner must ignore
	FutureField   json.RawMessage  `json:"x_future_field"`  // unknown field a runner must ignore
	Inputs        []map[string]any `json:"x_future_inputs"` // unknown field a runner must ignore
}

type payloadJobInfo struct {
	ID                 int64  `json:"id"`
	Name               string `json:"name"`
	Stage              string `json:"stage"`
	PipelineID         int64  `json:"pipeline_id"`
	ProjectID          int64  `json:"project_id"`
	ProjectName        string `json:"project_name"`
	ProjectFullPath    string `json:"project_full_path"`
	TimeInQueueSeconds int64  `json:"time_in_queue_seconds"`
	QueueSize          int    `json:"queue_size"`
	QueueDepth         int    `json:"queue_depth"`
	ProjectJobsRunning int    `json:"project_jobs_running_on_instance_runners_count"`
}

type payloadGitInfo struct {
	RepoURL   string   `json:"repo_url"`
	Ref       string   `json:"ref"`
	SHA       string   `json:"sha"`
	BeforeSHA string   `json:"before_sha"`
	RefType   string   `json:"ref_type"`
	Refspecs  []string `json:"refspecs"`
	Depth     int      `json:"depth"`
	Protected bool     `json:"protected"`
}

type payloadRunner struct {
	Timeout          int     `json:"timeout"`
	RunnerSessionURL *string `json:"runner_session_url"`
}

type payloadVar struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Public bool   `json:"public"`
	Masked bool   `json:"masked"`
	File   bool   `json:"file,omitempty"` // GitLab sends file/raw only when true
	Raw    bool   `json:"raw,omitempty"`
}

type payloadStep struct {
	Name         string   `json:"name"`
	Script       []string `json:"script"`
	Timeout      int      `json:"timeout"`
	When         string   `json:"when"`
	AllowFailure bool     `json:"allow_failure"`
}

type payloadHook struct {
	Name   string   `json:"name"`
	Script []string `json:"script"`
}

type payloadImage struct {
	Name       string        `json:"name"`
	Alias      string        `json:"alias,omitempty"`
	Entrypoint []string      `json:"entrypoint,omitempty"`
	Command    []string      `json:"command,omitempty"`
	Ports      []payloadPort `json:"ports"`
	PullPolicy []string      `json:"pull_policy,omitempty"`
	Variables  []payloadVar  `json:"variables,omitempty"`
}

type payloadPort struct {
	Number   int    `json:"number"`
	Protocol string `json:"protocol,omitempty"`
	Name     string `json:"name,omitempty"`
}

type payloadArt struct {
	Name           string   `json:"name"`
	Untracked      bool     `json:"untracked"`
	Paths          []string `json:"paths"`
	Exclude        []string `json:"exclude"`
	When           string   `json:"when"`
	ArtifactType   string   `json:"artifact_type"`
	ArtifactFormat string   `json:"artifact_format"`
	ExpireIn       string   `json:"expire_in"`
}

type payloadCache struct {
	Key          string   `json:"key"`
	Untracked    bool     `json:"untracked"`
	Policy       string   `json:"policy"`
	Paths        []string `json:"paths"`
	When         string   `json:"when"`
	FallbackKeys []string `json:"fallback_keys"`
}

type payloadCred struct {
	Type     string `json:"type"`
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type payloadDep struct {
	ID            int64            `json:"id"`
	Name          string           `json:"name"`
	Token         string           `json:"token"`
	ArtifactsFile *payloadArtsFile `json:"artifacts_file,omitempty"`
}

type payloadArtsFile struct {
	Filename string `json:"filename"`
	Size     int64  `json:"size"`
}

type payloadFeatures struct {
	TraceSections     bool     `json:"trace_sections"`
	TokenMaskPrefixes []string `json:"token_mask_prefixes"`
	FailureReasons    []string `json:"failure_reasons"`
	// FutureFeature is an unknown feature flag a runner must ignore.
	FutureFeature bool `json:"x_future_feature"`
}
