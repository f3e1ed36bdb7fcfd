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
	warmStart        time.Duration
	warmPrice        float64
	settings         sim.Settings
}

func newSimulateCmd() *cobra.Command {
	f := &simulateFlags{}
	cmd := &cobra.Command{
		Use:   "simulate --trace FILE",
		Short: "replay a job trace through runfleet's policy and four baselines",
		Long: `simulate replays a CSV job trace (job_id, queued_at_unix, started_at_unix,
finished_at_unix, labels) through runfleet's scaling policy and four baselines
in the same simulated cloud: log-normal boot and warm-start times, correlated
spot interruptions and capacity droughts drawn from the seed.

  runfleet     forecast from pipeline structure + warm pool + small idle buffer
               (its settings: --idle-slots ... --warm-max)
  warm-idle    the same warm pool and idle buffer, no forecast
  static-peak  a fixed fleet sized for the trace's peak concurrency
  vm-per-job   one new VM per queued job, gone when the job ends
  idle-count   busy slots plus an idle buffer, blind to the queue

When the trace has the columns run_id, workflow and run_created_at_unix (and
repo), or Buildkite's pipeline, build_number and scheduled_at_unix, each run's
creation feeds the forecaster as a run-start event once the simulated clock
reaches it; jobs feed it as they queue, start and finish, never earlier.

Warm pools hold stopped on-demand nodes (Auto Scaling warm pools take no Spot);
a node waiting in one costs --warm-storage-price per hour, which counts in the
cost. It prints, per policy, queue wait percentiles, the share of jobs that
waited over 10 s, cost over the floor (Σ job duration × cheapest price per
slot), launches (cold, warm, warm-pool fills) and the forecast's error (WAPE).`,
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
	fl.DurationVar(&f.warmStart, "warm-start", 0, "median time from a warm node's start request to ready (default: a third of --boot)")
	fl.Float64Var(&f.warmPrice, "warm-storage-price", sim.DefaultWarmStoragePrice, "hourly price of one node waiting stopped in a warm pool (default: a 50 GB gp3 volume, 50×0.08/730)")
	def := sim.DefaultSettings()
	fl.IntVar(&f.settings.IdleSlots, "idle-slots", def.IdleSlots, "runfleet: idle slots always kept free")
	fl.Float64Var(&f.settings.ScaleFactor, "scale-factor", def.ScaleFactor, "runfleet: extra idle slots in proportion to busy ones (0.1 = 10 %)")
	fl.Float64Var(&f.settings.IdleRisk, "idle-risk", def.IdleRisk, "runfleet: more idle slots while unannounced jobs come often: the fewest k that more than k arrive within the horizon with at most this probability (0: off)")
	fl.DurationVar(&f.settings.ScaleDownDelay, "scale-down-delay", def.ScaleDownDelay, "runfleet: how long a node stays idle before it is retired")
	fl.Float64Var(&f.settings.Horizon, "horizon", def.Horizon, "runfleet: how far ahead the forecast launches cold capacity, in boot medians")
	fl.Float64Var(&f.settings.Quantile, "quantile", def.Quantile, "runfleet: the quantile of past runs the forecast plans for (0: their mean)")
	fl.IntVar(&f.settings.WarmMin, "warm-min", def.WarmMin, "runfleet: warm pool minimum size")
	fl.IntVar(&f.settings.WarmMax, "warm-max", def.WarmMax, "runfleet: warm pool maximum size (0: no warm pool)")
	_ = cmd.MarkFlagRequired("trace")
	return cmd
}

func runSimulate(out io.Writer, f *simulateFlags) error {
	if f.format != "table" && f.format != "json" {
		return fmt.Errorf("--format %q: want table or json", f.format)
	}
	if f.boot <= 0 || f.tick <= 0 || f.slots <= 0 || f.interruptionRate < 0 || f.capacityRate < 0 || f.bootSigma < 0 || f.warmStart < 0 || f.warmPrice < 0 {
		return fmt.Errorf("--boot, --tick and --slots-per-node must be positive; rates, sigma, --warm-start and --warm-storage-price not negative")
	}
	if err := f.settings.Validate(); err != nil {
		return err
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
		SlotsPerNode:     f.slots,
		Tick:             f.tick,
		WarmStart:        f.warmStart,
		WarmStoragePrice: f.warmPrice,
		Settings:         &f.settings,
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
	warm := f.warmStart
	if warm == 0 {
		warm = f.boot / 3
	}
	signal := sim.SignalOf(jobs, warm, f.boot)
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
			Trace      string         `json:"trace"`
			Stats      sim.TraceStats `json:"trace_stats"`
			Signal     sim.Signal     `json:"signal"`
			Seed       uint64         `json:"seed"`
			BootS      float64        `json:"boot_s"`
			WarmStartS float64        `json:"warm_start_s"`
			Rate       float64        `json:"interruption_rate"`
			Results    []sim.Result   `json:"results"`
		}{f.trace, st, signal, f.seed, f.boot.Seconds(), warm.Seconds(), f.interruptionRate, results})
	}
	fmt.Fprintf(out, "trace %s: %d jobs (%d rows, %d without queued time, %d without duration); boot %s, warm start %s, interruption rate %g, seed %d\n",
		f.trace, st.Kept, st.Rows, st.NoArrival, st.NoDuration, f.boot, warm, f.interruptionRate, f.seed)
	fmt.Fprintf(out, "signal: %s\n", signal)
	return sim.WriteTable(out, results)
}
