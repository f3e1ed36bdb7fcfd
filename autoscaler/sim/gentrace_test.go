package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// shippedTrace is the synthetic trace shipped for tests and the demo.
const shippedTrace = "testdata/gitlab_pipelines_2d.csv"

// TestGenerateShippedTrace rewrites testdata/gitlab_pipelines_2d.csv when
// RUNFLEET_REGEN_TRACE=1: two weekdays of GitLab-style pipelines (a build
// stage of three parallel jobs, then a test stage of two), arriving as a
// Poisson process of 30 pipelines an hour in working hours (08–18 UTC) and
// 3 an hour outside, job durations log-normal around 3 and 6 minutes.
func TestGenerateShippedTrace(t *testing.T) {
	if os.Getenv("RUNFLEET_REGEN_TRACE") == "" {
		t.Skip("set RUNFLEET_REGEN_TRACE=1 to rewrite " + shippedTrace)
	}
	rng := rand.New(rand.NewPCG(2026, 11))
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	end := start.Add(48 * time.Hour)
	var b strings.Builder
	b.WriteString("job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,pipeline,stage\n")
	dur := func(median time.Duration) time.Duration {
		d := time.Duration(float64(median) * math.Exp(0.6*rng.NormFloat64()))
		return max(d, 20*time.Second).Round(time.Second)
	}
	id, pipe := 0, 0
	for at := start; at.Before(end); {
		rate := 3.0
		if h := at.Hour(); h >= 8 && h < 18 {
			rate = 30
		}
		at = at.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Hour))).Round(time.Second)
		pipe++
		stage2 := at
		for range 3 {
			id++
			d := dur(3 * time.Minute)
			fmt.Fprintf(&b, "%d,%d,%d,%d,docker;linux,%d,build\n", id, at.Unix(), at.Unix(), at.Add(d).Unix(), pipe)
			if e := at.Add(d); e.After(stage2) {
				stage2 = e
			}
		}
		for range 2 {
			id++
			d := dur(6 * time.Minute)
			fmt.Fprintf(&b, "%d,%d,%d,%d,docker;linux,%d,test\n", id, stage2.Unix(), stage2.Unix(), stage2.Add(d).Unix(), pipe)
		}
	}
	if err := os.WriteFile(shippedTrace, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d jobs in %d pipelines", id, pipe)
}

// pushTrace is the generated trace with pipeline structure.
const pushTrace = "testdata/pushes_fanout_3d.csv"

// TestGeneratePushTrace rewrites testdata/pushes_fanout_3d.csv when
// RUNFLEET_REGEN_TRACE=1: three weekdays of pushes to three repositories
// whose workflows run a short first stage and then fan out, with the run
// columns (repo, run_id, workflow, run_created_at_unix) a live fleet sees
// from workflow_run / pipeline events. Each run is created at the moment
// its first stage queues (no earlier signal); its fan-out queues when the
// first stage's last job ends; a final stage follows in one workflow.
// Jobs of the fan-out are skipped at random (path filters), durations are
// log-normal, and pushes arrive as Poisson processes, busier in working
// hours (08–18 UTC).
func TestGeneratePushTrace(t *testing.T) {
	if os.Getenv("RUNFLEET_REGEN_TRACE") == "" {
		t.Skip("set RUNFLEET_REGEN_TRACE=1 to rewrite " + pushTrace)
	}
	type stage struct {
		name   string
		jobs   int
		keep   float64 // chance each job runs
		median time.Duration
	}
	type workflow struct {
		repo, name, labels string
		busy, quiet        float64 // pushes per hour
		stages             []stage
	}
	flows := []workflow{
		{"acme/web", "ci", "self-hosted;linux;x64", 6, 0.5, []stage{
			{"lint", 1, 1, 75 * time.Second}, {"test", 12, 0.9, 4 * time.Minute}, {"build", 2, 1, 3 * time.Minute}}},
		{"acme/api", "ci", "self-hosted;linux;x64", 4, 0.3, []stage{
			{"check", 2, 1, 90 * time.Second}, {"test", 8, 0.85, 6 * time.Minute}, {"deploy", 1, 0.5, 2 * time.Minute}}},
		{"acme/mobile", "build", "self-hosted;linux;x64", 2, 0.2, []stage{
			{"setup", 1, 1, 2 * time.Minute}, {"matrix", 20, 0.95, 8 * time.Minute}}},
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	start := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC) // a Monday
	end := start.Add(72 * time.Hour)
	dur := func(median time.Duration) time.Duration {
		d := time.Duration(float64(median) * math.Exp(0.4*rng.NormFloat64()))
		return max(d, 15*time.Second).Round(time.Second)
	}
	type row struct {
		queued, finished time.Time
		line             string
	}
	var rows []row
	id, run := 0, 0
	for _, wf := range flows {
		for at := start; ; {
			rate := wf.quiet
			if h := at.Hour(); h >= 8 && h < 18 {
				rate = wf.busy
			}
			at = at.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Hour))).Round(time.Second)
			if !at.Before(end) {
				break
			}
			run++
			queue := at
			for si, st := range wf.stages {
				next := queue
				for range st.jobs {
					if si > 0 && rng.Float64() >= st.keep {
						continue
					}
					id++
					d := dur(st.median)
					rows = append(rows, row{queue, queue.Add(d), fmt.Sprintf("%d,%d,%d,%d,%s,%s,%d,%s,%d,%s",
						id, queue.Unix(), queue.Unix(), queue.Add(d).Unix(), wf.labels, wf.repo, run, wf.name, at.Unix(), st.name)})
					if e := queue.Add(d); e.After(next) {
						next = e
					}
				}
				queue = next
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b row) int { return a.queued.Compare(b.queued) })
	var b strings.Builder
	b.WriteString("job_id,queued_at_unix,started_at_unix,finished_at_unix,labels,repo,run_id,workflow,run_created_at_unix,stage\n")
	for _, r := range rows {
		b.WriteString(r.line + "\n")
	}
	if err := os.WriteFile(pushTrace, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d jobs in %d runs", id, run)
}
