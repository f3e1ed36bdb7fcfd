package enginebench

import (
	"context"
	"fmt"
	"io"
	"time"

	ctrd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/docker/docker/api/types/container"
	dockerclient "github.com/docker/docker/client"

	"github.com/runfleet/runfleet/executors"
	"github.com/runfleet/runfleet/executors/executortest"
)

// Docker is the raw Docker engine API: the baseline that the agent's
// start and turnaround figures are divided by.
type Docker struct {
	Client *dockerclient.Client
	Image  string
	Labels map[string]string // e.g. the node label, so that a reap finds leftovers
}

// FirstByte creates, attaches and starts a container running `echo x`,
// until its first output byte. Removal is not timed.
func (d Docker) FirstByte(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	resp, err := d.Client.ContainerCreate(ctx, &container.Config{Image: d.Image, Cmd: []string{"echo", "x"},
		Labels: d.Labels, AttachStdout: true}, &container.HostConfig{}, nil, nil, "")
	if err != nil {
		return 0, err
	}
	defer d.Client.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true})
	att, err := d.Client.ContainerAttach(ctx, resp.ID, container.AttachOptions{Stream: true, Stdout: true})
	if err != nil {
		return 0, err
	}
	defer att.Close()
	if err := d.Client.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		return 0, err
	}
	var first [9]byte // an 8-byte stream header, then "x"
	if _, err := io.ReadFull(att.Reader, first[:]); err != nil {
		return 0, fmt.Errorf("first byte: %w", err)
	}
	return time.Since(start), nil
}

// Lifecycle is a container's whole life: create, start, `true` exits,
// removed.
func (d Docker) Lifecycle(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	resp, err := d.Client.ContainerCreate(ctx, &container.Config{Image: d.Image, Cmd: []string{"true"}, Labels: d.Labels},
		&container.HostConfig{}, nil, nil, "")
	if err != nil {
		return 0, err
	}
	waitC, errC := d.Client.ContainerWait(ctx, resp.ID, container.WaitConditionNextExit)
	if err := d.Client.ContainerStart(ctx, resp.ID, container.StartOptions{}); err != nil {
		_ = d.Client.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true})
		return 0, err
	}
	select {
	case w := <-waitC:
		if w.StatusCode != 0 {
			err = fmt.Errorf("exit %d", w.StatusCode)
		}
	case err = <-errC:
	}
	if rerr := d.Client.ContainerRemove(context.WithoutCancel(ctx), resp.ID, container.RemoveOptions{Force: true}); err == nil {
		err = rerr
	}
	return time.Since(start), err
}

// Containerd is the raw containerd client API in one namespace: the
// baseline of the containerd executor.
type Containerd struct {
	Client    *ctrd.Client
	Namespace string
	Image     ctrd.Image
	Labels    map[string]string
}

// FirstByte creates a container (with its snapshot) and a task running
// `echo x`, until its first output byte. Removal is not timed. id names
// the container and must be unused.
func (c Containerd) FirstByte(ctx context.Context, id string) (time.Duration, error) {
	ctx = namespaces.WithNamespace(ctx, c.Namespace)
	start := time.Now()
	w := executortest.NewFirstByte()
	task, remove, err := c.run(ctx, id, w, "echo", "x")
	if err != nil {
		return 0, err
	}
	defer remove()
	select {
	case <-w.First:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	d := time.Since(start)
	_, err = task.Delete(ctx, ctrd.WithProcessKill)
	return d, err
}

// Lifecycle is a container's whole life: container and snapshot created,
// task started, `true` exits, task and container deleted.
func (c Containerd) Lifecycle(ctx context.Context, id string) (time.Duration, error) {
	ctx = namespaces.WithNamespace(ctx, c.Namespace)
	start := time.Now()
	task, remove, err := c.runWait(ctx, id, "true")
	if err != nil {
		return 0, err
	}
	st := <-task.exit
	if _, derr := task.t.Delete(ctx); err == nil {
		err = derr
	}
	if rerr := remove(); err == nil {
		err = rerr
	}
	if err == nil && st.ExitCode() != 0 {
		err = fmt.Errorf("exit %d", st.ExitCode())
	}
	return time.Since(start), err
}

type waitingTask struct {
	t    ctrd.Task
	exit <-chan ctrd.ExitStatus
}

func (c Containerd) runWait(ctx context.Context, id string, args ...string) (waitingTask, func() error, error) {
	cont, err := c.newContainer(ctx, id, args)
	if err != nil {
		return waitingTask{}, nil, err
	}
	remove := func() error { return cont.Delete(context.WithoutCancel(ctx), ctrd.WithSnapshotCleanup) }
	task, err := cont.NewTask(ctx, cio.NullIO)
	if err != nil {
		_ = remove()
		return waitingTask{}, nil, err
	}
	exit, err := task.Wait(ctx)
	if err == nil {
		err = task.Start(ctx)
	}
	if err != nil {
		_, _ = task.Delete(context.WithoutCancel(ctx), ctrd.WithProcessKill)
		_ = remove()
		return waitingTask{}, nil, err
	}
	return waitingTask{t: task, exit: exit}, remove, nil
}

func (c Containerd) run(ctx context.Context, id string, out io.Writer, args ...string) (ctrd.Task, func() error, error) {
	cont, err := c.newContainer(ctx, id, args)
	if err != nil {
		return nil, nil, err
	}
	remove := func() error { return cont.Delete(context.WithoutCancel(ctx), ctrd.WithSnapshotCleanup) }
	task, err := cont.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, out, io.Discard)))
	if err == nil {
		if err = task.Start(ctx); err != nil {
			_, _ = task.Delete(context.WithoutCancel(ctx), ctrd.WithProcessKill)
		}
	}
	if err != nil {
		_ = remove()
		return nil, nil, err
	}
	return task, remove, nil
}

func (c Containerd) newContainer(ctx context.Context, id string, args []string) (ctrd.Container, error) {
	return c.Client.NewContainer(ctx, id,
		ctrd.WithContainerLabels(c.Labels),
		ctrd.WithNewSnapshot(id, c.Image),
		ctrd.WithNewSpec(oci.WithImageConfig(c.Image), oci.WithProcessArgs(args...)))
}

// ManagedLabels label a baseline's objects for node, as the executors
// label theirs, so that a reap of the node removes what a failed
// benchmark left.
func ManagedLabels(node string) map[string]string {
	return map[string]string{executors.LabelManaged: "true", executors.LabelNode: node}
}
