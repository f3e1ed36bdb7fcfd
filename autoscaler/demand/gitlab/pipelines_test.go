package gitlab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runfleet/runfleet/autoscaler/controlplane"
	"github.com/runfleet/runfleet/autoscaler/demand/gitlab/gitlabapitest"
	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// recorder is a Forecast that keeps what it is fed; means are the mean
// run times it answers, by tag set.
type recorder struct {
	mu     sync.Mutex
	t0     time.Time
	events []string
	known  map[string][]controlplane.KnownJobs
	means  map[string]time.Duration
}

func newRecorder(t0 time.Time) *recorder {
	return &recorder{t0: t0, known: map[string][]controlplane.KnownJobs{}, means: map[string]time.Duration{}}
}

func (r *recorder) Observe(e forecast.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%s %+ds %s %s %s %s %s", e.Kind, int(e.At.Sub(r.t0).Seconds()), e.Repo, e.Workflow, e.RunID, e.JobID, strings.Join(e.Labels, ",")))
}

func (r *recorder) SetKnown(source string, jobs []controlplane.KnownJobs) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known[source] = jobs
}

func (r *recorder) MeanDuration(repo, workflow string, labels []string) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.means[strings.Join(labels, ",")]
	return d, ok
}

// take returns the events fed since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.events = nil
	return out
}

// knownLines renders the known jobs as "labels×count@offset" (offset
// "?" for no time).
func (r *recorder) knownLines(source string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, k := range r.known[source] {
		at := "?"
		if !k.QueueBy.IsZero() {
			at = fmt.Sprintf("%+ds", int(k.QueueBy.Sub(r.t0).Seconds()))
		}
		out = append(out, fmt.Sprintf("%s×%d@%s", strings.Join(k.Labels, ","), k.Count, at))
	}
	return strings.Join(out, " ")
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// pipelineAt is pipeline 100 of grp/app (a build, three tests, a deploy)
// with its jobs in the given states.
func pipelineAt(status, build, test, deploy string) gitlabapitest.Pipeline {
	pl := gitlabapitest.Pipeline{ID: 100, Status: status, Created: at(-10)}
	job := func(id int64, name, stage, st string, tags ...string) gitlabapitest.PipelineJob {
		j := gitlabapitest.PipelineJob{ID: id, Name: name, Stage: stage, Status: st, Tags: tags, Created: at(-10)}
		switch st {
		case "pending":
			j.QueuedDuration = 4
		case "running", "success":
			j.Started, j.QueuedDuration = at(5), 15
		}
		return j
	}
	pl.Jobs = append(pl.Jobs, job(1001, "build", "build", build, "linux"))
	for i := range 3 {
		pl.Jobs = append(pl.Jobs, job(int64(1002+i), fmt.Sprint("test ", i+1), "test", test, "linux", "docker"))
	}
	pl.Jobs = append(pl.Jobs, job(1005, "deploy", "deploy", deploy, "deploy"))
	return pl
}

func TestWatchPipelines(t *testing.T) {
	app := gitlabapitest.Project{ID: 17, Path: "grp/app"}
	const (
		run = "run-started -10s gitlab:17 push 100  "
		src = "gitlab "
	)
	passes := []struct {
		name   string
		now    int
		means  map[string]time.Duration
		state  []gitlabapitest.Pipeline
		events []string
		known  string
	}{
		{"pipeline created: the run starts, later stages are known, their time is not", 0, nil,
			[]gitlabapitest.Pipeline{pipelineAt("pending", "pending", "created", "created")},
			[]string{run, "job-queued -4s gitlab:17 push 100 1001 linux"},
			"docker,linux×3@?"},
		{"with run times learned, each stage gets its time", 0,
			map[string]time.Duration{"linux": 30 * time.Second, "docker,linux": 20 * time.Second, "deploy": 5 * time.Second},
			[]gitlabapitest.Pipeline{pipelineAt("pending", "pending", "created", "created")},
			nil,
			"docker,linux×3@+30s deploy×1@+50s"},
		{"the build runs: the tests are due at its start plus its run time", 20, nil,
			[]gitlabapitest.Pipeline{pipelineAt("running", "running", "created", "created")},
			[]string{"job-started +5s gitlab:17 push 100 1001 linux"},
			"docker,linux×3@+35s deploy×1@+55s"},
		{"the build is done, the tests queue", 40, nil,
			[]gitlabapitest.Pipeline{pipelineAt("running", "success", "pending", "created")},
			[]string{
				"job-queued +36s gitlab:17 push 100 1002 docker,linux", "job-queued +36s gitlab:17 push 100 1003 docker,linux",
				"job-queued +36s gitlab:17 push 100 1004 docker,linux", "job-finished +40s gitlab:17 push 100 1001 linux"},
			"deploy×1@+60s"},
		{"waiting for a resource (not listed): still in progress, nothing ends", 50, nil,
			[]gitlabapitest.Pipeline{pipelineAt("waiting_for_resource", "success", "pending", "created")},
			nil,
			"deploy×1@+70s"},
		{"the pipeline ended: its jobs ended, nothing is known", 90, nil,
			[]gitlabapitest.Pipeline{pipelineAt("failed", "success", "failed", "skipped")},
			[]string{
				"job-finished +90s gitlab:17 push 100 1002 docker,linux", "job-finished +90s gitlab:17 push 100 1003 docker,linux",
				"job-finished +90s gitlab:17 push 100 1004 docker,linux"},
			""},
	}
	fake := gitlabapitest.New("glpat-good", nil)
	defer fake.Close()
	clock := &testClock{t: t0}
	rec := newRecorder(t0)
	s, err := New(Options{BaseURL: fake.URL(), Token: "glpat-good", Projects: []string{"grp/app"}, Forecast: rec, Now: clock.now})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range passes {
		clock.set(at(p.now))
		for k, v := range p.means {
			rec.means[k] = v
		}
		fake.SetPipelines(app, p.state...)
		if err := s.WatchPipelines(context.Background()); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		got := rec.take()
		// Events of one instant come in listing order; compare as sets.
		if strings.Join(slices.Sorted(slices.Values(got)), "\n") != strings.Join(slices.Sorted(slices.Values(p.events)), "\n") {
			t.Errorf("%s: fed\n%s\nwant\n%s", p.name, strings.Join(got, "\n"), strings.Join(p.events, "\n"))
		}
		if got := rec.knownLines(src + fake.URL()); got != p.known {
			t.Errorf("%s: known %q, want %q", p.name, got, p.known)
		}
	}
	// What the source asked: active pipelines by status, then the jobs
	// of each with the created, pending and running scopes: 4 requests a
	// pass while the pipeline is listed (3 status listings, 1 of its
	// jobs), 5 when it is not and still in progress (its status, its
	// jobs), 4 when it ended (its status).
	if n, want := len(fake.PipelineRequests()), 4*4+5+4; n != want {
		t.Errorf("%d requests in %d passes, want %d", n, len(passes), want)
	}
	asked := strings.Join(fake.PipelineRequests(), "\n")
	for _, want := range []string{
		"/api/v4/projects/grp%2Fapp/pipelines?page=1&per_page=100&status=created",
		"/api/v4/projects/grp%2Fapp/pipelines?page=1&per_page=100&status=running",
		"/api/v4/projects/17/pipelines/100/jobs?page=1&per_page=100&scope%5B%5D=created&scope%5B%5D=pending&scope%5B%5D=running",
	} {
		if !strings.Contains(asked, want) {
			t.Errorf("no request %s in\n%s", want, asked)
		}
	}
}

func TestWatchPipelinesOfGroupsAndInstance(t *testing.T) {
	fake := gitlabapitest.New("glpat-good", nil)
	defer fake.Close()
	fake.SetPipelines(gitlabapitest.Project{ID: 17, Path: "grp/app"}, pipelineAt("pending", "pending", "created", "created"))
	fake.SetPipelines(gitlabapitest.Project{ID: 18, Path: "grp/sub/lib"}, gitlabapitest.Pipeline{ID: 7, Status: "running", Created: at(-1),
		Jobs: []gitlabapitest.PipelineJob{{ID: 70, Stage: "test", Status: "running", Tags: []string{"gpu"}, Started: at(0)}}})
	fake.SetPipelines(gitlabapitest.Project{ID: 19, Path: "old/idle", LastActivity: at(-3 * 86400)})
	fake.SetGroup("grp", 17, 18)
	cases := []struct {
		name     string
		o        Options
		runs     int
		wantErr  string
		wantAsks string
		notAsked string
	}{
		{"a group's projects, subgroups included", Options{Groups: []string{"grp"}}, 2, "", "/api/v4/groups/grp/projects?archived=false&include_subgroups=true", "/projects/19/"},
		{"a project named twice is read once", Options{Groups: []string{"grp"}, Projects: []string{"grp/app"}}, 2, "", "/projects/grp%2Fapp/pipelines", "/projects/17/pipelines?"},
		{"the instance: projects active in the last day", Options{Instance: true}, 2, "", "/api/v4/projects?archived=false&last_activity_after=", "/projects/19/"},
		{"an unknown group", Options{Groups: []string{"nope"}}, 0, "404", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(fake.PipelineRequests())
			rec := newRecorder(t0)
			o := tc.o
			o.BaseURL, o.Token, o.Forecast, o.Now = fake.URL(), "glpat-good", rec, func() time.Time { return t0 }
			s, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			err = s.WatchPipelines(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			runs := 0
			for _, e := range rec.take() {
				if strings.HasPrefix(e, "run-started") {
					runs++
				}
			}
			if runs != tc.runs {
				t.Errorf("%d runs started, want %d", runs, tc.runs)
			}
			asked := strings.Join(fake.PipelineRequests()[before:], "\n")
			if !strings.Contains(asked, tc.wantAsks) {
				t.Errorf("no request %s in\n%s", tc.wantAsks, asked)
			}
			if strings.Contains(asked, tc.notAsked) {
				t.Errorf("asked %s:\n%s", tc.notAsked, asked)
			}
		})
	}
}

func TestWatchPipelinesErrors(t *testing.T) {
	fake := gitlabapitest.New("glpat-good", nil)
	defer fake.Close()
	fake.SetPipelines(gitlabapitest.Project{ID: 17, Path: "grp/app"}, pipelineAt("pending", "pending", "created", "created"))
	cases := []struct {
		name, token, project, want string
	}{
		{"a wrong token", "glpat-bad", "17", "401"},
		{"an unknown project", "glpat-good", "404", "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder(t0)
			s, err := New(Options{BaseURL: fake.URL(), Token: tc.token, Projects: []string{tc.project}, Forecast: rec})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.WatchPipelines(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
			if ev := rec.take(); len(ev) != 0 {
				t.Errorf("fed %v", ev)
			}
		})
	}
	s, err := New(Options{BaseURL: fake.URL(), Token: "glpat-good", Projects: []string{"17"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.WatchPipelines(context.Background()); err == nil {
		t.Error("watching without a Forecast: no error")
	}
}
