// Command fleet-demo is `make demo`: the local fleet in one command. It
// starts a local GitLab-compatible coordinator (the strict test fake,
// loaded with a burst of example jobs), runs the real control plane
// (`autoscaler run`) with the docker provider and SQLite on a generated
// config (fleet.toml, node.toml beside this file), and watches nodes scale
// up, run every job and scale down to zero, printing a live summary. It
// ends by itself when every job is final and every node is gone, or fails
// loudly at --timeout, and removes everything it started (node and job
// containers by label, networks, volumes, its temporary directory), on
// Ctrl-C too.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newCmd().ExecuteContext(ctx)
	switch {
	case errors.Is(err, errInterrupted):
		fmt.Fprintln(os.Stderr, "fleet-demo:", err)
		os.Exit(130)
	case err != nil:
		fmt.Fprintln(os.Stderr, "fleet-demo: FAILED:", err)
		os.Exit(1)
	}
}

func newCmd() *cobra.Command {
	o := defaultOptions()
	cmd := &cobra.Command{
		Use:           "fleet-demo",
		Short:         "The local runfleet fleet: a burst of jobs, nodes scaling up, running them and scaling down",
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Jobs, "jobs", o.Jobs, "example jobs in the burst")
	f.IntVar(&o.JobSeconds, "job-seconds", o.JobSeconds, "each job sleeps this long (plus 0-2 s)")
	f.IntVar(&o.MaxNodes, "max-nodes", o.MaxNodes, "the pool's maximum node count")
	f.IntVar(&o.Slots, "slots", o.Slots, "job slots per node")
	f.StringVar(&o.Autoscaler, "autoscaler", o.Autoscaler, "the autoscaler binary (make demo builds it)")
	f.StringVar(&o.Image, "image", o.Image, "the node image (images/runner-dev)")
	f.StringVar(&o.JobImage, "job-image", o.JobImage, "the image jobs run in (make images)")
	f.StringVar(&o.JobNetwork, "job-network", o.JobNetwork, `"none" (jobs need no network) or "per-job" (a private bridge network each)`)
	f.StringVar(&o.Fleet, "fleet", o.Fleet, "the fleet name: node containers carry it in their labels")
	f.DurationVar(&o.Timeout, "timeout", o.Timeout, "fail when the fleet has not finished and scaled to zero by then")
	f.DurationVar(&o.Interval, "interval", o.Interval, "live summary interval")
	return cmd
}

// options are the demo's settings.
type options struct {
	Jobs, JobSeconds, MaxNodes, Slots int
	Autoscaler, Image, JobImage       string
	JobNetwork                        string
	Fleet                             string
	Timeout, Interval                 time.Duration
}

func defaultOptions() *options {
	return &options{
		Jobs: 12, JobSeconds: 3, MaxNodes: 4, Slots: 2,
		Autoscaler: "bin/autoscaler", Image: "runfleet/runner-dev:latest", JobImage: "runfleet/busybox:latest",
		JobNetwork: "none", Fleet: "demo", Timeout: 5 * time.Minute, Interval: 2 * time.Second,
	}
}

func (o *options) validate() error {
	var errs []error
	if o.Jobs < 1 || o.JobSeconds < 0 || o.MaxNodes < 1 || o.Slots < 1 {
		errs = append(errs, errors.New("--jobs, --max-nodes and --slots must be at least 1, --job-seconds at least 0"))
	}
	if o.Timeout <= 0 || o.Interval <= 0 {
		errs = append(errs, errors.New("--timeout and --interval must be positive"))
	}
	if o.JobNetwork != "none" && o.JobNetwork != "per-job" {
		errs = append(errs, fmt.Errorf("--job-network %q: want none or per-job", o.JobNetwork))
	}
	if o.Fleet == "" {
		errs = append(errs, errors.New("--fleet is required"))
	}
	return errors.Join(errs...)
}
