package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/sim"
)

// writeTrace writes a small trace of runs (a job at the run's start, a
// fan-out of three a minute later) to a temporary file.
func writeTrace(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,repo,run_id,workflow,run_created_at_unix\n")
	start := int64(1_700_000_000)
	for run := range 20 {
		at := start + int64(run)*600
		fmt.Fprintf(&b, "%d-0,%d,%d,%d,linux,org/app,%d,ci,%d\n", run, at, at, at+60, run, at)
		for j := 1; j <= 3; j++ {
			fmt.Fprintf(&b, "%d-%d,%d,%d,%d,linux,org/app,%d,ci,%d\n", run, j, at+60, at+60, at+300, run, at)
		}
	}
	path := filepath.Join(t.TempDir(), "trace.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSimulateJSONHasTheCostBreakdown(t *testing.T) {
	f := &simulateFlags{trace: writeTrace(t), boot: 45 * time.Second, bootSigma: 0.2, interruptionRate: 0.03, seed: 1,
		format: "json", tick: 10 * time.Second, slots: 1, warmStart: 15 * time.Second, warmPrice: sim.DefaultWarmStoragePrice,
		settings: sim.DefaultSettings()}
	var out bytes.Buffer
	if err := runSimulate(&out, f); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []sim.Result `json:"results"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if len(got.Results) != 5 || got.Results[0].Name != "runfleet" {
		t.Fatalf("results %+v", got.Results)
	}
	for _, r := range got.Results {
		b := r.CostBreakdown
		// Every job ran, once at least at the floor's price.
		if r.Jobs != 80 || b.Jobs < 0.999 || r.Cost <= 0 {
			t.Errorf("%s: %d jobs, cost %.4f, breakdown %+v", r.Name, r.Jobs, r.Cost, b)
		}
	}
}

func TestSimulateRefusesBadSettings(t *testing.T) {
	for _, st := range []sim.Settings{
		{IdleRisk: 1},
		{Quantile: -0.5},
		{WarmMin: 3, WarmMax: 1},
		{Horizon: -1},
	} {
		f := &simulateFlags{trace: writeTrace(t), boot: 45 * time.Second, format: "table", tick: 10 * time.Second, slots: 1, settings: st}
		if err := runSimulate(&bytes.Buffer{}, f); err == nil {
			t.Errorf("settings %+v accepted", st)
		}
	}
}
