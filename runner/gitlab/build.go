package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/diskcap"
	"github.com/runfleet/runfleet/runner/config"
)

// afterScriptTimeout bounds after_script, which runs even after a timeout
// or a graceful cancel.
const afterScriptTimeout = 5 * time.Minute

// containerBuildsDir is where the slot's build directory appears in the job
// container (CI_BUILDS_DIR).
const containerBuildsDir = "/builds"

// jobReporter is the platform side of one running job: the log, the
// platform's cancel signals, and the single final report.
type jobReporter interface {
	io.Writer
	// Canceling is closed when the platform asks for a graceful cancel.
	Canceling() <-chan struct{}
	// Aborted is closed when the job is gone on the platform: stop now.
	Aborted() <-chan struct{}
	// Finish flushes the log and reports the final state until the
	// platform acknowledges it.
	Finish(ctx context.Context, r FinalResult) error
}

// FinalResult is the final state reported for a job.
type FinalResult struct {
	State         string // success | failed
	FailureReason string
	ExitCode      int
}

// artifactTransport moves artifact archives to and from the platform.
type artifactTransport interface {
	UploadArtifacts(ctx context.Context, jobID int64, jobToken string, a ArtifactUpload) error
	DownloadArtifacts(ctx context.Context, jobID int64, token string, w io.Writer) error
}

// BuildSettings is what a build takes from the runner's configuration.
type BuildSettings struct {
	Node       string
	Runner     config.Runner
	Executor   executors.Executor
	Cache      cacheStore // nil disables caching
	Artifacts  artifactTransport
	Logger     *slog.Logger
	Now        func() time.Time
	VersionTag string
	// SourceStores marks the slots' source stores used; the agent's
	// periodic reaper sweeps them (nil: no marks, runner exec).
	SourceStores *SourceStores
	// Warm keeps a sources helper and a job container created ahead per
	// slot (nil: none, runner exec).
	Warm *Warm
	// LocalSources, when set, is a directory copied in as the job's sources
	// instead of fetching them with git (runner exec).
	LocalSources string
}

// build runs one job payload through an executor.
type build struct {
	s       BuildSettings
	job     *JobResponse
	rep     jobReporter
	slot    int
	vars    []jobVariable
	project string // project path, e.g. group/project
	hostDir string // host directory mounted at /builds
	// buildCap is the size-limited filesystem on hostDir (disk_size).
	buildCap *diskcap.Cap
	env      executors.Env
	pre      *prefetch // sources being fetched while the containers start
	// helpers are sources helpers being removed (gitcheckout.go).
	helpers sync.WaitGroup
	// first is env while its first step (job step firstStep) has not run.
	first     executors.FirstStepEnv
	firstStep int
	// late is env when it is a warm job container (warmjob.go) waiting
	// for job step firstStep; stepEnv, the job's variables, then go with
	// every step.
	late    executors.LateFirstStepEnv
	stepEnv []string
	// spec is the job container's spec, and warmJob whether it can use
	// and leave warm job containers (createEnv).
	spec    executors.Spec
	warmJob bool
	// jobUp is done once the job container's start ahead of its first
	// step returned, or will not happen (build_first.go): the slot's next
	// sources helper is created after it (warm.go).
	jobUp *signal
	// phases are the job's timestamps since hand-out (phases.go).
	phases *jobPhases
	// started, when set, is done once the job's containers are up and
	// its sources in, before its script steps run (runner.Starter).
	started *signal

	exitCode int
}

// stageError is a failed build stage with the reason GitLab should see.
type stageError struct {
	reason   string
	exitCode int
	err      error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func failWith(reason string, err error) error { return &stageError{reason: reason, err: err} }

// run executes the job and reports its final state exactly once. Cancelling
// ctx aborts it (agent shutdown) with runner_system_failure.
func (b *build) run(ctx context.Context) FinalResult {
	now := b.s.Now
	if now == nil {
		now = time.Now
	}
	b.vars = expandVariables(append(runnerVariables(b.s.Runner), b.job.Variables...))
	b.project = b.job.JobInfo.ProjectFullPath
	if b.project == "" {
		b.project = lookup(b.vars, "CI_PROJECT_PATH")
	}
	if b.project == "" {
		b.project = "project-" + strconv.FormatInt(b.job.JobInfo.ProjectID, 10)
	}
	fmt.Fprintf(b.rep, "\x1b[1mRunning with runfleet %s on %s (runner %s)\x1b[0;m\n", b.s.VersionTag, b.s.Node, b.s.Runner.Name)

	timeout := time.Duration(b.job.RunnerInfo.Timeout) * time.Second
	if timeout <= 0 {
		timeout = time.Hour
	}
	// jobCtx ends on timeout, graceful cancel, abort or shutdown.
	jobCtx, cancelJob := context.WithTimeoutCause(ctx, timeout, errJobTimeout)
	defer cancelJob()
	// Set by the watcher goroutine, read after execute: atomics.
	var canceling, aborted atomic.Bool
	stopWatch := make(chan struct{})
	defer close(stopWatch)
	go func() {
		select {
		case <-b.rep.Canceling():
			canceling.Store(true)
			fmt.Fprintln(b.rep, "\n\x1b[33;1mJob cancel requested: stopping the script, then running after_script\x1b[0;m")
			cancelJob()
		case <-b.rep.Aborted():
			aborted.Store(true)
			cancelJob()
		case <-stopWatch:
		}
	}()

	err := b.execute(jobCtx, ctx, now)
	// Which of the cancel causes fired decides the outcome.
	res := FinalResult{State: "success"}
	switch {
	case err == nil:
	case errors.Is(context.Cause(jobCtx), errJobTimeout):
		fmt.Fprintf(b.rep, "\x1b[31;1mERROR: Job failed: execution took longer than %s seconds\x1b[0;m\n", strconv.Itoa(int(timeout.Seconds())))
		res = FinalResult{State: "failed", FailureReason: FailureJobExecutionTimeout}
	case ctx.Err() != nil:
		fmt.Fprintln(b.rep, "\x1b[31;1mERROR: Job failed: the runner is shutting down and the job was aborted\x1b[0;m")
		res = FinalResult{State: "failed", FailureReason: FailureRunnerSystem}
	case canceling.Load() || aborted.Load():
		fmt.Fprintln(b.rep, "\x1b[31;1mERROR: Job failed: canceled\x1b[0;m")
		res = FinalResult{State: "failed", FailureReason: FailureScript}
	default:
		res = FinalResult{State: "failed", FailureReason: FailureUnknown}
		var se *stageError
		if errors.As(err, &se) {
			res.FailureReason = se.reason
			res.ExitCode = se.exitCode
		}
		if res.ExitCode != 0 {
			fmt.Fprintf(b.rep, "\x1b[31;1mERROR: Job failed: exit code %d\x1b[0;m\n", res.ExitCode)
		} else {
			fmt.Fprintf(b.rep, "\x1b[31;1mERROR: Job failed: %v\x1b[0;m\n", err)
		}
	}
	if res.State == "success" {
		fmt.Fprintln(b.rep, "\x1b[32;1mJob succeeded\x1b[0;m")
	}
	res.FailureReason = b.job.Features.FailureReason(res.FailureReason)
	if aborted.Load() {
		// The platform already ended the job; a final update would be
		// refused. The reporter still flushes what it can.
		res.State = "canceled"
	}
	return res
}

var errJobTimeout = errors.New("job execution timeout")

// execute runs the stages. jobCtx bounds the script; shutdownCtx (the
// agent's) bounds after_script and the uploads, which still run after a
// timeout or a graceful cancel.
// The caller removes the job's containers with cleanup once the final state
// is reported: GitLab need not wait for the engine.
func (b *build) execute(jobCtx, shutdownCtx context.Context, now func() time.Time) (err error) {
	if err := b.section(now, "prepare_executor", "Preparing the "+executorName(b.s.Runner.Executor)+" executor", func() error { return b.prepare(jobCtx) }); err != nil {
		b.stopPrefetch()
		return err
	}
	b.phases.mark("containers_created")
	scriptErr := b.runMain(jobCtx, now)
	b.phases.mark("script_done")
	select {
	case <-b.rep.Aborted():
		return scriptErr // the job is gone on GitLab: nothing more to do
	default:
	}
	if shutdownCtx.Err() != nil {
		return scriptErr
	}
	b.afterScript(shutdownCtx, now)
	if jobCtx.Err() != nil && !errors.Is(context.Cause(jobCtx), errJobTimeout) {
		return scriptErr // graceful cancel: no cache or artifacts
	}
	ok := scriptErr == nil
	if len(b.job.Cache) > 0 {
		if err := b.section(now, "archive_cache", "Saving cache", func() error { return b.saveCache(shutdownCtx, ok) }); err != nil {
			fmt.Fprintf(b.rep, "WARNING: saving cache failed: %v\n", err)
		}
	}
	name := "upload_artifacts_on_success"
	if !ok {
		name = "upload_artifacts_on_failure"
	}
	if len(b.job.Artifacts) > 0 {
		if err := b.section(now, name, "Uploading artifacts", func() error { return b.uploadArtifacts(shutdownCtx, ok) }); err != nil && scriptErr == nil {
			return failWith(FailureRunnerSystem, err)
		}
	}
	return scriptErr
}

// runMain fetches sources, restores caches and artifacts, and runs the
// script steps.
func (b *build) runMain(ctx context.Context, now func() time.Time) error {
	if err := b.section(now, "get_sources", "Getting source from Git repository", func() error { return b.getSources(ctx) }); err != nil {
		return err
	}
	b.phases.mark("sources_ready")
	if len(b.job.Cache) > 0 {
		if err := b.section(now, "restore_cache", "Restoring cache", func() error { return b.restoreCache(ctx) }); err != nil {
			fmt.Fprintf(b.rep, "WARNING: restoring cache failed: %v\n", err)
		}
	}
	if len(b.job.Dependencies) > 0 {
		if err := b.section(now, "download_artifacts", "Downloading artifacts", func() error { return b.downloadArtifacts(ctx) }); err != nil {
			return failWith(FailureRunnerSystem, err)
		}
	}
	b.started.done()
	failed := false
	var firstErr error
	for i, st := range b.job.Steps {
		if st.Name == "after_script" {
			continue
		}
		if !whenMatches(st.When, failed) {
			continue
		}
		name := "step_" + st.Name
		err := b.section(now, name, "Executing \""+name+"\" stage of the job script", func() error {
			return b.runStepAt(ctx, i, st)
		})
		if err != nil {
			if st.AllowFailure && ctx.Err() == nil {
				fmt.Fprintf(b.rep, "WARNING: step %s failed but is allowed to fail: %v\n", st.Name, err)
				continue
			}
			failed = true
			if firstErr == nil {
				firstErr = err
			}
			if ctx.Err() != nil {
				break
			}
		}
	}
	return firstErr
}

func whenMatches(when string, failed bool) bool {
	switch when {
	case "always":
		return true
	case "on_failure":
		return failed
	default:
		return !failed
	}
}

// runStep runs one hook's script in the job container.
func (b *build) runStep(ctx context.Context, st Step) error {
	return b.runStepAt(ctx, -1, st)
}

// runStepAt runs job step i (-1: not a job step) in the job container.
func (b *build) runStepAt(ctx context.Context, i int, st Step) error {
	ctx, cancel := stepContext(ctx, st.Timeout)
	defer cancel()
	res, err := b.execStep(ctx, i, st)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return failWith(FailureRunnerSystem, err)
	}
	b.exitCode = res.ExitCode
	if res.OOMKilled {
		fmt.Fprintln(b.rep, "\x1b[31;1mERROR: the job ran out of memory and was killed (OOM); raise [runners.docker] memory or reduce the job's footprint\x1b[0;m")
	}
	if res.ExitCode != 0 {
		return &stageError{reason: FailureScript, exitCode: res.ExitCode, err: fmt.Errorf("script exited with %d", res.ExitCode)}
	}
	return nil
}

func stepContext(ctx context.Context, seconds int) (context.Context, context.CancelFunc) {
	if seconds > 0 {
		return context.WithTimeout(ctx, time.Duration(seconds)*time.Second)
	}
	return context.WithCancel(ctx)
}

// afterScript runs the after_script step; its failure never fails the job.
func (b *build) afterScript(ctx context.Context, now func() time.Time) {
	for _, st := range b.job.Steps {
		if st.Name != "after_script" || len(st.Script) == 0 {
			continue
		}
		_ = b.section(now, "after_script", "Running after_script", func() error {
			actx, cancel := context.WithTimeout(ctx, afterScriptTimeout)
			defer cancel()
			res, err := b.env.Exec(actx, b.stepOf(st), b.rep)
			if err != nil {
				fmt.Fprintf(b.rep, "WARNING: after_script failed: %v\n", err)
			} else if res.ExitCode != 0 {
				fmt.Fprintf(b.rep, "WARNING: after_script failed with exit code %d\n", res.ExitCode)
			}
			return nil
		})
	}
}

// section wraps fn in GitLab's collapsible log section markers.
func (b *build) section(now func() time.Time, name, header string, fn func() error) error {
	io.WriteString(b.rep, sectionStart(now().Unix(), name, header))
	err := fn()
	io.WriteString(b.rep, sectionEnd(now().Unix(), name))
	return err
}

// projectDir is CI_PROJECT_DIR inside the container.
func (b *build) projectDir() string {
	return path.Join(containerBuildsDir, b.project)
}

// hostProjectDir is the project directory on the host.
func (b *build) hostProjectDir() string {
	return filepath.Join(b.hostDir, filepath.FromSlash(b.project))
}

// cleanup removes the job's containers, network and volumes, its file
// variables, and the sources unless GIT_STRATEGY=fetch keeps them for the
// next job of the slot. It runs after the final report, so it logs nothing
// to the job log.
func (b *build) cleanup(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	err := b.cleanupEngine(cctx)
	if b.buildCap != nil {
		// The capped build directory goes with the job, sources included;
		// its unmount needs the containers gone.
		if cerr := b.buildCap.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("unmount the capped build directory: %w", cerr))
		}
		return err
	}
	return errors.Join(err, b.cleanupFiles())
}

// engineCleanupLater reports whether the engine part of the cleanup may
// run after the job's slot is reused (cleanupEngine): not when the build
// directory is a size-capped filesystem, whose unmount needs the
// containers gone and which the slot's next job mounts again.
func (b *build) engineCleanupLater() bool { return b.buildCap == nil }

// stopProcesses kills every process of the job's containers
// (executors.Stopper) once the start ahead of its first step returned, so
// none outlives the job into the slot's next job, which mounts the same
// build directory; their removal is left to cleanupEngine. An Env that
// cannot stop is an error: the caller then removes it on the slot.
func (b *build) stopProcesses(ctx context.Context) error {
	b.waitPrestart()
	if b.env == nil {
		return nil
	}
	st, ok := b.env.(executors.Stopper)
	if !ok {
		return fmt.Errorf("%T cannot stop the job's processes ahead of its removal", b.env)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := st.Stop(cctx); err != nil {
		return fmt.Errorf("stop the job's processes: %w", err)
	}
	return nil
}

// cleanupFiles removes what the next job of the slot must not find in the
// slot's build directory: the job's file variables and temporary files
// (<project>.tmp) and its sources unless GIT_STRATEGY=fetch keeps them.
// The job's processes are stopped first (stopProcesses): none writes
// there any more while the slot's next job runs.
func (b *build) cleanupFiles() error {
	if b.hostDir == "" {
		return nil
	}
	// Emptied, not removed: the slot's warm job container mounts them
	// (warmjob.go).
	var errs []error
	if err := emptyDir(b.hostProjectDir()+".tmp", false); err != nil {
		errs = append(errs, err)
	}
	if strategy(b.vars) != gitFetch {
		if err := emptyDir(b.hostProjectDir(), false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// cleanupEngine removes the job's containers, network and volumes once
// its sources helpers and the prestart of its first step are done, until
// ctx ends: the agent's cleanup timeout off the slot (remoteJob.Cleanup),
// a minute on it (cleanup). Callers detach ctx from the job's abort.
func (b *build) cleanupEngine(ctx context.Context) error {
	b.helpers.Wait()
	b.waitPrestart()
	if b.env == nil {
		return nil
	}
	if err := b.env.Close(ctx); err != nil {
		return fmt.Errorf("remove job containers: %w", err)
	}
	return nil
}

func strategy(vars []jobVariable) gitStrategy {
	switch s := gitStrategy(strings.ToLower(lookup(vars, "GIT_STRATEGY"))); s {
	case gitClone, gitNone:
		return s
	}
	return gitFetch
}
