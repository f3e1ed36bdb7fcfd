package scalesettest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Wire shapes of the scale-set service, with the field names the service
// uses (camelCase on the Actions service, snake_case on the GitHub API).

type wireLabel struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

type wireRunnerSetting struct {
	DisableUpdate bool `json:"disableUpdate,omitempty"`
}

type wireStatistics struct {
	TotalAvailableJobs     int `json:"totalAvailableJobs"`
	TotalAcquiredJobs      int `json:"totalAcquiredJobs"`
	TotalAssignedJobs      int `json:"totalAssignedJobs"`
	TotalRunningJobs       int `json:"totalRunningJobs"`
	TotalRegisteredRunners int `json:"totalRegisteredRunners"`
	TotalBusyRunners       int `json:"totalBusyRunners"`
	TotalIdleRunners       int `json:"totalIdleRunners"`
}

type wireScaleSet struct {
	ID                 int               `json:"id"`
	Name               string            `json:"name"`
	RunnerGroupID      int               `json:"runnerGroupId"`
	RunnerGroupName    string            `json:"runnerGroupName"`
	Labels             []wireLabel       `json:"labels"`
	RunnerSetting      wireRunnerSetting `json:"RunnerSetting"`
	CreatedOn          time.Time         `json:"createdOn"`
	RunnerJitConfigURL string            `json:"runnerJitConfigUrl"`
	Statistics         *wireStatistics   `json:"statistics"`
}

// wireScaleSetRequest is what create/update accept; unknown fields are
// rejected.
type wireScaleSetRequest struct {
	ID                 int                `json:"id,omitempty"`
	Name               string             `json:"name,omitempty"`
	RunnerGroupID      int                `json:"runnerGroupId,omitempty"`
	RunnerGroupName    string             `json:"runnerGroupName,omitempty"`
	Labels             []wireLabel        `json:"labels,omitempty"`
	RunnerSetting      *wireRunnerSetting `json:"RunnerSetting,omitempty"`
	CreatedOn          *time.Time         `json:"createdOn,omitempty"`
	RunnerJitConfigURL string             `json:"runnerJitConfigUrl,omitempty"`
	Statistics         *wireStatistics    `json:"statistics,omitempty"`
}

type wireList[T any] struct {
	Count int `json:"count"`
	Value []T `json:"value"`
}

type wireRunnerGroup struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Size      int    `json:"size"`
	IsDefault bool   `json:"isDefaultGroup"`
}

type wireSession struct {
	SessionID               string          `json:"sessionId"`
	OwnerName               string          `json:"ownerName"`
	RunnerScaleSet          *wireScaleSet   `json:"runnerScaleSet"`
	MessageQueueURL         string          `json:"messageQueueUrl"`
	MessageQueueAccessToken string          `json:"messageQueueAccessToken"`
	Statistics              *wireStatistics `json:"statistics"`
}

type wireSessionRequest struct {
	SessionID               string          `json:"sessionId,omitempty"`
	OwnerName               string          `json:"ownerName,omitempty"`
	RunnerScaleSet          json.RawMessage `json:"runnerScaleSet,omitempty"`
	MessageQueueURL         string          `json:"messageQueueUrl,omitempty"`
	MessageQueueAccessToken string          `json:"messageQueueAccessToken,omitempty"`
	Statistics              *wireStatistics `json:"statistics,omitempty"`
}

type wireMessage struct {
	MessageID   int             `json:"messageId"`
	MessageType string          `json:"messageType"`
	Body        string          `json:"body"`
	Statistics  *wireStatistics `json:"statistics"`
}

// wireJobMessage is one element of a message body: the fields of
// JobMessageBase plus those of the concrete message types.
type wireJobMessage struct {
	MessageType        string    `json:"messageType"`
	RunnerRequestID    int64     `json:"runnerRequestId"`
	RepositoryName     string    `json:"repositoryName"`
	OwnerName          string    `json:"ownerName"`
	JobID              string    `json:"jobId"`
	JobWorkflowRef     string    `json:"jobWorkflowRef"`
	JobDisplayName     string    `json:"jobDisplayName"`
	WorkflowRunID      int64     `json:"workflowRunId"`
	EventName          string    `json:"eventName"`
	RequestLabels      []string  `json:"requestLabels"`
	QueueTime          time.Time `json:"queueTime"`
	ScaleSetAssignTime time.Time `json:"scaleSetAssignTime"`
	RunnerAssignTime   time.Time `json:"runnerAssignTime"`
	FinishTime         time.Time `json:"finishTime"`
	AcquireJobURL      string    `json:"acquireJobUrl,omitempty"`
	RunnerID           int       `json:"runnerId,omitempty"`
	RunnerName         string    `json:"runnerName,omitempty"`
	Result             string    `json:"result,omitempty"`
}

type wireJitRequest struct {
	Name       string `json:"name"`
	WorkFolder string `json:"workFolder"`
}

type wireRunnerReference struct {
	ID               int    `json:"id"`
	Name             string `json:"name"`
	RunnerScaleSetID int    `json:"runnerScaleSetId"`
}

type wireJitConfig struct {
	Runner           *wireRunnerReference `json:"runner"`
	EncodedJITConfig string               `json:"encodedJITConfig"`
}

// wireException is the Actions service's error body.
type wireException struct {
	ID             string  `json:"$id"`
	InnerException *string `json:"innerException"`
	Message        string  `json:"message"`
	TypeName       string  `json:"typeName"`
	TypeKey        string  `json:"typeKey"`
	ErrorCode      int     `json:"errorCode"`
	EventID        int     `json:"eventId"`
}

// Exception type keys the service answers with.
const (
	excScaleSetNotFound   = "RunnerScaleSetNotFoundException"
	excSessionConflict    = "RunnerScaleSetSessionConflictException"
	excSessionExpired     = "RunnerScaleSetSessionExpiredException"
	excScaleSetExists     = "RunnerScaleSetExistsException"
	excRunnerGroupMissing = "RunnerGroupNotFoundException"
	excAgentExists        = "AgentExistsException"
	excAgentNotFound      = "AgentNotFoundException"
	excArgument           = "ArgumentException"
	excUnauthorized       = "VssUnauthorizedException"
	excMessageNotFound    = "MessageNotFoundException"
	excInvalidRequest     = "InvalidRequestException"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeException(w http.ResponseWriter, status int, key, msg string) {
	writeJSON(w, status, wireException{
		ID:       "1",
		Message:  msg,
		TypeName: "GitHub.Actions.Runtime.WebApi." + key + ", GitHub.Actions.Runtime.WebApi",
		TypeKey:  key,
		EventID:  3000,
	})
}

// writeGitHubError answers like api.github.com does.
func writeGitHubError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{
		"message":           msg,
		"documentation_url": "https://docs.github.com/rest",
		"status":            strconv.Itoa(status),
	})
}
