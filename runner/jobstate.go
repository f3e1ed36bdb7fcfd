package runner

// State is how a job stands, in the one vocabulary of every source
// (GitLab's wire values; GitHub conclusions map onto them).
type State string

// Job states.
const (
	StateRunning State = "running"
	StateSuccess State = "success"
	StateFailed  State = "failed"
	// StateCanceled: the platform or the agent cancelled the job.
	StateCanceled State = "canceled"
	// StateUnreported: the job ended but its final state never reached the
	// platform (the final update kept failing).
	StateUnreported State = "unreported"
)

// FailureReason says why a job failed, in the one vocabulary of every
// source (GitLab's failure_reason values).
type FailureReason string

// Failure reasons.
const (
	FailureScript                   FailureReason = "script_failure"
	FailureRunnerSystem             FailureReason = "runner_system_failure"
	FailureJobExecutionTimeout      FailureReason = "job_execution_timeout"
	FailureImagePull                FailureReason = "image_pull_failure"
	FailureUnknown                  FailureReason = "unknown_failure"
	FailureRunnerConfiguration      FailureReason = "runner_configuration_error"
	FailureRunnerExternalDependency FailureReason = "runner_external_dependency_failure"
	FailureRunnerInterrupted        FailureReason = "runner_interrupted"
)
