package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Sentinel errors matched with errors.Is against the errors the Client and
// Trace return.
var (
	// ErrForbidden is any 403: an invalid runner token, or a job that is no
	// longer running.
	ErrForbidden = errors.New("gitlab: forbidden")
	// ErrJobNotRunning is a 403 on a job-scoped call, or a Job-Status of
	// canceled/failed: stop the job at once.
	ErrJobNotRunning = errors.New("gitlab: job is no longer running")
	// ErrConflict is a 409 (jobs/request lost a race: poll again).
	ErrConflict = errors.New("gitlab: conflict")
	// ErrOrphaned is a 422 from jobs/request: the runner was deleted.
	ErrOrphaned = errors.New("gitlab: runner orphaned")
	// ErrTooManyRequests is a 429; see StatusError.RetryAfter.
	ErrTooManyRequests = errors.New("gitlab: too many requests")
	// ErrResendTrace is a 412 on a job update: send the whole log again.
	ErrResendTrace = errors.New("gitlab: trace checksum mismatch, resend the trace")
	// ErrTooLarge is a 413 on an artifacts upload.
	ErrTooLarge = errors.New("gitlab: request entity too large")
	// ErrNotFound is a 404.
	ErrNotFound = errors.New("gitlab: not found")
	// ErrLegacyRegistrationDisabled is a 410 on POST runners: registration
	// tokens are disabled on this instance; create the runner in GitLab and
	// use its glrt- authentication token.
	ErrLegacyRegistrationDisabled = errors.New("gitlab: legacy runner registration is disabled")
	// ErrServer is a 5xx.
	ErrServer = errors.New("gitlab: server error")
)

// Endpoint names used in errors and passed to the Observer (metric labels).
const (
	EndpointVerify            = "verify"
	EndpointRegister          = "register"
	EndpointResetToken        = "reset_token"
	EndpointUnregisterManager = "unregister_manager"
	EndpointUnregisterRunner  = "unregister_runner"
	EndpointRequestJob        = "request_job"
	EndpointUpdateJob         = "update_job"
	EndpointPatchTrace        = "patch_trace"
	EndpointUploadArtifacts   = "upload_artifacts"
	EndpointDownloadArtifacts = "download_artifacts"
)

// jobScoped reports whether endpoint authenticates with a job token.
func jobScoped(endpoint string) bool {
	switch endpoint {
	case EndpointUpdateJob, EndpointPatchTrace, EndpointUploadArtifacts, EndpointDownloadArtifacts:
		return true
	}
	return false
}

// StatusError is an unexpected HTTP status from GitLab.
type StatusError struct {
	Endpoint string
	Code     int
	// RetryAfter is the server's Retry-After (or RateLimit-ResetTime), if any.
	RetryAfter time.Duration
	// JobStatus is the Job-Status header of a job-scoped call, if any.
	JobStatus string
	// Body is the start of the response body, for diagnostics.
	Body string
}

// Error implements error.
func (e *StatusError) Error() string {
	msg := fmt.Sprintf("gitlab %s: HTTP %d %s", e.Endpoint, e.Code, http.StatusText(e.Code))
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Is matches the sentinel errors by status code.
func (e *StatusError) Is(target error) bool {
	switch e.Code {
	case http.StatusForbidden:
		return target == ErrForbidden || (target == ErrJobNotRunning && jobScoped(e.Endpoint))
	case http.StatusConflict:
		return target == ErrConflict
	case http.StatusUnprocessableEntity:
		return target == ErrOrphaned && e.Endpoint == EndpointRequestJob
	case http.StatusTooManyRequests:
		return target == ErrTooManyRequests
	case http.StatusPreconditionFailed:
		return target == ErrResendTrace
	case http.StatusRequestEntityTooLarge:
		return target == ErrTooLarge
	case http.StatusNotFound:
		return target == ErrNotFound
	case http.StatusGone:
		return target == ErrLegacyRegistrationDisabled && e.Endpoint == EndpointRegister
	}
	return e.Code >= 500 && target == ErrServer
}

// RangeError is a 416 on PATCH trace: the server holds Offset bytes of the
// log and the next patch must start there.
type RangeError struct {
	Offset    int64
	JobStatus string
}

// Error implements error.
func (e *RangeError) Error() string {
	return fmt.Sprintf("gitlab %s: HTTP 416, server has %d bytes of the log", EndpointPatchTrace, e.Offset)
}

// ErrJobCanceled is an abort caused by Job-Status "canceled".
var ErrJobCanceled = fmt.Errorf("%w: canceled", ErrJobNotRunning)

// Retryable reports whether trying the same call again later may succeed:
// 408, 409, 429 and 5xx answers, 416 on the trace, and transport errors. It
// is false for context cancellation and for other statuses.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
			return true
		}
		return se.Code >= 500
	}
	var re *RangeError
	if errors.As(err, &re) {
		return true
	}
	var te *transportError
	return errors.As(err, &te)
}

// RetryAfter returns how long the server asked to wait before the next
// attempt, or 0.
func RetryAfter(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// transportError marks a failure to get any HTTP answer (connection refused,
// reset, TLS handshake, timeout waiting for headers).
type transportError struct {
	endpoint string
	err      error
}

func (e *transportError) Error() string { return fmt.Sprintf("gitlab %s: %v", e.endpoint, e.err) }
func (e *transportError) Unwrap() error { return e.err }
