package githubhook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/runfleet/runfleet/autoscaler/forecast"
)

// recorder is a Forecast that keeps what it was fed.
type recorder struct {
	mu     sync.Mutex
	events []forecast.Event
}

func (r *recorder) Observe(e forecast.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// lines renders the events as "kind at repo workflow run job labels".
func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, fmt.Sprintf("%s %s %s %s %s %s %s", e.Kind, e.At.UTC().Format(time.RFC3339), e.Repo, e.Workflow, e.RunID, e.JobID, strings.Join(e.Labels, ",")))
	}
	return out
}

// runFixture reads a workflow_run payload written from GitHub's
// documented shape (see testdata/README.md).
func runFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "workflow_run", name+".payload.json"))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// step is one signed delivery of a fixture.
type step struct {
	event, fixture string
	id             string // X-GitHub-Delivery; "" for a fresh one
	want           int    // status code
}

func TestWorkflowDeliveriesFeedTheForecast(t *testing.T) {
	const (
		run      = "run-started 2021-09-13T02:21:10Z codertocat/hello-world CodeQL 2202229078/1  "
		queued   = "job-queued 2021-09-13T02:21:13Z codertocat/hello-world CodeQL 2202229078/1 289782451 ubuntu-latest"
		started  = "job-started 2021-09-13T02:21:13Z codertocat/hello-world CodeQL 2202229078/1 289782451 ubuntu-latest"
		finished = "job-finished 2021-08-05T10:38:16Z codertocat/hello-world CodeQL 2202229078/1 289782451 ubuntu-latest"
		// The completed fixture is of another day: its own times.
		queuedC  = "job-queued 2021-08-05T10:33:58Z codertocat/hello-world CodeQL 2202229078/1 289782451 ubuntu-latest"
		startedC = "job-started 2021-08-05T10:34:58Z codertocat/hello-world CodeQL 2202229078/1 289782451 ubuntu-latest"
	)
	cases := []struct {
		name  string
		steps []step
		want  []string
	}{
		{"a run's whole life", []step{
			{"workflow_run", "requested", "", 202}, {"workflow_job", "queued", "", 202},
			{"workflow_run", "in_progress", "", 202}, {"workflow_job", "in_progress", "", 202},
			{"workflow_job", "completed.success.with-organization", "", 202}, {"workflow_run", "completed", "", 202},
		}, []string{run, queued, started, finished}},
		{"requested lost: the run starts at its first delivery", []step{
			{"workflow_run", "in_progress", "", 202}, {"workflow_job", "queued", "", 202},
		}, []string{run, queued}},
		{"queued lost: in_progress feeds queued then started", []step{
			{"workflow_job", "in_progress", "", 202},
		}, []string{queued, started}},
		{"only completed arrived", []step{
			{"workflow_job", "completed.success.with-organization", "", 202},
		}, []string{queuedC, startedC, finished}},
		{"a completed run feeds nothing", []step{{"workflow_run", "completed", "", 202}}, nil},
		{"a late queued after the start changes nothing", []step{
			{"workflow_job", "in_progress", "", 202}, {"workflow_job", "queued", "", 202},
		}, []string{queued, started}},
		{"GitHub's redelivery (a new id) feeds once", []step{
			{"workflow_run", "requested", "", 202}, {"workflow_run", "requested", "", 202},
			{"workflow_job", "queued", "", 202}, {"workflow_job", "queued", "", 202},
		}, []string{run, queued}},
		{"a replayed delivery id is dropped", []step{
			{"workflow_run", "requested", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 202},
			{"workflow_run", "requested", "72d3162e-cc78-11e3-81ab-4c9367dc0958", 202},
		}, []string{run}},
		{"waiting is not runnable yet", []step{{"workflow_job", "waiting", "", 202}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := &recorder{}
			rc, err := New(Options{Secret: secret, Now: newClock().now, Forecast: fc, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				var body []byte
				if s.event == "workflow_run" {
					body = runFixture(t, s.fixture)
				} else {
					body = fixture(t, s.fixture)
				}
				if s.fixture == "waiting" { // the waiting fixture is of another run: same repo for the check
					body = []byte(strings.ReplaceAll(string(body), "lineville/elastic-machines-testing", "Codertocat/Hello-World"))
				}
				id := s.id
				if id == "" {
					id = fmt.Sprintf("72d3162e-cc78-11e3-81ab-%012d", deliveryIDs.Add(1))
				}
				if code := deliverID(t, rc, s.event, id, body, sign(body, secret)); code != s.want {
					t.Fatalf("%s %s: %d, want %d", s.event, s.fixture, code, s.want)
				}
			}
			got := fc.lines()
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("fed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestWorkflowRunChecks(t *testing.T) {
	good := runFixture(t, "requested")
	var ev map[string]any
	if err := json.Unmarshal(good, &ev); err != nil {
		t.Fatal(err)
	}
	delete(ev["workflow_run"].(map[string]any), "id")
	noID, _ := json.Marshal(ev)
	cases := []struct {
		name   string
		body   []byte
		sig    string
		code   int
		result string
	}{
		{"signed", good, sign(good, secret), http.StatusAccepted, "ok"},
		{"wrong secret", good, sign(good, []byte("nope")), http.StatusUnauthorized, "bad_signature"},
		{"unsigned", good, "", http.StatusUnauthorized, "bad_signature"},
		{"no run id", noID, sign(noID, secret), http.StatusBadRequest, "bad_payload"},
		{"not JSON", []byte("{"), sign([]byte("{"), secret), http.StatusBadRequest, "bad_payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fc := &recorder{}
			reg := prometheus.NewRegistry()
			rc, err := New(Options{Secret: secret, Now: newClock().now, Forecast: fc, Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			if code := deliver(t, rc, "workflow_run", tc.body, tc.sig); code != tc.code {
				t.Fatalf("code %d, want %d", code, tc.code)
			}
			event, action := "workflow_run", ""
			if tc.result == "bad_signature" {
				event = eventUnverified
			}
			if tc.result == "ok" {
				action = "requested"
			}
			if n := testutil.ToFloat64(rc.deliveries.WithLabelValues(event, action, tc.result)); n != 1 {
				t.Errorf("deliveries{%s,%s,%s} = %v", event, action, tc.result, n)
			}
			if fed := len(fc.lines()); (tc.result == "ok") != (fed == 1) {
				t.Errorf("fed %d events", fed)
			}
		})
	}
}

func TestReconcileRecoversLostWorkflowRun(t *testing.T) {
	fake := newRESTFake(t)
	sh := []string{"self-hosted", "linux"}
	// No delivery of run 9 arrived: its requested, its first job's queued
	// and in_progress were all lost.
	fake.set("acme/app", restRun{id: 9, jobs: []restJob{{id: 91, status: "in_progress", labels: sh}, {id: 92, status: "queued", labels: sh}}})
	fc := &recorder{}
	clock := &manualClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), step: time.Second}
	rc, err := New(Options{Secret: secret, Now: clock.now, Actions: fake.client(t, restToken).Actions,
		Repos: []string{"acme/app"}, Registerer: prometheus.NewRegistry(), Forecast: fc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Reconcile(deadline(t)); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, l := range fc.lines() {
		f := strings.Fields(l)
		kinds = append(kinds, strings.Join(append(f[:1], f[3:]...), " "))
	}
	want := []string{
		"run-started CI 9/1",
		"job-queued CI 9/1 91 linux,self-hosted",
		"job-queued CI 9/1 92 linux,self-hosted",
		"job-started CI 9/1 91 linux,self-hosted",
	}
	if strings.Join(kinds, "\n") != strings.Join(want, "\n") {
		t.Fatalf("fed:\n%s\nwant:\n%s", strings.Join(kinds, "\n"), strings.Join(want, "\n"))
	}
	// The deliveries arrive late after all, and the next reconcile lists
	// the same: nothing is fed twice.
	send(t, rc, "queued", 92, "acme/app", sh...)
	if _, err := rc.Reconcile(deadline(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(fc.lines()); n != len(want) {
		t.Errorf("fed %d events after the repeat, want %d", n, len(want))
	}
}
