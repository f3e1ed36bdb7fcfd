package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"

	"github.com/runfleet/runfleet/autoscaler/provider"
	"github.com/runfleet/runfleet/executors"
)

// removeNodes terminates every node container of the fleet (the provider
// also removes the job containers, networks and volumes each left).
func (d *demo) removeNodes(ctx context.Context) (int, error) {
	insts, err := d.prov.List(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, in := range insts {
		if d.w.seen != nil {
			d.w.seen[in.Name] = true
		}
		if err := d.prov.Terminate(ctx, in.ProviderID); err != nil {
			errs = append(errs, err)
		}
	}
	return len(insts), errors.Join(errs...)
}

// cleanup removes everything the demo started, in order: the control
// plane (so it launches nothing more), the nodes and what their jobs left,
// the coordinator, the temporary directory. It then checks that nothing
// labelled with the fleet or one of its nodes is left on the engine.
func (d *demo) cleanup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	d.stopControlPlane()
	if d.prov != nil {
		if n, err := d.removeNodes(ctx); err != nil {
			errs = append(errs, fmt.Errorf("removing nodes: %w", err))
		} else if n > 0 {
			fmt.Fprintf(d.out, "removed %d node container(s)\n", n)
		}
		if err := d.sweep(ctx); err != nil {
			errs = append(errs, err)
		}
		d.prov.Close()
	}
	if d.coord != nil {
		for _, v := range d.coord.close() {
			errs = append(errs, errors.New(v))
		}
	}
	if d.docker != nil {
		d.docker.Close()
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", d.dir, err))
		}
	}
	if len(errs) == 0 && d.cp != nil {
		fmt.Fprintf(d.out, "cleaned up: control plane stopped, no container, network or volume of fleet %q left, %s removed\n", d.o.Fleet, d.dir)
	}
	return errors.Join(errs...)
}

// object is a container, network or volume on the engine.
type object struct {
	kind, id, name string
}

// labelled lists the fleet's node containers and every container, network
// and volume labelled with one of its nodes (node names start with
// rf-<fleet>-), seen by the demo or not.
func (d *demo) labelled(ctx context.Context) ([]object, error) {
	var out []object
	cs, err := d.docker.ContainerList(ctx, container.ListOptions{All: true,
		Filters: filters.NewArgs(filters.Arg("label", provider.LabelFleet+"="+d.o.Fleet))})
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		out = append(out, object{"container", c.ID, firstName(c.Names, c.ID)})
	}
	prefix := "rf-" + d.o.Fleet + "-"
	ours := func(labels map[string]string) bool { return strings.HasPrefix(labels[executors.LabelNode], prefix) }
	byNode := filters.NewArgs(filters.Arg("label", executors.LabelNode))
	if cs, err = d.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: byNode}); err != nil {
		return nil, err
	}
	for _, c := range cs {
		if ours(c.Labels) {
			out = append(out, object{"container", c.ID, firstName(c.Names, c.ID)})
		}
	}
	nets, err := d.docker.NetworkList(ctx, network.ListOptions{Filters: byNode})
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if ours(n.Labels) {
			out = append(out, object{"network", n.ID, n.Name})
		}
	}
	vols, err := d.docker.VolumeList(ctx, volume.ListOptions{Filters: byNode})
	if err != nil {
		return nil, err
	}
	for _, v := range vols.Volumes {
		if ours(v.Labels) {
			out = append(out, object{"volume", v.Name, v.Name})
		}
	}
	return out, nil
}

// sweep removes what the node containers' removal left: an agent killed
// in the middle of a job may have engine calls in flight (a network being
// created, say) that complete after its node is gone. It fails when
// something labelled is still there after a few passes.
func (d *demo) sweep(ctx context.Context) error {
	for pass := range 10 {
		left, err := d.labelled(ctx)
		if err != nil {
			return err
		}
		if len(left) == 0 {
			return nil
		}
		fmt.Fprintf(d.out, "removing %d object(s) the nodes' agents left (engine calls still in flight when they stopped)\n", len(left))
		if pass > 0 {
			time.Sleep(500 * time.Millisecond)
		}
		slices.SortStableFunc(left, func(a, b object) int { return strings.Compare(order(a.kind), order(b.kind)) })
		for _, o := range left {
			switch o.kind {
			case "container":
				_ = d.docker.ContainerRemove(ctx, o.id, container.RemoveOptions{Force: true, RemoveVolumes: true})
			case "network":
				_ = d.docker.NetworkRemove(ctx, o.id)
			case "volume":
				_ = d.docker.VolumeRemove(ctx, o.id, true)
			}
		}
	}
	left, err := d.labelled(ctx)
	if err != nil || len(left) == 0 {
		return err
	}
	names := make([]string, len(left))
	for i, o := range left {
		names[i] = o.kind + " " + o.name
	}
	return fmt.Errorf("left behind on the engine: %v", names)
}

// order removes containers before the networks and volumes they use.
func order(kind string) string {
	if kind == "container" {
		return "0"
	}
	return "1" + kind
}

func firstName(names []string, id string) string {
	if len(names) > 0 {
		return names[0]
	}
	return id
}
