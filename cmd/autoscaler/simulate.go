package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/runfleet/runfleet/autoscaler/sim"
)

type simulateFlags struct {
	trace            string
	boot             time.Duration
	bootSigma        float64
	interruptionRate float64
	capacityRate     float64
	seed             uint64
	format           string
	svg              string
	tick             time.Duration
	slots            int
}

func newSimulateCmd() *cobra.Command {
	f := &simulateFlags{}
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE",
		Short: "replay a job trace through runfleet's policy and three baselines",
		Long: `simulate replays a CSV job trace (job_id, queued_at_unix, started_at_unix,
finished_at_unix, labels) through runfleet's scaling policy and three baselines
(static-peak, vm-per-job, idle-count) in the same simulated cloud: log-normal
boot times, correlated spot interruptions and capacity droughts drawn from the
seed. It prints queue wait percentiles and cost over the floor (Σ job duration ×
cheapest price) for each.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSimulate(cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.trace, "trace", "", "CSV job trace (required)")
	fl.DurationVar(&f.boot, "boot", 30*time.Second, "median boot time of a node")
	fl.Float64Var(&f.bootSigma, "boot-sigma", 0.2, "log-normal spread of boot times (0: fixed)")
	fl.Float64Var(&f.interruptionRate, "interruption-rate", 0.02, "spot nodes reclaimed per node-hour, in correlated pool-wide bursts")
	fl.Float64Var(&f.capacityRate, "capacity-failure-rate", 0.05, "capacity droughts per spot pool per hour")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed (same seed, same world for every policy)")
	fl.StringVar(&f.format, "format", "table", "table or json")
	fl.StringVar(&f.svg, "svg", "", "write a chart of demand, fleet size and queue to this SVG file")
	fl.DurationVar(&f.tick, "tick", 10*time.Second, "control loop period")
	fl.IntVar(&f.slots, "slots-per-node", 1, "job slots per node of the pooled policies")
	_ = cmd.MarkFlagRequired("trace")
	return cmd
}

func runSimulate(out io.Writer, f *simulateFlags) error {
	if f.format != "table" && f.format != "json" {
		return fmt.Errorf("--format %q: want table or json", f.format)
	}
	if f.boot <= 0 || f.tick <= 0 || f.slots <= 0 || f.interruptionRate < 0 || f.capacityRate < 0 || f.bootSigma < 0 {
		return fmt.Errorf("--boot, --tick and --slots-per-node must be positive; rates and sigma not negative")
	}
	file, err := os.Open(f.trace)
	if err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	jobs, st, err := sim.LoadTrace(file)
	file.Close()
	if err != nil {
		return fmt.Errorf("trace %s: %w", f.trace, err)
	}
	if len(jobs) == 0 {
		return fmt.Errorf("trace %s: no usable jobs (%+v)", f.trace, st)
	}
	sc := sim.Scenario{
		SlotsPerNode: f.slots,
		Tick:         f.tick,
		World: sim.WorldConfig{
			Seed:                f.seed,
			Boot:                sim.BootModel{Median: f.boot, Sigma: f.bootSigma},
			InterruptionRate:    f.interruptionRate,
			CapacityFailureRate: f.capacityRate,
		},
	}
	if f.svg != "" {
		sc.Samples = 1000
	}
	results := sim.Compare(jobs, sc)
	if f.svg != "" {
		svg, err := os.Create(f.svg)
		if err != nil {
			return fmt.Errorf("svg: %w", err)
		}
		err = sim.WriteSVG(svg, f.trace, results)
		if cerr := svg.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("svg %s: %w", f.svg, err)
		}
	}
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Trace   string         `json:"trace"`
			Stats   sim.TraceStats `json:"trace_stats"`
			Seed    uint64         `json:"seed"`
			BootS   float64        `json:"boot_s"`
			Rate    float64        `json:"interruption_rate"`
			Results []sim.Result   `json:"results"`
		}{f.trace, st, f.seed, f.boot.Seconds(), f.interruptionRate, results})
	}
	fmt.Fprintf(out, "trace %s: %d jobs (%d rows, %d without queued time, %d without duration); boot %s, interruption rate %g, seed %d\n",
		f.trace, st.Kept, st.Rows, st.NoArrival, st.NoDuration, f.boot, f.interruptionRate, f.seed)
	return sim.WriteTable(out, results)
}
