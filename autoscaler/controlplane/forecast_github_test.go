package controlplane_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-github/v92/github"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/githubhook"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// ghDelivery signs and sends one webhook delivery to rc.
func ghDelivery(t *testing.T, rc *githubhook.Receiver, secret []byte, event string, n int, payload any) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	req := httptest.NewRequest(http.MethodPost, "/github/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", event)
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", n))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	w := httptest.NewRecorder()
	rc.ServeHTTP(w, req)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%s delivery %d: %d %s", event, n, w.Code, w.Body)
	}
}

// TestGitHubWorkflowForecastInTheLoop: the control plane's loop on the
// GitHub webhook receiver and the live forecast. Two runs of a workflow
// (a build, then four tests fanning out 40 s after the run starts) are
// delivered as GitHub sends them; when a third run is requested, the loop
// wants slots for its five jobs before any of them is queued.
func TestGitHubWorkflowForecastInTheLoop(t *testing.T) {
	secret := []byte("It's a Secret to Everybody")
	h := newHarness(t)
	lf := controlplane.NewLiveForecast(forecast.Config{}, h.clock.Now)
	rc, err := githubhook.New(githubhook.Options{Secret: secret, Now: h.clock.Now, Forecast: lf})
	if err != nil {
		t.Fatal(err)
	}
	p := pool
	p.BootTime = 45 * time.Second
	h.tweak = func(o *controlplane.Options) {
		o.Pools, o.Demand, o.Forecaster = []policy.Pool{p}, []controlplane.Demand{rc}, lf
	}
	h.start()
	launched := func() int {
		n := 0
		for _, l := range h.prov.launches {
			n += l.Count
		}
		return n
	}
	repo := &github.Repository{FullName: github.Ptr("acme/app"), Name: github.Ptr("app")}
	wf := &github.Workflow{Name: github.Ptr("CI")}
	delivery := 0
	next := func() int { delivery++; return delivery }
	ts := func(t time.Time) *github.Timestamp { return &github.Timestamp{Time: t} }
	runStart := func(id int64) {
		now := h.clock.Now()
		ghDelivery(t, rc, secret, "workflow_run", next(), &github.WorkflowRunEvent{Action: github.Ptr("requested"), Workflow: wf, Repo: repo,
			WorkflowRun: &github.WorkflowRun{ID: github.Ptr(id), Name: github.Ptr("CI"), RunAttempt: github.Ptr(1), Status: github.Ptr("queued"),
				CreatedAt: ts(now), RunStartedAt: ts(now)}})
	}
	job := func(run, id int64, action string, created, started time.Time) {
		j := &github.WorkflowJob{ID: github.Ptr(id), RunID: github.Ptr(run), RunAttempt: github.Ptr(int64(1)), WorkflowName: github.Ptr("CI"),
			Status: github.Ptr(action), Labels: []string{"linux"}, CreatedAt: ts(created)}
		if action != "queued" {
			j.StartedAt = ts(started)
		}
		if action == "completed" {
			j.CompletedAt = ts(h.clock.Now())
		}
		ghDelivery(t, rc, secret, "workflow_job", next(), &github.WorkflowJobEvent{Action: github.Ptr(action), WorkflowJob: j, Repo: repo})
	}
	// A run as the clock passes: build queued at +5 s, runs 25 s; the
	// four tests queue at +40 s and run 20 s.
	wholeRun := func(run int64) {
		start := h.clock.Now()
		runStart(run)
		h.clock.Add(5 * time.Second)
		build := run * 10
		job(run, build, "queued", h.clock.Now(), time.Time{})
		h.clock.Add(time.Second)
		job(run, build, "in_progress", start.Add(5*time.Second), h.clock.Now())
		h.clock.Add(34 * time.Second)
		job(run, build, "completed", start.Add(5*time.Second), start.Add(6*time.Second))
		for i := range int64(4) {
			job(run, build+1+i, "queued", h.clock.Now(), time.Time{})
		}
		h.clock.Add(time.Second)
		for i := range int64(4) {
			job(run, build+1+i, "in_progress", start.Add(40*time.Second), h.clock.Now())
		}
		h.clock.Add(20 * time.Second)
		for i := range int64(4) {
			job(run, build+1+i, "completed", start.Add(40*time.Second), start.Add(41*time.Second))
		}
		h.clock.Add(10 * time.Minute)
	}
	wholeRun(1)
	wholeRun(2)
	if n := launched(); n != 0 {
		t.Fatalf("%d nodes launched before the third run (no reconcile yet)", n)
	}

	// Run 3 is requested: nothing is queued yet, but its five jobs are
	// due within a cold boot.
	runStart(3)
	h.clock.Add(time.Second)
	h.reconcile()
	if n := launched(); n != 3 {
		t.Errorf("%d nodes launched at the run's start, want 3 (5 jobs, 2 slots a node): %+v", n, h.prov.launches)
	}
	if v := gaugeValue(t, h, "runfleet_fleet_forecast_expected_jobs", "linux"); v != 5 {
		t.Errorf("expected-jobs gauge %v, want 5", v)
	}
	if q, err := rc.Queued(t.Context()); err != nil || len(q) != 0 {
		t.Errorf("queued %v, %v: want none", q, err)
	}
}
