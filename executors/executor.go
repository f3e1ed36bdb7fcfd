// Package executors defines the contract between the runner agent and the
// container engines that run jobs: one isolated environment per job, commands
// executed inside it, and cleanup of everything the fleet created, found by
// label. Engine implementations live in sub-packages (docker, containerd) and
// are all checked by the conformance suite in executortest.
package executors

import (
	"context"
	"errors"
	"io"
	"time"
)

// Labels put on every container, network and volume an executor creates, so
// cleanup is one exact query.
const (
	// LabelManaged marks an object as created by runfleet ("true").
	LabelManaged = "dev.runfleet.managed"
	// LabelJob holds the job's unique ID (see Spec.JobID).
	LabelJob = "dev.runfleet.job"
	// LabelNode holds the node (agent) name that created the object.
	LabelNode = "dev.runfleet.node"
	// LabelRole says what the object is: "job", "service", "network", "volume".
	LabelRole = "dev.runfleet.role"
)

// PullPolicy decides when an image is pulled from its registry.
type PullPolicy string

// Pull policies, with gitlab-runner's names.
const (
	PullAlways       PullPolicy = "always"
	PullIfNotPresent PullPolicy = "if-not-present"
	PullNever        PullPolicy = "never"
)

// Image names an image and how to get it.
type Image struct {
	Name       string
	PullPolicy PullPolicy // empty means PullIfNotPresent
	// Entrypoint overrides the image's entrypoint when non-nil.
	Entrypoint []string
	// Command overrides the image's command when non-nil (services only).
	Command []string
	// Auth holds registry credentials, if any, for the image's registry.
	Auth *RegistryAuth
}

// RegistryAuth is a username/password pair for one registry.
type RegistryAuth struct {
	ServerAddress string
	Username      string
	Password      string
}

// Service is a sidecar container reachable from the job by its aliases on
// the job's private network.
type Service struct {
	Image   Image
	Aliases []string
	Env     []string // KEY=VALUE
}

// Mount binds a host path (or, with Volume set, a named volume that the
// executor creates and removes with the job) into the job container.
type Mount struct {
	Source   string // host path; ignored for Volume mounts
	Target   string // path inside the container
	ReadOnly bool
	// Volume makes this a per-job engine volume, removed on Close.
	Volume bool
}

// Resources are the limits enforced by the engine. Zero means unlimited.
type Resources struct {
	NanoCPUs   int64 // CPU quota in units of 1e-9 CPUs
	Memory     int64 // bytes
	MemorySwap int64 // bytes of memory+swap; -1 unlimited swap; 0 = same as Memory
	PidsLimit  int64
	ShmSize    int64 // bytes
	// DiskSize caps the job's writable space (bytes): the container layer
	// where the storage driver can enforce a size, and the per-job volumes
	// (Mount.Volume) always. Bind-mounted host directories are the
	// caller's to cap. Create writes what it enforced, and what it could
	// not, to Spec.Log: a limit that is not applied is never claimed.
	DiskSize int64
}

// NetworkMode selects the job's network.
type NetworkMode string

const (
	// NetworkPerJob gives each job its own bridge network, shared only with
	// its services (the default).
	NetworkPerJob NetworkMode = ""
	// NetworkNone gives the job a loopback interface only.
	NetworkNone NetworkMode = "none"
)

// Spec describes one job's environment.
type Spec struct {
	// JobID is unique on this node and becomes part of object names and the
	// LabelJob label.
	JobID string
	// Node is this agent's node name (LabelNode).
	Node   string
	Image  Image
	Env    []string // KEY=VALUE, visible to every Exec
	Labels map[string]string
	// WorkDir is the default working directory for Exec.
	WorkDir  string
	Mounts   []Mount
	Services []Service
	Network  NetworkMode
	// ExtraHosts are "name:ip" entries added to /etc/hosts.
	ExtraHosts []string
	Resources  Resources
	Privileged bool
	// ReadOnlyRootfs mounts the container's root filesystem read-only.
	ReadOnlyRootfs bool
	// Runtime names an alternative OCI runtime (e.g. "runsc"); empty = default.
	Runtime string
	// User runs every Exec as this user unless the Step says otherwise.
	User string
	// AllowedImages are allowed_images globs the job's and services'
	// images must match, on top of the executor's own list (runners that
	// share one executor per engine keep their own lists); empty = no
	// further restriction.
	AllowedImages []string
	// Log receives the executor's notes for the job log during Create:
	// the limits applied, those asked for that the engine cannot enforce,
	// and a loud warning for Privileged. Nil discards them.
	Log io.Writer
}

// Step is one command run inside an Env: a shell script given to sh/bash.
type Step struct {
	// Script is passed to the shell with -c (or on stdin) as one string.
	Script string
	// Shell is the argv prefix; defaults to ["sh", "-c"].
	Shell   []string
	Env     []string // KEY=VALUE, added to the Spec's Env
	WorkDir string   // defaults to Spec.WorkDir
	User    string
}

// Result is how a Step ended. A non-zero exit is a Result, not an error.
type Result struct {
	ExitCode int
	// OOMKilled is true when the kernel killed the job for memory.
	OOMKilled bool
	Duration  time.Duration
}

// Env is one job's running environment.
type Env interface {
	// Exec runs the step and streams its stdout and stderr, in order, to out.
	// When ctx is cancelled, the step's processes are killed and Exec returns
	// ctx.Err() (wrapped); the Env stays usable for further steps.
	Exec(ctx context.Context, step Step, out io.Writer) (Result, error)
	// Close removes the job's containers, networks and volumes. Idempotent.
	Close(ctx context.Context) error
}

// Executor creates job environments on one container engine.
type Executor interface {
	// Create pulls images per policy, creates the job's network, starts its
	// services and the job container. On error nothing is left behind.
	Create(ctx context.Context, spec Spec) (Env, error)
	// Reap removes every object labelled for this node (LabelNode) that is
	// not owned by a live Env of this Executor: what a killed agent left.
	Reap(ctx context.Context) error
}

// Typed errors that drive decisions (failure reasons) in the agent.
var (
	// ErrImagePull means the image could not be pulled or was not present
	// under PullNever; the job fails with image_pull_failure.
	ErrImagePull = errors.New("image pull failed")
	// ErrImageNotAllowed means the image is outside allowed_images.
	ErrImageNotAllowed = errors.New("image not allowed")
	// ErrEngine means the container engine failed (not the job).
	ErrEngine = errors.New("container engine error")
	// ErrEnvClosed is returned by Exec (and RunFirst) on an Env that was
	// closed, by every executor.
	ErrEnvClosed = errors.New("environment is closed")
)

// FirstStepCreator is an optional Executor capability, found by type
// assertion: Create for a job whose first command is known up front.
//
// The job container is created (not started) with first as its own
// process; FirstStepEnv.RunFirst starts it, so the first step costs what
// the engine's create+attach+start costs and no exec into an idle
// container. Everything Create guarantees holds for that container too:
// the same image, mounts, network, services, limits, security options,
// metadata guard and disk cap. Steps run with Exec afterwards (after
// scripts, more steps) go to a second container of the same spec, started
// on demand, that shares the job's mounts, volumes, network and services
// but not the first container's root filesystem changes.
//
// spec.Image.Entrypoint must be empty: the step replaces the container's
// command. Callers that need Exec before the first step (hooks) use Create.
type FirstStepCreator interface {
	CreateFirstStep(ctx context.Context, spec Spec, first Step) (FirstStepEnv, error)
}

// FirstStepEnv is an Env whose first step has not run yet.
type FirstStepEnv interface {
	Env
	// RunFirst starts the job container, streams the first step's stdout
	// and stderr, in order, to out, and returns how it ended, like Exec.
	// It runs at most once; a second call returns ErrFirstStepUsed. When
	// ctx is cancelled the container is killed and RunFirst returns
	// ctx.Err() (wrapped); the Env stays usable for Exec. An Env whose
	// RunFirst is never called still runs Exec and closes cleanly.
	RunFirst(ctx context.Context, out io.Writer) (Result, error)
}

// FirstStepPrestarter is an optional FirstStepEnv capability, found by
// type assertion: Prestart starts the job container before its first step
// may run. The step's process waits at a gate, before anything of the
// step runs, until RunFirst (or RunFirstStep) opens it; an Env closed,
// or an agent gone, before that never runs the step. So the engine's
// container start overlaps what the caller must finish first (the
// sources checkout), and RunFirst costs only the gate. Prestart at most once, and let it return
// before calling RunFirst; an error leaves RunFirst to start the
// container itself. Close removes a
// prestarted container whose RunFirst never came.
type FirstStepPrestarter interface {
	Prestart(ctx context.Context) error
}

// Stopper is an optional Env capability, found by type assertion: Stop
// kills every process of the job's containers (the job container, the
// keeper of later steps, the services) and returns once they are gone,
// leaving the containers, network and volumes for Close. An agent that
// removes a finished job off its slot stops it first: no process of a
// job outlives it into the next job of the slot, which may mount the same
// build directory. Exec and RunFirst fail after Stop; Close still cleans
// up. Idempotent.
type Stopper interface {
	Stop(ctx context.Context) error
}

// ErrFirstStepUsed means a first step was asked for once too often: RunFirst
// or RunFirstStep called again, the one called on an Env of the other
// kind, Prestart after them, or Waiting once the step was handed over.
var ErrFirstStepUsed = errors.New("the first step already ran")

// LateFirstStepCreator is an optional Executor capability, found by type
// assertion: CreateFirstStep for a first step that is not known yet, so a
// job container can be made ready before its job arrives (a warm
// container). The container is created and, with Prestart, started with a
// process of the executor's that waits for its step and runs nothing of
// any job until LateFirstStepEnv.RunFirstStep gives it one. Everything
// Create guarantees holds for it, as for CreateFirstStep. spec.Env is the
// container's environment, under each step's; spec.Image.Entrypoint must
// be empty.
type LateFirstStepCreator interface {
	CreateLateFirstStep(ctx context.Context, spec Spec) (LateFirstStepEnv, error)
}

// LateFirstStepEnv is an Env whose job container waits for its first
// step.
type LateFirstStepEnv interface {
	Env
	FirstStepPrestarter
	// Waiting returns nil while the container waits for its step, and an
	// error once it cannot run one (its engine restarted, say): nothing
	// was given to it then, and the caller creates another Env.
	Waiting(ctx context.Context) error
	// RunFirstStep runs step as the job container's own process, as
	// FirstStepEnv.RunFirst runs the step given at creation: in
	// step.WorkDir (or the spec's), with step.Env exported over the
	// container's environment, stdin empty. The step is handed to the
	// container through its stdin, never through a file. It runs at most
	// once (ErrFirstStepUsed). A step the container cannot be given (an
	// environment name sh cannot export, a user other than the spec's) is
	// refused with ErrStepUnfit before anything runs; Exec still can.
	RunFirstStep(ctx context.Context, step Step, out io.Writer) (Result, error)
}

// ErrStepUnfit means a step cannot be handed to a waiting container.
var ErrStepUnfit = errors.New("the step cannot be given to a waiting job container")
