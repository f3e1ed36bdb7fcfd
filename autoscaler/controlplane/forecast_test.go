package controlplane_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/forecast"
	"github.com/runfleet/runfleet/autoscaler/policy"
)

// startLog records queue waits the live forecast reports.
type startLog struct {
	mu    sync.Mutex
	waits []string
}

func (s *startLog) PoolFor(labels []string) string { return strings.Join(labels, "+") }

func (s *startLog) ObserveJobStarted(pool string, queued, started time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, fmt.Sprintf("%s %s", pool, started.Sub(queued)))
}

func render(exp []policy.ExpectedJobs) string {
	var out []string
	for _, e := range exp {
		out = append(out, fmt.Sprintf("%s/%s=%g", strings.Join(e.Labels, ","), e.Within, e.Count))
	}
	return strings.Join(out, " ")
}

// feedRun feeds one run of a two-wave workflow as the clock passes: 1
// job at +5 s, then 3 at +60 s.
func feedRun(lf *controlplane.LiveForecast, c *clock, id string) {
	ev := func(k forecast.EventKind, job string) {
		lf.Observe(forecast.Event{Kind: k, At: c.Now(), Repo: "acme/app", Workflow: "CI", RunID: id, JobID: job, Labels: []string{"linux"}})
	}
	ev(forecast.RunStarted, "")
	c.Add(5 * time.Second)
	ev(forecast.JobQueued, "build")
	c.Add(55 * time.Second)
	for i := range 3 {
		ev(forecast.JobQueued, fmt.Sprint("test", i))
	}
	c.Add(2 * time.Minute)
}

// startRun starts run id and queues its first job 5 s later, then lets
// 20 s pass: its wave of 3 is 35 s away.
func startRun(lf *controlplane.LiveForecast, c *clock, id string) {
	lf.Observe(forecast.Event{Kind: forecast.RunStarted, At: c.Now(), Repo: "acme/app", Workflow: "CI", RunID: id})
	c.Add(5 * time.Second)
	lf.Observe(forecast.Event{Kind: forecast.JobQueued, At: c.Now(), Repo: "acme/app", Workflow: "CI", RunID: id, JobID: "build", Labels: []string{"linux"}})
	c.Add(20 * time.Second)
}

func TestLiveForecast(t *testing.T) {
	hs := []time.Duration{15 * time.Second, 45 * time.Second}
	t.Run("learns a workflow and expects its later wave at the next run's start", func(t *testing.T) {
		c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
		lf := controlplane.NewLiveForecast(forecast.Config{}, c.Now)
		feedRun(lf, c, "1")
		startRun(lf, c, "2")
		if got, want := render(lf.Expected(c.Now(), hs)), "linux/45s=3"; got != want {
			t.Errorf("expected %q, want %q", got, want)
		}
	})
	t.Run("late and future events keep time order", func(t *testing.T) {
		c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
		lf := controlplane.NewLiveForecast(forecast.Config{}, c.Now)
		log := &startLog{}
		lf.ReportStarts(log)
		ev := func(k forecast.EventKind, at time.Time, job string) {
			lf.Observe(forecast.Event{Kind: k, At: at, Repo: "r", Workflow: "w", RunID: "1", JobID: job, Labels: []string{"linux"}})
		}
		ev(forecast.RunStarted, c.Now(), "")
		ev(forecast.JobQueued, c.Now().Add(time.Hour), "a") // a clock ahead: now
		c.Add(10 * time.Second)
		ev(forecast.JobStarted, c.Now().Add(-time.Minute), "a") // before its queue time: at it
		ev(forecast.JobQueued, c.Now(), "b")
		c.Add(7 * time.Second)
		ev(forecast.JobStarted, c.Now(), "b")
		ev(forecast.JobStarted, c.Now(), "b") // again: one wait
		if got, want := strings.Join(log.waits, ";"), "linux 0s;linux 7s"; got != want {
			t.Errorf("waits %q, want %q", got, want)
		}
		// Asked about a time before the last event: no panic, no past.
		_ = lf.Expected(c.Now().Add(-time.Hour), hs)
	})
	t.Run("known jobs raise the forecast, never add to it", func(t *testing.T) {
		c := &clock{t: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
		lf := controlplane.NewLiveForecast(forecast.Config{}, c.Now)
		feedRun(lf, c, "1")
		startRun(lf, c, "2")
		now := c.Now()
		cases := []struct {
			name  string
			known []controlplane.KnownJobs
			want  string
		}{
			{"none", nil, "linux/45s=3"},
			{"the same 3 jobs, known", []controlplane.KnownJobs{{Labels: []string{"linux"}, Count: 3, QueueBy: now.Add(35 * time.Second)}}, "linux/45s=3"},
			{"more than forecast", []controlplane.KnownJobs{{Labels: []string{"linux"}, Count: 5, QueueBy: now.Add(35 * time.Second)}}, "linux/45s=5"},
			{"soon: both horizons", []controlplane.KnownJobs{{Labels: []string{"linux"}, Count: 4, QueueBy: now.Add(10 * time.Second)}}, "linux/15s=4 linux/45s=4"},
			{"overdue counts as now", []controlplane.KnownJobs{{Labels: []string{"gpu"}, Count: 1, QueueBy: now.Add(-time.Hour)}}, "gpu/15s=1 gpu/45s=1 linux/45s=3"},
			{"unknown time: the longest horizon", []controlplane.KnownJobs{{Labels: []string{"gpu"}, Count: 2}}, "gpu/45s=2 linux/45s=3"},
			{"beyond every horizon", []controlplane.KnownJobs{{Labels: []string{"gpu"}, Count: 2, QueueBy: now.Add(time.Hour)}}, "linux/45s=3"},
		}
		for _, tc := range cases {
			lf.SetKnown("gitlab", tc.known)
			if got := render(lf.Expected(now, hs)); got != tc.want {
				t.Errorf("%s: expected %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}
