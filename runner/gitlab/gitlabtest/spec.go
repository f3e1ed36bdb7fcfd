package gitlabtest

import "strings"

// DefaultFailureReasons returns the features.failure_reasons list sent when
// a JobSpec does not set its own.
func DefaultFailureReasons() []string {
	return []string{
		"script_failure", "runner_system_failure", "job_execution_timeout",
		"image_pull_failure", "unknown_failure", "runner_configuration_error",
		"runner_external_dependency_failure", "runner_interrupted",
	}
}

// JobSpec describes a job to queue. Zero fields take GitLab-like defaults.
type JobSpec struct {
	Name        string // default "test"
	Stage       string // default "test"
	ProjectPath string // default "group/project"
	ProjectID   int64  // default 42
	PipelineID  int64  // default: a new pipeline per job
	Ref         string // branch name, default "main"; "refs/merge-requests/…" needs the refspecs feature
	SHA         string // default: HEAD of the repo at ProjectPath if AddRepo created one
	// Depth is git_info.depth; the GIT_DEPTH variable wins; default 20.
	Depth int
	Tags  []string // only runners with all these tags get the job

	Image    *Image
	Services []Image

	Variables []Variable
	// BeforeScript and Script are concatenated into the "script" step.
	BeforeScript []string
	Script       []string
	AfterScript  []string
	// Release adds a "release" step (needs multi_build_steps).
	Release []string
	// AllowFailure is the script step's allow_failure.
	AllowFailure bool
	// AllowFailureExitCodes needs the return_exit_code feature.
	AllowFailureExitCodes []int
	// Steps, when set, replaces the steps built from the scripts above.
	Steps []Step
	Hooks []Hook

	Timeout      int // runner_info.timeout in seconds, default 3600
	Cache        []Cache
	Artifacts    []Artifact
	Dependencies []int64 // ids of earlier jobs whose artifacts the job downloads
	Credentials  []Credential

	// FailureReasons is features.failure_reasons; default DefaultFailureReasons().
	FailureReasons []string
}

// Image is an image or service entry of the job payload.
type Image struct {
	Name       string
	Alias      string // services: may hold several names separated by commas
	Entrypoint []string
	Command    []string
	Ports      []Port
	PullPolicy []string
	Variables  []Variable
}

// Port is an exposed image port.
type Port struct {
	Number   int
	Protocol string
	Name     string
}

// Variable is a job variable.
type Variable struct {
	Key    string
	Value  string
	Public bool
	Masked bool
	File   bool
	Raw    bool
}

// Step overrides one entry of the payload's steps.
type Step struct {
	Name         string // script, after_script, release
	Script       []string
	Timeout      int    // default the job timeout
	When         string // on_success, on_failure, always
	AllowFailure bool
}

// Hook is a pre/post get-sources hook.
type Hook struct {
	Name   string // pre_get_sources_script, post_get_sources_script
	Script []string
}

// Cache is one cache entry of the payload.
type Cache struct {
	Key          string
	Paths        []string
	Policy       string // pull, push, pull-push (default)
	When         string // on_success (default), on_failure, always
	Untracked    bool
	FallbackKeys []string // needs fallback_cache_keys
}

// Artifact is one artifacts entry of the payload.
type Artifact struct {
	Name           string
	Paths          []string
	Exclude        []string // needs artifacts_exclude
	Untracked      bool
	When           string // on_success (default), on_failure, always
	ArtifactType   string // default "archive"; others need upload_multiple_artifacts
	ArtifactFormat string // default "zip"
	ExpireIn       string
}

// Credential is a registry credential of the payload.
type Credential struct {
	Type     string // "registry"
	URL      string
	Username string
	Password string
}

func (spec JobSpec) withDefaults() JobSpec {
	if spec.Name == "" {
		spec.Name = "test"
	}
	if spec.Stage == "" {
		spec.Stage = "test"
	}
	if spec.ProjectPath == "" {
		spec.ProjectPath = "group/project"
	}
	if spec.ProjectID == 0 {
		spec.ProjectID = 42
	}
	if spec.Ref == "" {
		spec.Ref = "main"
	}
	if spec.Timeout == 0 {
		spec.Timeout = 3600
	}
	if spec.Depth == 0 {
		spec.Depth = 20
	}
	if spec.FailureReasons == nil {
		spec.FailureReasons = DefaultFailureReasons()
	}
	for i := range spec.Artifacts {
		a := &spec.Artifacts[i]
		if a.ArtifactType == "" {
			a.ArtifactType = "archive"
		}
		if a.ArtifactFormat == "" {
			a.ArtifactFormat = "zip"
		}
		if a.When == "" {
			a.When = "on_success"
		}
	}
	for i := range spec.Cache {
		c := &spec.Cache[i]
		if c.Policy == "" {
			c.Policy = "pull-push"
		}
		if c.When == "" {
			c.When = "on_success"
		}
	}
	return spec
}

// requiredFeatures lists the runner features GitLab demands for spec
// (Ci::Build::RUNNER_FEATURES); a runner lacking one gets the job failed
// with runner_unsupported.
func requiredFeatures(spec JobSpec) []string {
	var need []string
	for _, a := range spec.Artifacts {
		if a.ArtifactType != "archive" {
			need = append(need, "upload_multiple_artifacts")
			break
		}
	}
	if strings.HasPrefix(spec.Ref, "refs/merge-requests/") {
		need = append(need, "refspecs")
	}
	for _, a := range spec.Artifacts {
		if len(a.Exclude) > 0 {
			need = append(need, "artifacts_exclude")
			break
		}
	}
	if len(spec.Release) > 0 {
		need = append(need, "multi_build_steps")
	}
	if len(spec.AllowFailureExitCodes) > 0 {
		need = append(need, "return_exit_code")
	}
	for _, c := range spec.Cache {
		if len(c.FallbackKeys) > 0 {
			need = append(need, "fallback_cache_keys")
			break
		}
	}
	return need
}
