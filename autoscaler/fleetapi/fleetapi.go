// Package fleetapi holds the wire types of the fleet API between a node's
// agent and the control plane: registration, heartbeats, the commands the
// control plane sends back, and the admin view of the fleet. It is the one
// package both sides import (as a kubelet imports the API types, not the
// API server); it has no logic and no dependencies beyond the standard
// library.
package fleetapi

import "time"

// Paths of the fleet API (served on the control plane's listen address).
const (
	// PathRegister: POST RegisterRequest with the join token → RegisterResponse.
	PathRegister = "/fleet/v1/register"
	// PathHeartbeat: POST Heartbeat with the node token → HeartbeatResponse.
	PathHeartbeat = "/fleet/v1/heartbeat"
	// PathAdminNodes: GET → NodeList (admin listener only).
	PathAdminNodes = "/admin/v1/nodes"

	// The GitHub runner API a node uses when its [[github]] table has
	// credentials = "fleet": the control plane holds the GitHub App key and
	// answers for the node's own runners only (node token; see JITRequest).
	//
	// PathGitHubJIT: POST JITRequest → JITConfig.
	PathGitHubJIT = "/fleet/v1/github/jit"
	// PathGitHubRunners: POST RunnersRequest → RunnerList.
	PathGitHubRunners = "/fleet/v1/github/runners"
	// PathGitHubDeleteRunner: POST DeleteRunnerRequest → DeleteRunnerResponse.
	PathGitHubDeleteRunner = "/fleet/v1/github/runners/delete"
	// PathGitHubRunnerJob: POST RunnerJobRequest → RunnerJobResponse.
	PathGitHubRunnerJob = "/fleet/v1/github/runners/job"
)

// Headers.
const (
	// HeaderAuthorization carries "Bearer <token>": the fleet join token on
	// register, the node token on heartbeat.
	HeaderAuthorization = "Authorization"
	// BearerPrefix precedes the token in HeaderAuthorization.
	BearerPrefix = "Bearer "
	// ContentType of every request and response body.
	ContentType = "application/json"
)

// Node conditions an agent reports.
const (
	ConditionDiskPressure   = "DiskPressure"
	ConditionMemoryPressure = "MemoryPressure"
	// ConditionInterrupted: the cloud announced the node's termination.
	ConditionInterrupted = "Interrupted"
	// ConditionRebalance: the cloud recommends replacing the node.
	ConditionRebalance = "Rebalance"
	// ConditionCordoned: the agent takes no new jobs.
	ConditionCordoned = "Cordoned"
	// ConditionDraining: the agent takes no new jobs and exits once idle.
	ConditionDraining = "Draining"
)

// CommandType is what the control plane asks a node to do.
type CommandType string

// Commands.
const (
	// CommandCordon: stop taking new jobs; running jobs go on.
	CommandCordon CommandType = "cordon"
	// CommandDrain: stop taking new jobs, finish the running ones, exit.
	CommandDrain CommandType = "drain"
	// CommandTerminate: end running jobs now (as system failures the
	// platform can retry) and exit.
	CommandTerminate CommandType = "terminate"
)

// Capacity is what a node offers.
type Capacity struct {
	Slots       int   `json:"slots"`
	CPUs        int   `json:"cpus,omitempty"`
	MemoryBytes int64 `json:"memory_bytes,omitempty"`
}

// RegisterRequest is sent once by a new node (and again when its node
// token is rejected). A registration revokes the node's earlier tokens.
type RegisterRequest struct {
	// Name is the node name the provider gave it.
	Name string `json:"name"`
	// ProviderID is the provider's id of the node (container name, EC2
	// instance id); the control plane only admits nodes it launched.
	ProviderID string            `json:"provider_id"`
	Pool       string            `json:"pool,omitempty"`
	Offering   string            `json:"offering,omitempty"`
	Capacity   Capacity          `json:"capacity"`
	Labels     map[string]string `json:"labels,omitempty"`
	Version    string            `json:"version,omitempty"`
	// Identity proves that the node is the instance ProviderID names; the
	// join token alone admits no one.
	Identity Identity `json:"identity"`
}

// Identity is a node's proof of which instance it is: the one-time
// bootstrap token its provider handed it at launch (docker provider:
// RUNFLEET_FLEET_BOOTSTRAP_TOKEN), or the cloud's signed instance
// identity (EC2: the instance identity document and its base64 RSA
// SHA-256 signature, from the metadata service).
type Identity struct {
	BootstrapToken string `json:"bootstrap_token,omitempty"`
	// Document is the instance identity document as served (JSON text).
	Document string `json:"document,omitempty"`
	// Signature is the document's signature as served (base64).
	Signature string `json:"signature,omitempty"`
}

// RegisterResponse hands the node its own token.
type RegisterResponse struct {
	NodeToken string `json:"node_token"`
	// HeartbeatIntervalSeconds is how often the control plane wants a heartbeat.
	HeartbeatIntervalSeconds int `json:"heartbeat_interval_seconds"`
	// MaxJobs > 0 is the most jobs the node may start in its life (its
	// pool's max_jobs_per_node; 1 = single-use): the agent stops taking
	// jobs and drains itself once it has started that many, without
	// waiting for the control plane's drain.
	MaxJobs int `json:"max_jobs,omitempty"`
}

// RunningJob is one job a node runs.
type RunningJob struct {
	ID     string    `json:"id"`
	Source string    `json:"source,omitempty"`
	Since  time.Time `json:"since"`
}

// Condition is one node condition in force.
type Condition struct {
	Type   string `json:"type"`
	Reason string `json:"reason,omitempty"`
}

// Heartbeat is sent every few seconds with the node token.
type Heartbeat struct {
	Name       string       `json:"name"`
	ProviderID string       `json:"provider_id"`
	Slots      int          `json:"slots"`
	Busy       int          `json:"busy"`
	Running    []RunningJob `json:"running,omitempty"`
	// Cleaning counts finished jobs whose containers, networks and
	// volumes the agent is still removing (not busy, but a drained node
	// is not terminated while it reports some). Agents before it send
	// none: 0.
	Cleaning   int         `json:"cleaning,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Command is one instruction for a node.
type Command struct {
	Type   CommandType `json:"type"`
	Reason string      `json:"reason,omitempty"`
}

// HeartbeatResponse carries the commands in force for the node. They are
// level-triggered: the same command comes back on every heartbeat until
// the node is gone, so a lost response loses nothing.
type HeartbeatResponse struct {
	Commands []Command `json:"commands,omitempty"`
}

// Error is the body of every non-2xx answer.
type Error struct {
	Error string `json:"error"`
}

// NodeStatus is one node in the admin view.
type NodeStatus struct {
	Name          string       `json:"name"`
	ProviderID    string       `json:"provider_id"`
	Pool          string       `json:"pool"`
	Offering      string       `json:"offering"`
	State         string       `json:"state"`
	Slots         int          `json:"slots"`
	Busy          int          `json:"busy"`
	Cleaning      int          `json:"cleaning,omitempty"` // job cleanups still running
	Conditions    []Condition  `json:"conditions,omitempty"`
	Running       []RunningJob `json:"running,omitempty"`
	LaunchedAt    time.Time    `json:"launched_at"`
	RegisteredAt  time.Time    `json:"registered_at,omitzero"`
	LastHeartbeat time.Time    `json:"last_heartbeat,omitzero"`
}

// NodeList is the admin view of the fleet.
type NodeList struct {
	Nodes []NodeStatus `json:"nodes"`
	// Wanted is the slot count the last plan aimed at, per pool.
	Wanted map[string]int `json:"wanted,omitempty"`
	// Queued is the demand seen by the last reconcile, per label set.
	Queued []QueuedJobs `json:"queued,omitempty"`
}

// QueuedJobs counts queued jobs with one label set.
type QueuedJobs struct {
	Labels []string `json:"labels"`
	Count  int      `json:"count"`
}

// JITRequest asks the control plane to mint a just-in-time runner config
// for the calling node. Name must be the node's runner name for one slot:
// NamePrefix + node name + "-" + slot index + "-" + hex suffix (the
// control plane refuses any other). Labels must be within the labels its
// [github_jit] configuration gives the node's pool; the runner group is the
// pool's, never the node's choice. Refusals: 403 (another node's name,
// labels outside the pool), 409 (the node already has as many unfinished
// runners as its pool has slots per node, or it is draining), 429 with
// Retry-After (GitHub's rate limit), 502 (GitHub refused the control
// plane's credentials or failed).
//
// With ScaleSet set, the runner is minted on that runner scale set, whose
// message session the control plane holds ([github_jit.scale_sets.NAME]):
// the scale set must be configured for the node's pool (403 otherwise),
// Labels are ignored (the scale set's are used), and the same name rule
// and slot cap hold.
type JITRequest struct {
	Name     string   `json:"name"`
	Labels   []string `json:"labels"`
	ScaleSet string   `json:"scale_set,omitempty"`
}

// JITConfig is a minted runner registration; Encoded holds the runner's
// credentials: hand it to that runner only.
type JITConfig struct {
	RunnerID int64  `json:"runner_id"`
	Name     string `json:"name"`
	Encoded  string `json:"encoded_jit_config"`
}

// RunnersRequest lists the calling node's runners: the one named Name, or
// all of them when Name is empty. Runners of other nodes are never listed.
// With ScaleSet set, the node's runners of that scale set are listed.
type RunnersRequest struct {
	Name     string `json:"name,omitempty"`
	ScaleSet string `json:"scale_set,omitempty"`
}

// Runner is one registered runner as GitHub lists it.
type Runner struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"` // online | offline
	Busy   bool   `json:"busy"`
}

// RunnerList answers RunnersRequest.
type RunnerList struct {
	Runners []Runner `json:"runners"`
}

// DeleteRunnerRequest removes one of the calling node's runner
// registrations (403 for a runner of another node; a runner already gone
// is fine; 409 when GitHub refuses because the runner is busy).
type DeleteRunnerRequest struct {
	ID       int64  `json:"id"`
	ScaleSet string `json:"scale_set,omitempty"` // a runner of that scale set
}

// DeleteRunnerResponse answers DeleteRunnerRequest.
type DeleteRunnerResponse struct{}

// JobRef names a workflow run attempt, as a runner's job hooks record it.
type JobRef struct {
	Repo       string `json:"repo"` // owner/repo
	RunID      int64  `json:"run_id"`
	RunAttempt int64  `json:"run_attempt,omitempty"`
}

// RunnerJobRequest asks which job of Ref's run the calling node's runner
// named Runner ran.
// With ScaleSet set, the answer is what the scale set's message session
// said of the runner's job (Ref is then not needed).
type RunnerJobRequest struct {
	Ref      JobRef `json:"ref"`
	Runner   string `json:"runner"`
	ScaleSet string `json:"scale_set,omitempty"`
}

// Job is a workflow job as GitHub reports it.
type Job struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	Status     string `json:"status"`
	Conclusion string `json:"conclusion,omitempty"`
	RunnerName string `json:"runner_name"`
}

// RunnerJobResponse answers RunnerJobRequest; Found is false when no job of
// the run names the runner.
type RunnerJobResponse struct {
	Found bool `json:"found"`
	Job   Job  `json:"job,omitzero"`
}
