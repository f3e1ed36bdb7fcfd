package github

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// Paths and variables inside runner containers; the runner image
// (images/github-runner) provides the hook scripts.
const (
	// ToolCachePath is where the shared tool cache is mounted
	// (RUNNER_TOOL_CACHE).
	ToolCachePath = "/opt/hostedtoolcache"
	// StatePath is where the per-runner state directory is mounted; the
	// job hooks append their events to StatePath/events.
	StatePath = "/runfleet/state"
	// HookJobStarted and HookJobCompleted are the image's hook scripts,
	// wired through ACTIONS_RUNNER_HOOK_JOB_STARTED/COMPLETED.
	HookJobStarted   = "/opt/runfleet/hooks/job-started.sh"
	HookJobCompleted = "/opt/runfleet/hooks/job-completed.sh"
	// DefaultRunnerImage is the image built from images/github-runner.
	DefaultRunnerImage = "runfleet/github-runner:latest"
	// DefaultRunnerCommand starts the official runner; it reads its JIT
	// config from ACTIONS_RUNNER_INPUT_JITCONFIG.
	DefaultRunnerCommand = "exec /home/runner/run.sh"
	// LabelRunner is the container label holding the runner's name.
	LabelRunner = "dev.runfleet.github-runner"
)

// RunnerLauncher starts one GitHub Actions runner per call in a fresh
// container of Executor, given nothing but an encoded JIT config: the
// config is the runner's only secret (ACTIONS_RUNNER_INPUT_JITCONFIG), no
// platform credential ever enters the container. The container gets the
// slot's Resources, the shared tool cache at ToolCachePath
// (RUNNER_TOOL_CACHE, read-only for jobs by default), a private state directory at StatePath, and the
// job hooks (ACTIONS_RUNNER_HOOK_JOB_STARTED/COMPLETED) that record when
// the runner's one job starts and ends. The JIT config may come from the
// REST API (label mode, Source) or from a runner scale set: the launcher
// does not care. A RunnerLauncher is safe for concurrent use.
type RunnerLauncher struct {
	// Executor creates the container. Required.
	Executor executors.Executor
	// Node is this agent's node name (executors.LabelNode). Required.
	Node string
	// Image is the runner image (DefaultRunnerImage when empty), pulled
	// per PullPolicy.
	Image      string
	PullPolicy executors.PullPolicy
	// Command is the shell command that runs the runner in the container
	// (DefaultRunnerCommand when empty); it runs with sh -c.
	Command string
	// User runs the runner as this user ("" = the image's user).
	User      string
	Resources executors.Resources
	// ToolCacheDir is the host directory shared by all runners as their
	// tool cache; empty means no shared tool cache. Jobs read it and
	// cannot change it unless ToolCacheWritable (toolCacheMounts).
	ToolCacheDir string
	// ToolCacheWritable lets jobs install tools into the shared cache for
	// the runners after them: for runners of one trusted repository.
	ToolCacheWritable bool
	// StateDir is a host directory under which each runner gets its own
	// state directory (the hook events). Required.
	StateDir string
	// Env holds extra KEY=VALUE pairs for the runner (never credentials).
	Env []string
	// Output receives the runner's own output; nil discards it.
	Output func(name string) io.Writer
	Logger *slog.Logger
}

// LaunchedRunner is one runner container. Its runner process runs until
// it exits on its own (after its one job, or when its registration is
// deleted) or Close kills it.
type LaunchedRunner struct {
	name     string
	env      executors.Env
	stateDir string
	cancel   context.CancelFunc
	done     chan struct{}
	result   executors.Result
	err      error
	closeMu  sync.Mutex
	closed   bool
	closeErr error
	watch    *refusalWatch // GitHub's refusal of an outdated runner (outdated.go)
}

var containerName = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// Launch creates the container and starts the runner in it. name is the
// runner's registration name (it names the container too). On error
// nothing is left behind.
func (l *RunnerLauncher) Launch(ctx context.Context, name, jitConfig string) (*LaunchedRunner, error) {
	if l.Executor == nil || l.Node == "" || l.StateDir == "" {
		return nil, errors.New("github: RunnerLauncher needs Executor, Node and StateDir")
	}
	if jitConfig == "" {
		return nil, errors.New("github: empty JIT config")
	}
	id := strings.Trim(containerName.ReplaceAllString(name, "-"), "-.")
	state := filepath.Join(l.StateDir, id)
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, fmt.Errorf("github: runner state dir: %w", err)
	}
	// The runner runs as an unprivileged user of the image.
	if err := os.Chmod(state, 0o777); err != nil {
		os.RemoveAll(state)
		return nil, fmt.Errorf("github: runner state dir: %w", err)
	}
	image := l.ImageName()
	env := append([]string{
		"ACTIONS_RUNNER_INPUT_JITCONFIG=" + jitConfig,
		"ACTIONS_RUNNER_HOOK_JOB_STARTED=" + HookJobStarted,
		"ACTIONS_RUNNER_HOOK_JOB_COMPLETED=" + HookJobCompleted,
		"RUNFLEET_STATE_DIR=" + StatePath,
		"RUNFLEET_RUNNER_NAME=" + name,
	}, l.Env...)
	mounts := []executors.Mount{{Source: state, Target: StatePath}}
	if l.ToolCacheDir != "" {
		tc, err := toolCacheMounts(l.ToolCacheDir, filepath.Join(state, "toolcache"), l.ToolCacheWritable)
		if err != nil {
			os.RemoveAll(state)
			return nil, err
		}
		env = append(env, "RUNNER_TOOL_CACHE="+ToolCachePath, "AGENT_TOOLSDIRECTORY="+ToolCachePath)
		mounts = append(mounts, tc...)
	}
	spec := executors.Spec{
		JobID: id, Node: l.Node,
		Image:     executors.Image{Name: image, PullPolicy: l.PullPolicy},
		Env:       env,
		Labels:    map[string]string{LabelRunner: name},
		Mounts:    mounts,
		Resources: l.Resources,
		User:      l.User,
	}
	xenv, err := l.Executor.Create(ctx, spec)
	if err != nil {
		os.RemoveAll(state)
		return nil, fmt.Errorf("github: runner container: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	out := io.Discard
	if l.Output != nil {
		out = l.Output(name)
	}
	watch := &refusalWatch{out: out}
	out = watch
	r := &LaunchedRunner{name: name, env: xenv, stateDir: state, cancel: cancel, done: make(chan struct{}), watch: watch}
	cmd := l.Command
	if cmd == "" {
		cmd = DefaultRunnerCommand
	}
	go func() {
		defer close(r.done)
		r.result, r.err = xenv.Exec(runCtx, executors.Step{Script: cmd}, out)
	}()
	return r, nil
}

// Name is the runner's registration name.
func (r *LaunchedRunner) Name() string { return r.name }

// Done is closed when the runner process has exited.
func (r *LaunchedRunner) Done() <-chan struct{} { return r.done }

// Result is how the runner process ended; valid once Done is closed.
func (r *LaunchedRunner) Result() (executors.Result, error) {
	<-r.done
	return r.result, r.err
}

// Refused is the runner version GitHub refused as outdated, when the
// runner printed GitHub's refusal ("Runner version vX is deprecated and
// cannot receive messages."); "" otherwise. Valid once Done is closed.
func (r *LaunchedRunner) Refused() string {
	<-r.done
	return r.watch.refused()
}

// Events are the job hook events the runner recorded so far.
type Events struct {
	JobStarted   time.Time // zero until the job-started hook ran
	JobCompleted time.Time
	// Job is the run the job belongs to, as the hooks saw it
	// (GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT); zero when the
	// hooks did not record it.
	Job JobRef
}

// Events reads the hook events ("started <unix>" / "completed <unix>"
// lines, seconds with a fraction, then optional repo=OWNER/REPO
// run_id=N run_attempt=N fields) from the runner's state directory.
func (r *LaunchedRunner) Events() Events {
	var ev Events
	f, err := os.Open(filepath.Join(r.stateDir, "events"))
	if err != nil {
		return ev
	}
	defer f.Close()
	s := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 {
			continue
		}
		kind, ts := fields[0], fields[1]
		parseJobRef(&ev.Job, fields[2:])
		sec, err := strconv.ParseFloat(ts, 64)
		if err != nil {
			continue
		}
		t := time.Unix(0, int64(sec*1e9))
		switch kind {
		case "started":
			ev.JobStarted = t
		case "completed":
			ev.JobCompleted = t
		}
	}
	return ev
}

// Close kills the runner if it still runs and removes its container and
// state. Idempotent.
func (r *LaunchedRunner) Close(ctx context.Context) error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	if r.closed {
		return r.closeErr
	}
	r.closed = true
	err := r.env.Close(ctx) // kills the runner process with its container
	r.cancel()
	<-r.done
	os.RemoveAll(r.stateDir)
	r.closeErr = err
	return err
}

// parseJobRef fills ref from a hook line's key=value fields.
func parseJobRef(ref *JobRef, fields []string) {
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "repo":
			if v != "" {
				ref.Repo = v
			}
		case "run_id":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				ref.RunID = n
			}
		case "run_attempt":
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				ref.RunAttempt = n
			}
		}
	}
}

// ImageName is the runner image the launcher starts (DefaultRunnerImage
// when Image is empty).
func (l *RunnerLauncher) ImageName() string {
	if l.Image == "" {
		return DefaultRunnerImage
	}
	return l.Image
}
