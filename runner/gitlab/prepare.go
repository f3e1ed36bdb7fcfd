package gitlab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"github.com/runfleet/runfleet/executors"
)

// prepare creates the build directory, writes file variables and starts the
// job's containers.
func (b *build) prepare(ctx context.Context) error {
	r := b.s.Runner
	b.hostDir = filepath.Join(r.BuildsDir, r.ShortToken(), strconv.Itoa(b.slot))
	if err := os.MkdirAll(r.BuildsDir, 0o700); err != nil {
		return failWith(FailureRunnerConfiguration, fmt.Errorf("builds_dir: %w", err))
	}
	if err := os.MkdirAll(b.hostDir, 0o755); err != nil {
		return failWith(FailureRunnerSystem, fmt.Errorf("create build directory: %w", err))
	}
	if r.Docker.DiskSize > 0 {
		b.capBuildDir(ctx, r.Docker.DiskSize)
	}
	if err := os.MkdirAll(b.hostProjectDir(), 0o755); err != nil {
		return failWith(FailureRunnerSystem, fmt.Errorf("create project directory: %w", err))
	}
	env, err := b.environment()
	if err != nil {
		return failWith(FailureRunnerSystem, err)
	}
	img := executors.Image{Name: r.Docker.Image, PullPolicy: executors.PullPolicy(r.Docker.PullPolicy)}
	if b.job.Image != nil && b.job.Image.Name != "" {
		img.Name = b.job.Image.Name
		img.Entrypoint = b.job.Image.Entrypoint
		if len(b.job.Image.PullPolicy) > 0 {
			img.PullPolicy = executors.PullPolicy(b.job.Image.PullPolicy[0])
		}
	}
	img.Auth = b.registryAuth(img.Name)
	fmt.Fprintf(b.rep, "Using %s executor with image %s ...\n", executorName(r.Executor), img.Name)
	spec := executors.Spec{
		// Engine object names must be unique on the engine, which several
		// agents (and runners) may share: the GitLab job id plus a random part.
		JobID:   fmt.Sprintf("%d-%s", b.job.ID, randomSuffix()),
		Node:    b.s.Node,
		Image:   img,
		Env:     env,
		WorkDir: b.projectDir(),
		Labels: map[string]string{
			"dev.runfleet.platform":   "gitlab",
			"dev.runfleet.runner":     r.Name,
			"dev.runfleet.gitlab.job": strconv.FormatInt(b.job.ID, 10),
			"dev.runfleet.project":    strconv.FormatInt(b.job.JobInfo.ProjectID, 10),
		},
		Mounts:         b.jobMounts(),
		Network:        executors.NetworkMode(r.Docker.NetworkMode),
		ExtraHosts:     r.Docker.ExtraHosts,
		Privileged:     r.Docker.Privileged,
		ReadOnlyRootfs: r.Docker.ReadOnly,
		Runtime:        r.Docker.Runtime,
		User:           r.Docker.User,
		Resources: executors.Resources{
			NanoCPUs:   r.Docker.NanoCPUs,
			Memory:     r.Docker.Memory,
			MemorySwap: r.Docker.MemorySwap,
			PidsLimit:  r.Docker.PidsLimit,
			ShmSize:    r.Docker.ShmSize,
			DiskSize:   r.Docker.DiskSize,
		},
		Log: b.rep,
	}
	if r.Docker.Privileged {
		fmt.Fprintln(b.rep, "\x1b[33;1mWARNING: this runner runs jobs PRIVILEGED: a job can take over the node\x1b[0;m")
	}
	for _, v := range r.Docker.Volumes {
		spec.Mounts = append(spec.Mounts, volumeMount(v))
	}
	for _, svc := range b.job.Services {
		s := executors.Service{
			Image:   executors.Image{Name: svc.Name, Entrypoint: svc.Entrypoint, Command: svc.Command, PullPolicy: img.PullPolicy},
			Aliases: serviceAliases(svc),
			Env:     env,
		}
		s.Image.Auth = b.registryAuth(svc.Name)
		fmt.Fprintf(b.rep, "Starting service %s as %s ...\n", svc.Name, strings.Join(s.Aliases, ", "))
		spec.Services = append(spec.Services, s)
	}
	b.jobUp = newSignal()
	b.startPrefetch(ctx)
	e, err := b.createEnv(ctx, spec)
	if err != nil {
		b.jobUp.done()
	}
	switch {
	case err == nil:
		b.env = e
		b.prestartFirst(ctx)
		return nil
	case errors.Is(err, executors.ErrImagePull):
		return failWith(FailureImagePull, err)
	case errors.Is(err, executors.ErrImageNotAllowed):
		return failWith(FailureRunnerConfiguration, err)
	}
	return failWith(FailureRunnerSystem, err)
}

// randomSuffix returns 8 random hex digits.
func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// volumeMount turns a [runners.docker] volumes entry into a mount.
func volumeMount(v string) executors.Mount {
	parts := strings.Split(v, ":")
	if len(parts) == 1 {
		return executors.Mount{Target: parts[0], Volume: true}
	}
	return executors.Mount{Source: parts[0], Target: parts[1], ReadOnly: len(parts) == 3 && parts[2] == "ro"}
}

// serviceAliases are the names a service answers to: its alias list, or
// names derived from the image as GitLab does (registry/group/img:tag →
// registry__group__img and registry-group-img).
func serviceAliases(svc Image) []string {
	if out := svc.Aliases(); len(out) > 0 {
		return out
	}
	name := svc.Name
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	if i := strings.Index(name, "@"); i >= 0 {
		name = name[:i]
	}
	return []string{strings.ReplaceAll(name, "/", "__"), strings.ReplaceAll(name, "/", "-")}
}

// registryAuth finds the job's registry credentials for an image.
func (b *build) registryAuth(image string) *executors.RegistryAuth {
	host := "docker.io"
	if i := strings.IndexByte(image, '/'); i > 0 && strings.ContainsAny(image[:i], ".:") {
		host = image[:i]
	}
	for _, c := range b.job.Credentials {
		if c.Type == "registry" && (c.URL == host || strings.TrimPrefix(strings.TrimPrefix(c.URL, "https://"), "http://") == host) {
			return &executors.RegistryAuth{ServerAddress: c.URL, Username: c.Username, Password: c.Password}
		}
	}
	return nil
}

// environment builds the job's environment: the runner's environment
// entries, the job's variables (file variables written to files), and the
// directories the runner decides.
func (b *build) environment() ([]string, error) {
	tmp := b.hostProjectDir() + ".tmp"
	// An empty directory: whatever an earlier job left there (a link to a
	// host file, say) is gone before the agent writes into it. The
	// directory itself stays: a warm job container mounts it (warmjob.go).
	if err := emptyDir(tmp, true); err != nil {
		return nil, fmt.Errorf("empty the file variable directory: %w", err)
	}
	// The runner's environment entries are among b.vars (runnerVariables).
	var env []string
	for _, v := range b.vars {
		val := v.Value
		if v.File {
			name := path.Base(v.Key)
			if err := writeNew(filepath.Join(tmp, name), []byte(v.Value)); err != nil {
				return nil, fmt.Errorf("write file variable %s: %w", v.Key, err)
			}
			val = b.projectDir() + ".tmp/" + name
		}
		env = append(env, v.Key+"="+val)
	}
	return append(env,
		"CI_BUILDS_DIR="+containerBuildsDir,
		"CI_PROJECT_DIR="+b.projectDir(),
		"CI_SERVER=yes",
		"CI_RUNNER_SHORT_TOKEN="+b.s.Runner.ShortToken(),
		"CI_RUNNER_EXECUTABLE_ARCH="+runtime.GOOS+"/"+runtime.GOARCH, // the agent's platform, as gitlab-runner reports its own
		"CI_CONCURRENT_ID="+strconv.Itoa(b.slot),
		"CI_NODE_NAME="+b.s.Node,
	), nil
}

// getSources runs the pre/post hooks around fetching the sources (see
// sourcesRequest: the job token never enters a container through git).
// When no pre hook needs the container first, the fetch already started
// while the containers were being created (see startPrefetch).
func (b *build) getSources(ctx context.Context) error {
	var err error
	if b.pre != nil {
		err = b.waitPrefetch()
		_, _ = b.rep.Write(b.pre.log.Bytes())
	} else {
		if err := b.hook(ctx, "pre_get_sources_script"); err != nil {
			return err
		}
		err = b.fetch(ctx, b.rep)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return b.hook(ctx, "post_get_sources_script")
}

// fetch brings the project directory to the job's sources: a copy of a
// local directory (runner exec) or git at the job's sha.
func (b *build) fetch(ctx context.Context, out io.Writer) error {
	if b.s.LocalSources != "" {
		if err := os.RemoveAll(b.hostProjectDir()); err != nil {
			return failWith(FailureRunnerSystem, err)
		}
		if err := copySources(ctx, b.s.LocalSources, b.hostProjectDir(), out); err != nil {
			return failWith(FailureRunnerSystem, err)
		}
		return nil
	}
	depth := b.job.GitInfo.Depth
	if d, err := strconv.Atoi(lookup(b.vars, "GIT_DEPTH")); err == nil {
		depth = d
	}
	var clean []string
	if f := lookup(b.vars, "GIT_CLEAN_FLAGS"); f != "" {
		clean = strings.Fields(f)
	}
	store := b.sourceStore()
	// Marked used, and kept from the periodic sweep until the checkout
	// from it is done.
	defer b.s.SourceStores.use(store)()
	err := fetchSources(ctx, sourcesRequest{
		Dir:        b.hostProjectDir(),
		Store:      store,
		Helper:     buildHelper{b: b, store: store},
		Info:       cloneInfo(b.s.Runner, b.job.GitInfo, b.project, b.job.Token),
		TLS:        gitTLS{CAFile: b.s.Runner.TLSCAFile, CertFile: b.s.Runner.TLSCertFile, KeyFile: b.s.Runner.TLSKeyFile},
		Strategy:   strategy(b.vars),
		Depth:      depth,
		Checkout:   lookup(b.vars, "GIT_CHECKOUT") != "false",
		CleanFlags: clean,
		Out:        out,
		Mark:       b.phases.mark,
	})
	if err == nil {
		b.refillHelper(store) // the slot's next job of this project checks out at once
	}
	switch {
	case err == nil || ctx.Err() != nil:
	case errors.Is(err, executors.ErrImagePull), errors.Is(err, executors.ErrImageNotAllowed):
		return failWith(FailureRunnerConfiguration, fmt.Errorf("fetching sources: %w", err))
	case errors.Is(err, executors.ErrEngine):
		return failWith(FailureRunnerSystem, fmt.Errorf("fetching sources: %w", err))
	default:
		return failWith(FailureRunnerExternalDependency, fmt.Errorf("fetching sources: %w", err))
	}
	return err
}

// prefetch is a source fetch running while the containers start.
type prefetch struct {
	done   chan struct{}
	cancel context.CancelFunc
	log    bytes.Buffer
	err    error
}

// startPrefetch starts fetching the sources in the background unless a
// pre_get_sources_script must run in the container first. Fetching
// overlaps with the engine creating the job's containers.
func (b *build) startPrefetch(ctx context.Context) {
	if len(hookScript(b.s.Runner, b.job.Hooks, "pre_get_sources_script")) > 0 {
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &prefetch{done: make(chan struct{}), cancel: cancel}
	b.pre = p
	go func() {
		defer close(p.done)
		p.err = b.fetch(pctx, &p.log)
		b.phases.mark("sources_fetched")
	}()
}

// waitPrefetch waits for a started prefetch and returns its error.
func (b *build) waitPrefetch() error {
	<-b.pre.done
	b.pre.cancel()
	return b.pre.err
}

// stopPrefetch cancels a started prefetch and waits for it to end.
func (b *build) stopPrefetch() {
	if b.pre != nil {
		b.pre.cancel()
		<-b.pre.done
	}
}

// hook runs a get-sources hook (the runner's and the job's, see
// hookScript) in the job container, never on the host.
func (b *build) hook(ctx context.Context, name string) error {
	script := hookScript(b.s.Runner, b.job.Hooks, name)
	if len(script) == 0 {
		return nil
	}
	fmt.Fprintf(b.rep, "Running %s\n", name)
	return b.runStep(ctx, Step{Name: name, Script: script})
}

// executorName is how the job log names the executor.
func executorName(executor string) string {
	if executor == "containerd" {
		return "containerd"
	}
	return "Docker"
}
