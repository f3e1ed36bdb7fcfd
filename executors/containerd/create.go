package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/allowlist"
	"github.com/runfleet/runfleet/executors/internal/proctree"
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

// Create pulls the images, sets up the job's network namespaces, volumes
// and services and starts the job container. On error it removes
// whatever it created.
func (e *Executor) Create(ctx context.Context, spec executors.Spec) (executors.Env, error) {
	env, err := e.newEnv(ctx, spec, nil)
	if err != nil {
		return nil, err
	}
	return env, nil
}

// newEnv is Create, and CreateFirstStep or CreateLateFirstStep when
// first is set.
func (e *Executor) newEnv(ctx context.Context, spec executors.Spec, first *stepcmd.First) (*Env, error) {
	if err := e.validate(spec); err != nil {
		return nil, err
	}
	if first != nil && len(spec.Image.Entrypoint) > 0 {
		return nil, errors.New("containerd: a first step cannot replace the command of an image with an entrypoint override")
	}
	if err := e.claim(spec.JobID); err != nil {
		return nil, err
	}
	env := &Env{ex: e, jobID: spec.JobID, env: spec.Env, workDir: spec.WorkDir, user: spec.User,
		dir: filepath.Join(e.stateDir, e.node, spec.JobID)}
	if spec.Network == executors.NetworkPerJob {
		env.refill = e.warm.Held() // run after the job's own engine calls
	}
	if err := e.create(e.withNS(ctx), env, spec, first); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cleanupTimeout)
		defer cancel()
		if rerr := env.remove(e.withNS(cctx)); rerr != nil {
			e.log.WarnContext(ctx, "cleanup after failed create", "job", spec.JobID, "err", rerr)
		}
		e.release(spec.JobID)
		env.refill.Run(ctx)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("containerd: create cancelled: %w", errors.Join(cerr, err))
		}
		return nil, err
	}
	if first == nil { // its task started: a first step's runs at its start
		env.refill.Run(ctx)
	}
	return env, nil
}

// validate rejects specs this executor cannot run, before any I/O.
func (e *Executor) validate(spec executors.Spec) error {
	if err := validName(spec.JobID); err != nil {
		return fmt.Errorf("containerd: job ID: %w", err)
	}
	if spec.Node != "" && spec.Node != e.node {
		return fmt.Errorf("containerd: spec is for node %q but this executor serves %q", spec.Node, e.node)
	}
	if spec.Network == executors.NetworkNone && len(spec.Services) > 0 {
		return errors.New("containerd: services need a network, but the spec asks for none")
	}
	if spec.Network != executors.NetworkPerJob && spec.Network != executors.NetworkNone {
		return fmt.Errorf("containerd: unknown network mode %q", spec.Network)
	}
	for _, m := range spec.Mounts {
		if !filepath.IsAbs(m.Target) || (!m.Volume && !filepath.IsAbs(m.Source)) {
			return fmt.Errorf("containerd: mount %q -> %q: paths must be absolute", m.Source, m.Target)
		}
	}
	return allowlist.CheckSpec("containerd", e.allowed, spec)
}

// service is one service being started: its image, network and name.
type service struct {
	spec  executors.Service
	image ctrd.Image
	name  string // "svc<i>": container ID suffix and file names
	net   *jobNet
}

// create does Create's work, recording every object in env as it goes.
// With first set, the job container is created with that step (or the
// wait for it) as its process and its task left for RunFirst to start.
func (e *Executor) create(ctx context.Context, env *Env, spec executors.Spec, first *stepcmd.First) error {
	img, err := e.ensureImage(ctx, spec.Image)
	if err != nil {
		return err
	}
	svcs := make([]*service, len(spec.Services))
	for i, s := range spec.Services {
		si, err := e.ensureImage(ctx, s.Image)
		if err != nil {
			return fmt.Errorf("service: %w", err)
		}
		svcs[i] = &service{spec: s, image: si, name: fmt.Sprintf("svc%d", i)}
	}
	if spec.Privileged {
		e.log.WarnContext(ctx, "PRIVILEGED job container: the job has full control of this host",
			"job", spec.JobID, "image", spec.Image.Name)
		executors.WriteNotes(spec.Log, executors.PrivilegedWarning)
	}
	executors.WriteNotes(spec.Log, executors.LimitsNote(spec.Resources))
	lease, err := e.client.LeasesService().Create(uncut(ctx),
		leases.WithID(leaseID(e.node, spec.JobID)),
		leases.WithExpiration(e.leaseExpiry),
		leases.WithLabels(objectLabels(spec.Labels, e.node, spec.JobID, roleLease)))
	if err != nil {
		return engineErr("create lease", err)
	}
	env.leaseID = lease.ID
	ctx = leases.WithLease(ctx, lease.ID)
	if err := os.MkdirAll(env.dir, 0o700); err != nil {
		return fmt.Errorf("containerd: job state directory: %w: %w", executors.ErrEngine, err)
	}
	perJob := spec.Network == executors.NetworkPerJob
	var jobNet *jobNet
	if perJob {
		if w, ok := e.warm.Take(); ok {
			env.warmKey, env.warmDir, jobNet = w.key, w.dir, w.net
		}
	}
	if jobNet == nil {
		if jobNet, err = e.net.setup(ctx, filepath.Join(env.dir, "net-job"), perJob); err != nil {
			return engineErr("job network", err)
		}
	}
	var peers []hostEntry
	for _, s := range svcs {
		if s.net, err = e.net.setup(ctx, filepath.Join(env.dir, "net-"+s.name), true); err != nil {
			return engineErr("service network", err)
		}
		peers = append(peers, hostEntry{ip: s.net.ip.String(), names: s.spec.Aliases})
	}
	hostname := hostnameFor(spec.JobID)
	for _, s := range svcs {
		if err := e.startService(ctx, env, spec, s, peers); err != nil {
			return err
		}
	}
	self := hostEntry{names: []string{hostname}}
	if jobNet.ip != nil {
		self.ip = jobNet.ip.String()
	}
	hosts, err := hostsFile(self, peers, spec.ExtraHosts)
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	mounts, err := etcMounts(env.dir, "job", hosts)
	if err != nil {
		return fmt.Errorf("containerd: hosts file: %w: %w", executors.ErrEngine, err)
	}
	volumes, notes, err := e.makeVolumes(ctx, env.dir, spec)
	if err != nil {
		return err
	}
	executors.WriteNotes(spec.Log, notes...)
	cfg := containerConfig{
		args:       jobArgs(spec.Image),
		env:        spec.Env,
		cwd:        spec.WorkDir,
		hostname:   hostname,
		mounts:     append(mounts, bindMounts(spec.Mounts, volumes)...),
		netnsPath:  jobNet.path,
		initPath:   e.initPath,
		resources:  spec.Resources,
		privileged: spec.Privileged,
		readOnly:   spec.ReadOnlyRootfs,
		extraCaps:  e.extraCaps,
	}
	j := &jobContainer{id: containerID(spec.JobID, ""), image: img,
		labels: objectLabels(spec.Labels, e.node, spec.JobID, roleJob), cfg: cfg, runtime: spec.Runtime}
	if first != nil {
		return e.createFirst(ctx, env, j, spec, *first)
	}
	return e.startJob(ctx, env, j)
}

// jobContainer is how the job's containers are made: the keeper of Create
// and, with a first step, that step's container and the keeper of later
// steps, so all get the same image, limits, mounts and network namespace.
type jobContainer struct {
	id      string
	image   ctrd.Image
	labels  map[string]string
	cfg     containerConfig
	runtime string
}

// startJob creates and starts the job's keeper container and records what
// Exec needs.
func (e *Executor) startJob(ctx context.Context, env *Env, j *jobContainer) error {
	c, task, err := e.start(ctx, env, j.id, j.image, j.labels, j.cfg, j.runtime)
	if err != nil {
		return err
	}
	env.container, env.task = c, task
	env.procs = proctree.New(int(task.Pid()))
	return nil
}

// startService creates and starts one service container in its own
// network namespace on the job's bridge.
func (e *Executor) startService(ctx context.Context, env *Env, spec executors.Spec, s *service, peers []hostEntry) error {
	ic, err := s.image.Spec(ctx)
	if err != nil {
		return engineErr("read image config of "+s.spec.Image.Name, err)
	}
	hosts, err := hostsFile(hostEntry{}, peers, spec.ExtraHosts)
	if err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	mounts, err := etcMounts(env.dir, s.name, hosts)
	if err != nil {
		return fmt.Errorf("containerd: hosts file: %w: %w", executors.ErrEngine, err)
	}
	hostname := hostnameFor(spec.JobID + "-" + s.name)
	if len(s.spec.Aliases) > 0 {
		hostname = hostnameFor(s.spec.Aliases[0])
	}
	cfg := containerConfig{
		args:       serviceArgs(s.spec.Image, ic.Config.Entrypoint, ic.Config.Cmd),
		env:        s.spec.Env,
		hostname:   hostname,
		mounts:     mounts,
		netnsPath:  s.net.path,
		initPath:   e.initPath,
		privileged: spec.Privileged,
		extraCaps:  e.extraCaps,
	}
	_, _, err = e.start(ctx, env, containerID(spec.JobID, s.name), s.image,
		objectLabels(spec.Labels, e.node, spec.JobID, roleService), cfg, spec.Runtime)
	return err
}

// uncut is ctx (its namespace and lease) without its cancellation, for
// the calls that create an object: a request cut off by a cancel may
// still create it after its answer was lost, leaving it behind. The steps
// between them still stop at ctx's end.
func uncut(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// start creates a container with its own snapshot and starts its task,
// recording both in env.
func (e *Executor) start(ctx context.Context, env *Env, id string, img ctrd.Image, labels map[string]string,
	cfg containerConfig, runtime string) (ctrd.Container, ctrd.Task, error) {
	if len(cfg.args) == 0 {
		return nil, nil, fmt.Errorf("containerd: container %s has no command: %w", id, executors.ErrEngine)
	}
	c, task, err := e.newTask(ctx, env, id, img, labels, cfg, runtime, cio.NullIO)
	if err != nil {
		return nil, nil, err
	}
	if err := task.Start(ctx); err != nil {
		return nil, nil, engineErr("start task "+id, err)
	}
	return c, task, nil
}

// newTask creates a container with its own snapshot and its task, not
// started, with ioc as its output, recording the container in env.
func (e *Executor) newTask(ctx context.Context, env *Env, id string, img ctrd.Image, labels map[string]string,
	cfg containerConfig, runtime string, ioc cio.Creator) (ctrd.Container, ctrd.Task, error) {
	rtName, rtOpts := runtimeFor(e.runtime, runtime)
	c, err := e.client.NewContainer(uncut(ctx), id,
		ctrd.WithContainerLabels(labels),
		ctrd.WithImage(img),
		ctrd.WithSnapshotter(e.snapshotter),
		ctrd.WithNewSnapshot(id, img, snapshots.WithLabels(labels)),
		ctrd.WithRuntime(rtName, rtOpts),
		ctrd.WithNewSpec(append([]oci.SpecOpts{oci.WithImageConfig(img)}, cfg.specOpts()...)...),
	)
	if err != nil {
		return nil, nil, engineErr("create container "+id, err)
	}
	env.addContainer(c)
	task, err := c.NewTask(uncut(ctx), ioc)
	if err != nil {
		return nil, nil, engineErr("create task "+id, err)
	}
	return c, task, nil
}

// runtimeFor returns the shim and its options for a spec's runtime: a
// full shim name ("io.containerd.runsc.v1") as is, a bare OCI runtime
// binary ("crun") through the runc shim, empty the executor's default.
func runtimeFor(def, runtime string) (string, any) {
	switch {
	case runtime == "":
		return def, nil
	case strings.Contains(runtime, "."):
		return runtime, nil
	default:
		return DefaultRuntime, &options.Options{BinaryName: runtime}
	}
}

// containerID names a job's container ("" suffix) or one of its services.
func containerID(jobID, suffix string) string {
	if suffix == "" {
		return "runfleet-" + jobID
	}
	return "runfleet-" + jobID + "-" + suffix
}

// leaseID names a job's lease.
func leaseID(node, jobID string) string { return "runfleet-" + node + "-" + jobID }

// hostnameFor returns a valid hostname (at most 63 bytes) based on s.
func hostnameFor(s string) string {
	s = strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s), "-.")
	if len(s) > 63 {
		s = s[:63]
	}
	if s == "" {
		return "runfleet"
	}
	return s
}

// taskWait bounds how long removal waits for a killed task to exit.
const taskWait = 10 * time.Second
