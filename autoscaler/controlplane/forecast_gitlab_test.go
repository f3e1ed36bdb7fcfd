package controlplane_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/demand/gitlab"
	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// TestGitLabPipelineWantsSlotsBeforeJobsQueue runs the control plane's
// loop on the GitLab demand source and its pipeline watcher, against the
// strict fake GitLab: a pipeline whose build runs and whose four tests
// wait in created makes the loop launch nodes for the tests before any of
// them is pending; when the pipeline is cancelled, the demand is gone.
func TestGitLabPipelineWantsSlotsBeforeJobsQueue(t *testing.T) {
	app := gitlabapitest.Project{ID: 17, Path: "grp/app"}
	var mu sync.Mutex
	var pipeline gitlabapitest.Pipeline
	fake := gitlabapitest.New("glpat-fleet", func(p string) ([]gitlabapitest.Job, bool) {
		mu.Lock()
		defer mu.Unlock()
		var pending []gitlabapitest.Job
		for _, j := range pipeline.Jobs {
			if j.Status == "pending" {
				pending = append(pending, gitlabapitest.Job{ID: j.ID, Name: j.Name, Tags: j.Tags})
			}
		}
		return pending, p == app.Path
	})
	defer fake.Close()
	setPipeline := func(pl gitlabapitest.Pipeline) {
		mu.Lock()
		pipeline = pl
		mu.Unlock()
		fake.SetPipelines(app, pl)
	}

	h := newHarness(t)
	lf := controlplane.NewLiveForecast(forecast.Config{}, h.clock.Now)
	src, err := gitlab.New(gitlab.Options{BaseURL: fake.URL(), Token: "glpat-fleet", Projects: []string{app.Path}, Forecast: lf, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	p := pool
	p.BootTime = 45 * time.Second
	h.tweak = func(o *controlplane.Options) {
		o.Pools, o.Demand, o.Forecaster = []policy.Pool{p}, []controlplane.Demand{src}, lf
	}
	h.start()
	lf.ReportStarts(h.cp)
	launched := func() int {
		n := 0
		for _, l := range h.prov.launches {
			n += l.Count
		}
		return n
	}

	now := h.clock.Now()
	pl := gitlabapitest.Pipeline{ID: 500, Status: "running", Created: now.Add(-20 * time.Second), Jobs: []gitlabapitest.PipelineJob{
		{ID: 5001, Name: "build", Stage: "build", Status: "running", Tags: []string{"linux"}, Created: now.Add(-20 * time.Second), Started: now.Add(-15 * time.Second), QueuedDuration: 5},
	}}
	for i := range 4 {
		pl.Jobs = append(pl.Jobs, gitlabapitest.PipelineJob{ID: int64(5002 + i), Name: "test", Stage: "test", Status: "created", Tags: []string{"linux"}, Created: now.Add(-20 * time.Second)})
	}
	setPipeline(pl)

	// Without the pipeline watcher the loop sees nothing to do: no job
	// is pending.
	h.reconcile()
	if n := launched(); n != 0 {
		t.Fatalf("%d nodes launched with nothing pending", n)
	}
	q, err := src.Queued(context.Background())
	if err != nil || len(q) != 0 {
		t.Fatalf("queued %v, %v: want none", q, err)
	}

	// The watcher lists the pipeline: four created tests are known
	// demand, so the loop wants 4 slots (2 nodes) now, while the build
	// still runs.
	if err := src.WatchPipelines(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if n := launched(); n != 2 {
		t.Fatalf("%d nodes launched for 4 created tests, want 2 (2 slots each): %+v", n, h.prov.launches)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_forecast_expected_jobs", "linux"); v != 4 {
		t.Errorf("expected-jobs gauge %v, want 4", v)
	}

	// The build ends and the tests queue, then start 5 s later: the
	// live events report the jobs' queue waits.
	h.clock.Add(30 * time.Second)
	pl.Jobs[0].Status = "success"
	for i := range 4 {
		pl.Jobs[1+i].Status = "pending"
	}
	setPipeline(pl)
	if err := src.WatchPipelines(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(5 * time.Second)
	for i := range 4 {
		pl.Jobs[1+i].Status, pl.Jobs[1+i].Started, pl.Jobs[1+i].QueuedDuration = "running", h.clock.Now(), 5
	}
	setPipeline(pl)
	if err := src.WatchPipelines(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := series(t, h, "runfleet_fleet_job_wait_seconds", controlplane.PhaseTotal).GetHistogram()
	// The build, first seen running, had waited 5 s too (its
	// queued_duration).
	if total.GetSampleCount() != 5 || total.GetSampleSum() != 25 {
		t.Errorf("queue waits: %d jobs, %v s in all; want 5 jobs of 5 s", total.GetSampleCount(), total.GetSampleSum())
	}

	// The pipeline is cancelled: no demand is known any more, and nothing
	// more is launched.
	h.clock.Add(10 * time.Second)
	pl.Status = "canceled"
	for i := range pl.Jobs {
		pl.Jobs[i].Status = "canceled"
	}
	setPipeline(pl)
	if err := src.WatchPipelines(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if n := launched(); n != 2 {
		t.Errorf("%d nodes launched after the cancel, want still 2", n)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_forecast_expected_jobs", "linux"); v != 0 {
		t.Errorf("expected-jobs gauge %v after the cancel, want 0", v)
	}
}
