package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
		if err := d.leftovers(ctx); err != nil {
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

// leftovers fails when a container of the fleet, or a container, network
// or volume labelled with one of its nodes, is still on the engine.
func (d *demo) leftovers(ctx context.Context) error {
	var left []string
	byLabel := func(label string, objects bool) error {
		f := filters.NewArgs(filters.Arg("label", label))
		cs, err := d.docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
		if err != nil {
			return err
		}
		for _, c := range cs {
			left = append(left, "container "+firstName(c.Names, c.ID))
		}
		if !objects {
			return nil
		}
		nets, err := d.docker.NetworkList(ctx, network.ListOptions{Filters: f})
		if err != nil {
			return err
		}
		for _, n := range nets {
			left = append(left, "network "+n.Name)
		}
		vols, err := d.docker.VolumeList(ctx, volume.ListOptions{Filters: f})
		if err != nil {
			return err
		}
		for _, v := range vols.Volumes {
			left = append(left, "volume "+v.Name)
		}
		return nil
	}
	if err := byLabel(provider.LabelFleet+"="+d.o.Fleet, false); err != nil {
		return err
	}
	for n := range d.w.seen {
		if err := byLabel(executors.LabelNode+"="+n, true); err != nil {
			return err
		}
	}
	if len(left) > 0 {
		return fmt.Errorf("left behind on the engine: %v", left)
	}
	return nil
}

func firstName(names []string, id string) string {
	if len(names) > 0 {
		return names[0]
	}
	return id
}
