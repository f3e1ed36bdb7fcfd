package docker

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/internal/allowlist"
	"github.com/runfleet/runfleet/executors/internal/stepcmd"
)

// Create pulls the images, creates the job's network, volumes and services
// and starts the job container. On error it removes whatever it created.
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
		return nil, errors.New("docker: a first step cannot replace the command of an image with an entrypoint override")
	}
	if err := e.claim(spec.JobID); err != nil {
		return nil, err
	}
	env := &Env{ex: e, jobID: spec.JobID, env: spec.Env, workDir: spec.WorkDir, user: spec.User}
	if spec.Network == executors.NetworkPerJob {
		env.refill = e.warm.Held() // run after the job's own engine calls
	}
	if err := e.create(ctx, env, spec, first); err != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), e.cleanupTimeout)
		defer cancel()
		if rerr := env.remove(cctx); rerr != nil {
			e.log.WarnContext(ctx, "cleanup after failed create", "job", spec.JobID, "err", rerr)
		}
		// A cancelled request may have created an object whose answer
		// was lost: the job's label finds it.
		if rerr := e.reapJob(cctx, spec.JobID); rerr != nil {
			e.log.WarnContext(ctx, "cleanup after failed create", "job", spec.JobID, "err", rerr)
		}
		e.release(spec.JobID)
		env.refill.Run(ctx)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("docker: create cancelled: %w", errors.Join(cerr, err))
		}
		return nil, err
	}
	if first == nil { // its container started: a first step's runs at its start
		env.refill.Run(ctx)
	}
	return env, nil
}

// uncut is ctx without its cancellation, for the calls that create an
// engine object: a request cut off by a cancel may still create the
// object after its answer was lost, leaving it behind. They are quick
// local calls; the steps between them still stop at ctx's end.
func (e *Executor) uncut(ctx context.Context) context.Context {
	return context.WithoutCancel(ctx)
}

// validate rejects specs this executor cannot run, before any I/O.
func (e *Executor) validate(spec executors.Spec) error {
	if err := validName(spec.JobID); err != nil {
		return fmt.Errorf("docker: job ID: %w", err)
	}
	if spec.Node != "" && spec.Node != e.node {
		return fmt.Errorf("docker: spec is for node %q but this executor serves %q", spec.Node, e.node)
	}
	if spec.Network == executors.NetworkNone && len(spec.Services) > 0 {
		return errors.New("docker: services need a network, but the spec asks for none")
	}
	if spec.Network != executors.NetworkPerJob && spec.Network != executors.NetworkNone {
		return fmt.Errorf("docker: unknown network mode %q", spec.Network)
	}
	return allowlist.CheckSpec("docker", e.allowed, spec)
}

// create does Create's work, recording every object in env as it goes.
// With first set, the job container is created with that step (or the
// wait for it) as its process and left for RunFirst (RunFirstStep) to
// start.
func (e *Executor) create(ctx context.Context, env *Env, spec executors.Spec, first *stepcmd.First) error {
	if err := e.ensureImage(ctx, spec.Image); err != nil {
		return err
	}
	for _, s := range spec.Services {
		if err := e.ensureImage(ctx, s.Image); err != nil {
			return fmt.Errorf("service: %w", err)
		}
	}
	if spec.Privileged {
		e.log.WarnContext(ctx, "PRIVILEGED job container: the job has full control of this host",
			"job", spec.JobID, "image", spec.Image.Name)
		executors.WriteNotes(spec.Log, executors.PrivilegedWarning)
	}
	disk, err := e.planDisk(ctx, spec)
	if err != nil {
		return err
	}
	executors.WriteNotes(spec.Log, executors.LimitsNote(spec.Resources))
	executors.WriteNotes(spec.Log, disk.notes...)
	base := "runfleet-" + spec.JobID
	netMode := "none"
	if spec.Network == executors.NetworkPerJob {
		if n, ok := e.takeNetwork(); ok {
			env.networkID, env.warmKey, netMode = n.id, n.key, n.name
		}
	}
	if spec.Network == executors.NetworkPerJob && env.networkID == "" {
		resp, err := e.api.NetworkCreate(e.uncut(ctx), base, network.CreateOptions{
			Driver:  "bridge",
			Options: map[string]string{bridgeOption: newBridgeName()},
			Labels:  objectLabels(spec.Labels, e.node, spec.JobID, roleNetwork),
		})
		if err != nil {
			return engineErr("create network", err)
		}
		env.networkID, netMode = resp.ID, base
	}
	volumes := make([]string, len(spec.Mounts))
	for i, m := range spec.Mounts {
		if !m.Volume {
			continue
		}
		vo := volume.CreateOptions{
			Name:   fmt.Sprintf("%s-vol%d", base, i),
			Labels: objectLabels(spec.Labels, e.node, spec.JobID, roleVolume),
		}
		if disk.volumes {
			vo.Driver, vo.DriverOpts = "local", tmpfsVolumeOpts(spec.Resources.DiskSize)
		}
		v, err := e.api.VolumeCreate(e.uncut(ctx), vo)
		if err != nil {
			return engineErr("create volume", err)
		}
		volumes[i] = v.Name
		env.volumes = append(env.volumes, v.Name)
	}
	for i, s := range spec.Services {
		if err := e.startService(ctx, env, spec, s, fmt.Sprintf("%s-svc%d", base, i), netMode); err != nil {
			return err
		}
	}
	j := &jobContainer{spec: spec, name: base, netMode: netMode, networkID: env.networkID, volumes: volumes, capRootfs: disk.rootfs}
	if first != nil {
		return e.createFirst(ctx, env, j, *first)
	}
	return e.startJob(ctx, env, j)
}

// startService creates and starts one service container on the job network.
func (e *Executor) startService(ctx context.Context, env *Env, spec executors.Spec, s executors.Service, name, netMode string) error {
	cfg := &container.Config{
		Image:  s.Image.Name,
		Env:    s.Env,
		Cmd:    s.Image.Command,
		Labels: objectLabels(spec.Labels, e.node, spec.JobID, roleService),
	}
	if s.Image.Entrypoint != nil {
		cfg.Entrypoint = s.Image.Entrypoint
	}
	hc := &container.HostConfig{NetworkMode: container.NetworkMode(netMode), Init: ptr(true)}
	e.securityConfig(hc, spec.Privileged)
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		netMode: {Aliases: s.Aliases},
	}}
	resp, err := e.api.ContainerCreate(e.uncut(ctx), cfg, hc, nc, nil, name)
	if err != nil {
		return engineErr("create service "+s.Image.Name, err)
	}
	env.serviceIDs = append(env.serviceIDs, resp.ID)
	if err := e.api.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return engineErr("start service "+s.Image.Name, err)
	}
	return nil
}

// jobContainer is how the job's containers are made: everything but
// their process, shared by the keeper container and a first-step one so
// both get the same limits, security options, mounts and network.
type jobContainer struct {
	spec      executors.Spec
	name      string
	netMode   string
	networkID string
	volumes   []string
	capRootfs bool
}

// config returns the container configuration for the job's image with
// entrypoint and cmd as its process.
func (j *jobContainer) config(e *Executor, entrypoint, cmd []string) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	spec := j.spec
	cfg := &container.Config{
		Image:      spec.Image.Name,
		Entrypoint: entrypoint,
		Cmd:        cmd,
		Env:        spec.Env,
		WorkingDir: spec.WorkDir,
		Labels:     objectLabels(spec.Labels, e.node, spec.JobID, roleJob),
	}
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(j.netMode),
		Init:           ptr(true),
		Mounts:         jobMounts(spec.Mounts, j.volumes),
		ExtraHosts:     spec.ExtraHosts,
		Resources:      resources(spec.Resources),
		ShmSize:        spec.Resources.ShmSize,
		ReadonlyRootfs: spec.ReadOnlyRootfs,
		Runtime:        spec.Runtime,
	}
	if j.capRootfs {
		hc.StorageOpt = map[string]string{"size": strconv.FormatInt(spec.Resources.DiskSize, 10)}
	}
	e.securityConfig(hc, spec.Privileged)
	var nc *network.NetworkingConfig
	if j.networkID != "" {
		nc = &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{j.netMode: {}}}
	}
	return cfg, hc, nc
}

// startJob creates and starts the job's keeper container and records what
// Exec needs to find its processes.
func (e *Executor) startJob(ctx context.Context, env *Env, j *jobContainer) error {
	entrypoint, cmd := jobEntrypoint(j.spec.Image)
	cfg, hc, nc := j.config(e, entrypoint, cmd)
	resp, err := e.api.ContainerCreate(e.uncut(ctx), cfg, hc, nc, nil, j.name)
	if err != nil {
		return engineErr("create job container", err)
	}
	env.containerID = resp.ID
	if err := e.api.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return engineErr("start job container", err)
	}
	ins, err := e.api.ContainerInspect(ctx, resp.ID)
	if err != nil {
		return engineErr("inspect job container", err)
	}
	if ins.State == nil || !ins.State.Running {
		return fmt.Errorf("docker: job container exited right after start: %w", executors.ErrEngine)
	}
	env.procs = newContainerProcs(ins.State.Pid)
	return nil
}

// engineErr wraps an engine failure in executors.ErrEngine.
func engineErr(op string, err error) error {
	return fmt.Errorf("docker: %s: %w: %w", op, executors.ErrEngine, err)
}

func ptr[T any](v T) *T { return &v }
