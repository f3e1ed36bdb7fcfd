package gitlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runfleet/runfleet/executors"
)

// DefaultHelperImage runs the checkout half of fetching sources when
// [runners.docker] helper_image is not set (images/git-helper).
const DefaultHelperImage = "runfleet/git-helper:latest"

// helperStoreDir is where the helper container sees the source store.
const helperStoreDir = "/runfleet/store"

// helperParamsMount is where the helper container sees its parameter
// directory (helperParams), read-only.
const helperParamsMount = "/runfleet/params"

// helperJob is one checkout in the helper container.
type helperJob struct {
	Remote     string // origin's URL in the project's .git/config, no credentials
	Sha        string
	Clone      bool // empty the project directory first (GIT_STRATEGY=clone)
	Checkout   bool
	CleanFlags []string
	Out        io.Writer
}

// helperScript runs in the helper container, in the project directory.
// It reads the checkout's parameters from its parameter directory, which
// the agent writes just before the script runs (a warm helper is created
// before its job is known). Whatever an earlier job left in .git is
// distrusted: .git that is not a
// plain directory, or holds anything but directories and regular files
// (links, fifos), is removed; hooks, submodule and worktree state,
// alternates, attributes and stale lock files are removed; the config is
// written afresh.
// The environment's GIT_CONFIG_* entries outrank the repository config
// anyway. A fetch that still fails starts from an empty .git once.
const helperScript = `set -eu
set -f
say() { printf 'runfleet sources: %s\n' "$*"; }
p=` + helperParamsMount + `
IFS= read -r RF_REMOTE <"$p/remote"
IFS= read -r RF_SHA <"$p/sha"
IFS= read -r RF_CLONE <"$p/clone"
IFS= read -r RF_CHECKOUT <"$p/checkout"
IFS= read -r RF_CLEAN <"$p/clean"
if [ "$RF_CLONE" = 1 ]; then
  find . -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
fi
if [ -L .git ] || { [ -e .git ] && [ ! -d .git ]; }; then
  say ".git is not a directory: starting over"
  rm -rf .git
elif [ -d .git ] && [ -n "$(find .git ! -type d ! -type f | head -n 1)" ]; then
  say ".git holds links or special files: starting over"
  rm -rf .git
fi
prepare() {
  mkdir -p .git
  # A slot runs one job at a time and the last helper is gone: any lock
  # file is stale (a helper killed with its agent, or a job's plant).
  find .git -name '*.lock' -type f -exec rm -f -- {} +
  rm -rf .git/hooks .git/modules .git/worktrees .git/commondir .git/config.worktree \
    .git/info/attributes .git/info/grafts .git/objects/info/alternates .git/objects/info/http-alternates \
    .git/config .git/FETCH_HEAD
  printf '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = false\n[remote "origin"]\n\turl = %s\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n' "$RF_REMOTE" > .git/config
  git init -q
}
fetch() {
  git fetch -q --prune --update-head-ok --update-shallow --no-write-fetch-head "$RF_STORE" '+refs/*:refs/*'
}
prepare
if ! fetch; then
  say "the project's .git is unusable: starting over"
  rm -rf .git
  prepare
  fetch
fi
if [ "$RF_CHECKOUT" = 1 ]; then
  git checkout -f -q "$RF_SHA"
  if [ "$RF_CLEAN" != none ]; then
    git clean $RF_CLEAN
  fi
fi
`

// helperGitConfig outranks any repository config in the helper: hooks,
// fsmonitor, pagers, editors, credential helpers and every protocol but
// local paths (the store) are off.
var helperGitConfig = [][2]string{
	{"core.hooksPath", "/dev/null"},
	{"core.fsmonitor", "false"},
	{"core.sshCommand", "false"},
	{"core.pager", "cat"},
	{"core.editor", "false"},
	{"core.askPass", ""},
	{"credential.helper", ""},
	{"protocol.allow", "never"},
	{"protocol.file.allow", "always"},
	{"submodule.recurse", "false"},
	{"safe.directory", "*"},
	{"advice.detachedHead", "false"},
	{"init.templateDir", ""},
}

// helperParams are the files of a checkout's parameter directory, which
// helperScript reads: one line each.
func helperParams(h helperJob) map[string]string {
	clean := strings.Join(h.CleanFlags, " ")
	if clean == "" {
		clean = "-ffdx"
	}
	return map[string]string{
		"remote": h.Remote, "sha": h.Sha, "clone": boolFlag(h.Clone), "checkout": boolFlag(h.Checkout), "clean": clean,
	}
}

// writeHelperParams writes h's parameters into dir, for the helper's
// script to read. A value holding a line break is refused: the script
// reads one line.
func writeHelperParams(dir string, h helperJob) error {
	for name, v := range helperParams(h) {
		if strings.ContainsAny(v, "\n\r") {
			return fmt.Errorf("sources helper parameter %s holds a line break", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			return fmt.Errorf("write the sources helper's parameters: %w", err)
		}
	}
	return nil
}

// helperEnv is the helper step's environment: the same for every
// checkout of the project directory dir (the checkout's own parameters
// are files, helperParams).
func helperEnv(dir string) []string {
	env := []string{
		"HOME=/root",
		"LC_ALL=C",
		"GIT_DIR=" + dir + "/.git",
		"GIT_WORK_TREE=" + dir,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ATTR_NOSYSTEM=1",
		"RF_STORE=" + helperStoreDir,
		"GIT_CONFIG_COUNT=" + strconv.Itoa(len(helperGitConfig)),
	}
	for i, kv := range helperGitConfig {
		env = append(env, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	return env
}

func boolFlag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// buildHelper runs a build's helper container on the build's executor.
type buildHelper struct {
	b     *build
	store string // host path of the store
}

// helperSpec is the helper container: the helper image, the project
// directory and the store (read-only) as its only mounts, no network, the
// job's limits, and no variable of the job or the agent.
func (b *build) helperSpec(store string) executors.Spec {
	r := b.s.Runner
	name := r.Docker.HelperImage
	if name == "" {
		name = DefaultHelperImage
	}
	pull := executors.PullIfNotPresent
	if r.Docker.PullPolicy == string(executors.PullNever) {
		pull = executors.PullNever
	}
	return executors.Spec{
		JobID: fmt.Sprintf("%d-src-%s", b.job.ID, randomSuffix()),
		Node:  b.s.Node,
		Image: executors.Image{Name: name, PullPolicy: pull},
		// The runner's allowed_images are for job images: the helper is
		// the agent's and allowed by name.
		AllowedImages: []string{name},
		Labels: map[string]string{
			"dev.runfleet.platform":   "gitlab",
			"dev.runfleet.runner":     r.Name,
			"dev.runfleet.gitlab.job": strconv.FormatInt(b.job.ID, 10),
			"dev.runfleet.project":    strconv.FormatInt(b.job.JobInfo.ProjectID, 10),
			"dev.runfleet.sources":    "true",
		},
		WorkDir: b.projectDir(),
		Mounts: []executors.Mount{
			{Source: b.hostProjectDir(), Target: b.projectDir()},
			{Source: store, Target: helperStoreDir, ReadOnly: true},
		},
		Network: executors.NetworkNone,
		Runtime: r.Docker.Runtime,
		Resources: executors.Resources{
			NanoCPUs:  r.Docker.NanoCPUs,
			Memory:    r.Docker.Memory,
			PidsLimit: r.Docker.PidsLimit,
		},
	}
}

func (h buildHelper) prepareHelper(ctx context.Context, j helperJob) (helperContainer, error) {
	b := h.b
	spec := b.helperSpec(h.store)
	c, ok := b.s.Warm.helperSlots().take(ctx, b.slot, specKey(spec), bindSources(spec)...) // warm.go
	if ok {
		c.warm = true
		b.phases.mark("helper_warm")
	} else {
		var err error
		if c, err = b.createHelper(ctx, spec); err != nil {
			return nil, err
		}
	}
	c.job, c.wg = j, &b.helpers
	c.fresh = func(ctx context.Context) (*helperEnvRun, error) { return b.createHelper(ctx, spec) }
	return c, nil
}

// createHelper creates a helper container of spec with a parameter
// directory of its own: with the first-step capability its checkout is
// the container's own process, started at once and held at the gate
// until run (no exec into an idle container).
func (b *build) createHelper(ctx context.Context, spec executors.Spec) (*helperEnvRun, error) {
	root := helperParamsRoot(b.s.Runner)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create the sources helpers' parameter directory: %w", err)
	}
	params, err := os.MkdirTemp(root, "p")
	if err != nil {
		return nil, fmt.Errorf("create the sources helper's parameter directory: %w", err)
	}
	if err := os.Chmod(params, 0o755); err != nil {
		_ = os.RemoveAll(params)
		return nil, err
	}
	spec.Mounts = append(slices.Clone(spec.Mounts), executors.Mount{Source: params, Target: helperParamsMount, ReadOnly: true})
	step := executors.Step{
		Script:  helperScript,
		Shell:   []string{"/bin/sh", "-c"},
		Env:     helperEnv(spec.WorkDir),
		WorkDir: spec.WorkDir,
		User:    "0",
	}
	c := &helperEnvRun{step: step, params: params, log: b.s.Logger}
	if fs, ok := b.s.Executor.(executors.FirstStepCreator); ok {
		c.first, err = fs.CreateFirstStep(ctx, spec, step)
		c.env = c.first
		// Started while the store fetches, the checkout held at the
		// gate until run: the store is read-only to it either way.
		if p, ok := c.first.(executors.FirstStepPrestarter); ok && err == nil {
			if perr := p.Prestart(ctx); perr != nil && ctx.Err() == nil && b.s.Logger != nil {
				b.s.Logger.WarnContext(ctx, "starting the sources helper ahead failed", "job", b.job.ID, "err", perr)
			}
		}
	} else {
		c.env, err = b.s.Executor.Create(ctx, spec)
	}
	if err != nil {
		_ = os.RemoveAll(params)
		return nil, fmt.Errorf("start the sources helper (%s): %w", spec.Image.Name, err)
	}
	return c, nil
}

// refillHelper has the slot's next sources helper created ahead, for this
// job's project (warm.go), once this job's checkout is done. Only a
// fetch keeps the project directory and the store for the next job; a
// size-capped build directory is the job's own.
func (b *build) refillHelper(store string) {
	if b.s.Warm == nil || strategy(b.vars) != gitFetch || b.s.Runner.Docker.DiskSize > 0 {
		return
	}
	if _, ok := b.s.Executor.(executors.FirstStepCreator); !ok {
		return
	}
	spec := warmSpec(b.helperSpec(store), "helper")
	b.s.Warm.helperSlots().refill(b.slot, specKey(spec), bindSources(spec), b.jobUp.wait(),
		func(ctx context.Context) (*helperEnvRun, error) { return b.createHelper(ctx, spec) })
}

// helperEnvRun is a created helper container.
type helperEnvRun struct {
	env    executors.Env
	first  executors.FirstStepEnv // nil without the first-step capability
	step   executors.Step
	params string // host path of its parameter directory
	log    *slog.Logger

	// Set when a job takes it (prepareHelper).
	job helperJob
	wg  *sync.WaitGroup // the build's cleanup waits for the removal
	// fresh creates a new helper for the job when a warm one cannot run.
	fresh func(ctx context.Context) (*helperEnvRun, error)
	warm  bool
}

// run writes the job's parameters and runs the checkout. A warm helper
// that fails to run (its container gone with a restarted engine, say) is
// replaced by a fresh one once: the checkout starts over.
func (c *helperEnvRun) run(ctx context.Context) (executors.Result, error) {
	res, err := c.runOnce(ctx)
	if err == nil || !c.warm || c.fresh == nil || ctx.Err() != nil {
		return res, err
	}
	if c.log != nil {
		c.log.WarnContext(ctx, "the warm sources helper failed: checking out in a fresh one", "err", err)
	}
	fresh, ferr := c.fresh(ctx)
	if ferr != nil {
		return res, errors.Join(err, ferr)
	}
	old := *c
	c.wg.Go(old.remove)
	c.env, c.first, c.params, c.warm = fresh.env, fresh.first, fresh.params, false
	return c.runOnce(ctx)
}

func (c *helperEnvRun) runOnce(ctx context.Context) (executors.Result, error) {
	if err := writeHelperParams(c.params, c.job); err != nil {
		return executors.Result{}, err
	}
	if c.first != nil {
		res, err := c.first.RunFirst(ctx, c.job.Out)
		if !errors.Is(err, executors.ErrFirstStepUsed) {
			return res, err
		}
	}
	return c.env.Exec(ctx, c.step, c.job.Out)
}

// release removes the helper in the background: the job need not wait
// for the engine; the build's cleanup does.
func (c *helperEnvRun) release() {
	c.wg.Go(c.remove)
}

// remove removes the helper's container and parameter directory.
func (c *helperEnvRun) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.env.Close(ctx); err != nil && c.log != nil {
		c.log.Warn("remove the sources helper", "err", err)
	}
	if err := os.RemoveAll(c.params); err != nil && c.log != nil {
		c.log.Warn("remove the sources helper's parameter directory", "err", err)
	}
}
