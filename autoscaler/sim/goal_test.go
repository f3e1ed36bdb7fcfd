package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"
)

// goalTraces are the traces of issue 10's goal: the generated pipeline
// trace and the two real ones, plus the older synthetic trace.
var goalTraces = []string{pushTrace, "testdata/bitcoin_core_gha_jobs.csv", "testdata/vllm_buildkite_nightly_jobs.csv", shippedTrace}

// goalScenario is the goal's world: 45 s boots, 15 s warm starts, 3 %
// interruptions, seed 1.
func goalScenario() Scenario {
	return Scenario{
		World:     WorldConfig{Seed: 1, Boot: BootModel{Median: 45 * time.Second, Sigma: 0.2}, InterruptionRate: 0.03, CapacityFailureRate: 0.05},
		WarmStart: 15 * time.Second,
	}
}

// BenchmarkReplayTraces replays the goal traces (testdata/README.md)
// through runfleet's policy and the four baselines in the goal's world
// (autoscaler simulate --boot 45s --warm-start 15s --interruption-rate
// 0.03), sweeps the policy's knobs (frontierSettings) with runfleet's
// forecaster and with the signal oracle (oracleSettings: the bound for any
// forecaster; and with the learned oracle, the bound for one that learns
// from past runs), and prints one table: per trace the contenders, the sweep's
// Pareto points, the best points (p95 at <= 1.3x, cost at p95 <= 10 s)
// for runfleet and for the oracle, with the cost breakdown; then per trace
// how much warning its jobs give.
func BenchmarkReplayTraces(b *testing.B) {
	type traceResult struct {
		name   string
		signal Signal
		rows   []goalRow
	}
	var all []traceResult
	for _, path := range goalTraces {
		f, err := os.Open(path)
		if err != nil {
			b.Fatalf("trace %s: %v", path, err)
		}
		jobs, _, err := LoadTrace(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		sc := goalScenario()
		name := strings.TrimSuffix(filepath.Base(path), ".csv")
		b.Run(name, func(b *testing.B) {
			var res []Result
			for range b.N {
				res = Compare(jobs, sc)
			}
			for _, r := range res {
				b.ReportMetric(r.P95WaitS, r.Name+"-p95-s")
				b.ReportMetric(r.CostRatio, r.Name+"-cost/floor")
			}
			sweep := Sweep(jobs, sc, frontierSettings(), "")
			signal := Sweep(jobs, sc, oracleSettings(), OracleSignal)
			learned := Sweep(jobs, sc, oracleSettings(), OracleLearned)
			clair := Sweep(jobs, sc, []Settings{{Horizon: 2}}, OracleClairvoyant)
			all = append(all, traceResult{name: name, signal: SignalOf(jobs, sc.WarmStart, sc.World.Boot.Median), rows: goalRows(res, sweep, learned, signal, clair[0])})
		})
	}
	var out strings.Builder
	fmt.Fprintln(&out, "goal: p95 wait <= 10 s at <= 1.3x the cost floor, no baseline better on both (boot 45s, warm start 15s, interruption rate 0.03, seed 1)")
	fmt.Fprintln(&out, "cost parts in floor units: jobs (on-demand share), boot, idle, warm (fills + storage); pareto *: no contender or runfleet setting is better on both")
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "trace\trow\tpolicy\tp50 s\tp95 s\t>10s\tcost/floor\tjobs (od)\tboot\tidle\twarm\tcold\twarm st\tfc err\tpareto\tgoal\t")
	for _, t := range all {
		for _, row := range t.rows {
			r := row.Result
			if r.Jobs == 0 {
				fmt.Fprintf(tw, "%s\t%s\tnone\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", t.name, row.kind)
				continue
			}
			fe := "-"
			if r.ForecastError != nil {
				fe = fmt.Sprintf("%.2f", *r.ForecastError)
			}
			cb := r.CostBreakdown
			goal := "no"
			if r.P95WaitS <= 10 && r.CostRatio <= 1.3 {
				goal = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f\t%.1f\t%.1f%%\t%.2f\t%.2f (%.2f)\t%.2f\t%.2f\t%.2f\t%d\t%d\t%s\t%s\t%s\t\n", t.name, row.kind, r.Name, r.P50WaitS, r.P95WaitS,
				100*r.Over10s, r.CostRatio, cb.Jobs, cb.JobsOnDemand, cb.Boot, cb.Idle, cb.WarmFill+cb.WarmStorage, r.LaunchesCold, r.LaunchesWarm, fe, row.pareto, goal)
		}
	}
	tw.Flush()
	for _, t := range all {
		fmt.Fprintf(&out, "%s: %s\n", t.name, t.signal)
	}
	fmt.Print(out.String()) // the table is the point of the benchmark: print it whatever the flags
}

// goalRow is one row of the goal table.
type goalRow struct {
	Result
	kind   string // contender, frontier, best, oracle
	pareto string
}

// goalRows lists a trace's contenders, the Pareto points of runfleet's
// sweep (one of each set of equal points), the best points of the sweep
// and of the learned and signal oracles, and the clairvoyant's point.
func goalRows(contenders, sweep, learned, signal []Result, clairvoyant Result) []goalRow {
	points := append(slices.Clone(contenders), sweep...)
	dominated := func(r Result) bool {
		for _, o := range points {
			if o.P95WaitS <= r.P95WaitS && o.CostRatio <= r.CostRatio && (o.P95WaitS < r.P95WaitS || o.CostRatio < r.CostRatio) {
				return true
			}
		}
		return false
	}
	mark := func(r Result) string {
		if dominated(r) {
			return ""
		}
		return "*"
	}
	var rows []goalRow
	for _, r := range contenders {
		rows = append(rows, goalRow{r, "contender", mark(r)})
	}
	type point struct{ p95, cost float64 }
	shown := map[point]bool{}
	for _, r := range sweep {
		if pt := (point{r.P95WaitS, r.CostRatio}); !dominated(r) && !shown[pt] {
			shown[pt] = true
			rows = append(rows, goalRow{r, "frontier", "*"})
		}
	}
	best := func(kind string, rs []Result) {
		fast, cheap := bestPoints(rs)
		for _, b := range []struct {
			r    *Result
			what string
		}{{cheap, ": lowest p95 at <= 1.3x"}, {fast, ": cheapest at p95 <= 10 s"}} {
			if b.r == nil {
				rows = append(rows, goalRow{Result{}, kind + b.what, ""})
			} else {
				rows = append(rows, goalRow{*b.r, kind + b.what, mark(*b.r)})
			}
		}
	}
	best("runfleet", append(slices.Clone(contenders[:1]), sweep...))
	best("learned oracle", learned)
	best("signal oracle", signal)
	rows = append(rows, goalRow{clairvoyant, "clairvoyant (knows every arrival)", mark(clairvoyant)})
	return rows
}

// bestPoints returns the cheapest result with p95 <= 10 s and the one with
// the lowest p95 at <= 1.3x the floor (nil when none qualifies).
func bestPoints(rs []Result) (fast, cheap *Result) {
	for i := range rs {
		r := &rs[i]
		if r.P95WaitS <= 10 && (fast == nil || r.CostRatio < fast.CostRatio) {
			fast = r
		}
		if r.CostRatio <= 1.3 && (cheap == nil || r.P95WaitS < cheap.P95WaitS || r.P95WaitS == cheap.P95WaitS && r.CostRatio < cheap.CostRatio) {
			cheap = r
		}
	}
	return fast, cheap
}

// frontierSettings are the settings BenchmarkReplayTraces sweeps for
// runfleet's policy: the idle buffer (fixed, and sized from the rate of
// unannounced arrivals), the forecast's horizon and quantile, and the warm
// pool's bounds.
func frontierSettings() []Settings {
	var out []Settings
	for _, q := range []float64{0.5, 0.9} { // no buffer, the boot as horizon
		out = append(out, Settings{Quantile: q})
	}
	for _, idle := range []int{0, 1, 2} {
		for _, h := range []float64{1, 1.5, 2} {
			for _, q := range []float64{0.5, 0.8, 0.9} {
				out = append(out, Settings{IdleSlots: idle, IdleRisk: 0.1, Horizon: h, Quantile: q})
			}
		}
	}
	// The warm pool of stopped on-demand nodes, its size fixed (1-2) or
	// derived from the rate of unannounced arrivals (0-2).
	for _, idle := range []int{0, 1} {
		for _, lo := range []int{0, 1} {
			out = append(out, Settings{IdleSlots: idle, IdleRisk: 0.1, Horizon: 2, Quantile: 0.9, WarmMin: lo, WarmMax: 2})
		}
	}
	return out
}

// oracleSettings are the settings the oracles are swept with: they need
// no quantile and gain nothing from on-demand warm starts.
func oracleSettings() []Settings {
	var out []Settings
	for _, idle := range []int{0, 1, 2, 4} {
		for _, risk := range []float64{0, 0.1} {
			out = append(out, Settings{IdleSlots: idle, IdleRisk: risk, Horizon: 2})
		}
	}
	return out
}
