package githubhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v92/github"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

const restToken = "ghs_reconcileTestToken"

// restJob is one workflow job on the fake REST API.
type restJob struct {
	id     int64
	status string // queued | in_progress | completed | waiting
	labels []string
}

type restRun struct {
	id   int64
	jobs []restJob
}

// status is the run's status as GitHub derives it from its jobs.
func (r restRun) status() string {
	all := func(s string) bool {
		return !slices.ContainsFunc(r.jobs, func(j restJob) bool { return j.status != s })
	}
	switch {
	case all("completed"):
		return "completed"
	case all("queued"):
		return "queued"
	case all("waiting"):
		return "waiting"
	}
	return "in_progress"
}

// restFake is a small strict stand-in for GitHub's REST Actions API
// (GHES layout under /api/v3): list workflow runs of a repository by
// status, list the jobs of a run, with GitHub's pagination (Link header),
// rate-limit headers, 401 on bad credentials, 404 on unknown
// repositories and 422 on invalid query values.
type restFake struct {
	t   *testing.T
	srv *httptest.Server
	// job is the recorded workflow_job object every listed job is shaped
	// from, read in the test goroutine: handlers never call t.Fatal (that
	// would end the handler goroutine with mu held and hang the client).
	job []byte

	mu       sync.Mutex
	repos    map[string][]restRun // "owner/name"
	failing  map[string]bool      // answer 500 for this repository
	onJobs   func()               // called (unlocked) in the handler when jobs are listed
	requests []string
}

func newRESTFake(t *testing.T) *restFake {
	var ev struct {
		WorkflowJob json.RawMessage `json:"workflow_job"`
	}
	if err := json.Unmarshal(fixture(t, "queued"), &ev); err != nil {
		t.Fatal(err)
	}
	f := &restFake{t: t, job: ev.WorkflowJob, repos: map[string][]restRun{}, failing: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/actions/runs", f.auth(f.handleRuns))
	mux.HandleFunc("GET /api/v3/repos/{owner}/{repo}/actions/runs/{run}/jobs", f.auth(f.handleJobs))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("rest fake: unexpected %s %s", r.Method, r.URL)
		restError(w, http.StatusNotFound, "Not Found")
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *restFake) client(t *testing.T, token string) *github.Client {
	c, err := github.NewClient(github.WithTimeout(10*time.Second), // a stuck fake fails the test, never hangs it
		github.WithAuthToken(token), github.WithEnterpriseURLs(f.srv.URL, f.srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func restError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"message": msg, "documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status),
	})
}

func (f *restFake) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.URL.Path+"?"+r.URL.RawQuery)
		f.mu.Unlock()
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "4999")
		w.Header().Set("X-RateLimit-Used", "1")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		w.Header().Set("X-RateLimit-Resource", "core")
		if r.Header.Get("Authorization") != "Bearer "+restToken {
			restError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		if !strings.Contains(r.Header.Get("Accept"), "application/vnd.github") {
			f.t.Errorf("rest fake: Accept %q", r.Header.Get("Accept"))
		}
		full := r.PathValue("owner") + "/" + r.PathValue("repo")
		f.mu.Lock()
		_, known := f.repos[full]
		failing := f.failing[full]
		f.mu.Unlock()
		switch {
		case !known:
			restError(w, http.StatusNotFound, "Not Found")
		case failing:
			restError(w, http.StatusInternalServerError, "Server Error")
		default:
			h(w, r)
		}
	}
}

// page applies per_page/page and sets the Link header.
func page[T any](w http.ResponseWriter, r *http.Request, items []T) ([]T, bool) {
	q := r.URL.Query()
	per, pg := 30, 1
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			restError(w, http.StatusUnprocessableEntity, "Validation Failed")
			return nil, false
		}
		per = n
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			restError(w, http.StatusUnprocessableEntity, "Validation Failed")
			return nil, false
		}
		pg = n
	}
	last := max(1, (len(items)+per-1)/per)
	link := func(p int, rel string) string {
		u := *r.URL
		u.Scheme, u.Host = "http", r.Host
		qq := u.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
	}
	if pg < last {
		w.Header().Set("Link", link(pg+1, "next")+", "+link(last, "last"))
	}
	lo := min(len(items), (pg-1)*per)
	return items[lo:min(len(items), lo+per)], true
}

func (f *restFake) handleRuns(w http.ResponseWriter, r *http.Request) {
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	status := r.URL.Query().Get("status")
	valid := []string{"", "completed", "action_required", "cancelled", "failure", "neutral", "skipped", "stale", "success",
		"timed_out", "in_progress", "queued", "requested", "waiting", "pending"}
	if !slices.Contains(valid, status) {
		restError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	f.mu.Lock()
	var runs []map[string]any
	for _, run := range f.repos[full] {
		if status != "" && run.status() != status {
			continue
		}
		runs = append(runs, map[string]any{
			"id": run.id, "name": "CI", "node_id": "WFR_" + strconv.FormatInt(run.id, 10), "head_branch": "main",
			"head_sha": "d6fde92930d4715a2b49857d24b940956b26d2d3", "run_number": run.id, "run_attempt": 1,
			"event": "push", "status": run.status(), "conclusion": nil, "workflow_id": 159038,
			"url":        f.srv.URL + "/api/v3/repos/" + full + "/actions/runs/" + strconv.FormatInt(run.id, 10),
			"jobs_url":   f.srv.URL + "/api/v3/repos/" + full + "/actions/runs/" + strconv.FormatInt(run.id, 10) + "/jobs",
			"created_at": "2026-11-23T10:00:00Z", "updated_at": "2026-11-23T10:00:05Z",
		})
	}
	f.mu.Unlock()
	total := len(runs)
	runs, ok := page(w, r, runs)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"total_count": total, "workflow_runs": orEmpty(runs)})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (f *restFake) handleJobs(w http.ResponseWriter, r *http.Request) {
	full := r.PathValue("owner") + "/" + r.PathValue("repo")
	if v := r.URL.Query().Get("filter"); v != "" && v != "latest" && v != "all" {
		restError(w, http.StatusUnprocessableEntity, "Validation Failed")
		return
	}
	runID, _ := strconv.ParseInt(r.PathValue("run"), 10, 64)
	f.mu.Lock()
	hook := f.onJobs
	var listed []restJob
	found := false
	for _, run := range f.repos[full] {
		if run.id == runID {
			found = true
			listed = append(listed, run.jobs...)
		}
	}
	f.mu.Unlock()
	if !found {
		restError(w, http.StatusNotFound, "Not Found")
		return
	}
	var jobs []map[string]any
	for _, j := range listed {
		job, err := f.jobJSON(full, runID, j)
		if err != nil {
			f.t.Errorf("rest fake: %v", err)
			restError(w, http.StatusInternalServerError, "Server Error")
			return
		}
		jobs = append(jobs, job)
	}
	if hook != nil {
		hook()
	}
	total := len(jobs)
	jobs, ok := page(w, r, jobs)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(map[string]any{"total_count": total, "jobs": orEmpty(jobs)})
}

// jobJSON shapes a job like GitHub does, from the recorded webhook
// fixture's workflow_job object.
func (f *restFake) jobJSON(repo string, runID int64, j restJob) (map[string]any, error) {
	var job map[string]any
	if err := json.Unmarshal(f.job, &job); err != nil {
		return nil, fmt.Errorf("recorded workflow_job: %w", err)
	}
	job["id"], job["run_id"], job["status"], job["labels"] = j.id, runID, j.status, j.labels
	// Of the listed run: its workflow, after its created_at.
	job["workflow_name"], job["created_at"], job["started_at"] = "CI", "2026-11-23T10:00:02Z", "2026-11-23T10:00:04Z"
	job["url"] = "https://api.github.com/repos/" + repo + "/actions/jobs/" + strconv.FormatInt(j.id, 10)
	return job, nil
}

func (f *restFake) set(repo string, runs ...restRun) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.repos[repo] = runs
}

// delivery builds a signed workflow_job delivery for a job of a
// repository, from the recorded fixture of that action.
func delivery(t *testing.T, action string, id int64, repo string, labels ...string) []byte {
	t.Helper()
	name := map[string]string{"queued": "queued", "in_progress": "in_progress", "completed": "completed.success.with-organization", "waiting": "waiting"}[action]
	var ev map[string]any
	if err := json.Unmarshal(fixture(t, name), &ev); err != nil {
		t.Fatal(err)
	}
	ev["action"] = action
	job := ev["workflow_job"].(map[string]any)
	job["id"], job["labels"] = id, labels
	ev["repository"].(map[string]any)["full_name"] = repo
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func send(t *testing.T, rc *Receiver, action string, id int64, repo string, labels ...string) {
	t.Helper()
	body := delivery(t, action, id, repo, labels...)
	if code := deliver(t, rc, "workflow_job", body, sign(body, secret)); code != http.StatusAccepted {
		t.Fatalf("delivery %s %d: %d", action, id, code)
	}
}

func countsOf(t *testing.T, rc *Receiver) map[string]int {
	out := map[string]int{}
	for _, q := range queued(t, rc) {
		out[strings.Join(q.Labels, ",")] = q.Count
	}
	return out
}

func TestReconcile(t *testing.T) {
	sh := []string{"self-hosted", "linux"}
	cases := []struct {
		name    string
		before  func(t *testing.T, rc *Receiver) // deliveries that did arrive
		rest    map[string][]restRun
		during  func(t *testing.T, rc *Receiver) // deliveries while jobs are listed
		failing string
		want    map[string]int
		repairs Repairs
		wantErr bool
	}{
		{
			name: "lost queued delivery is added",
			rest: map[string][]restRun{"acme/app": {{id: 1, jobs: []restJob{{id: 11, status: "queued", labels: sh}}}}},
			want: map[string]int{"linux,self-hosted": 1}, repairs: Repairs{Added: 1},
		},
		{
			name:   "lost completed delivery is removed",
			before: func(t *testing.T, rc *Receiver) { send(t, rc, "queued", 21, "acme/app", sh...) },
			rest:   map[string][]restRun{"acme/app": {{id: 2, jobs: []restJob{{id: 21, status: "completed", labels: sh}}}}},
			want:   map[string]int{}, repairs: Repairs{Removed: 1},
		},
		{
			name:   "queued jobs of in-progress runs count",
			before: func(t *testing.T, rc *Receiver) { send(t, rc, "queued", 31, "acme/app", sh...) },
			rest: map[string][]restRun{"acme/app": {{id: 3, jobs: []restJob{
				{id: 31, status: "queued", labels: sh}, {id: 32, status: "in_progress", labels: sh}, {id: 33, status: "queued", labels: []string{"gpu"}},
			}}}},
			want: map[string]int{"linux,self-hosted": 1, "gpu": 1}, repairs: Repairs{Added: 1},
		},
		{
			name: "deliveries during the listing win",
			rest: map[string][]restRun{"acme/app": {{id: 4, jobs: []restJob{{id: 41, status: "queued", labels: sh}}}}},
			during: func(t *testing.T, rc *Receiver) {
				send(t, rc, "in_progress", 41, "acme/app", sh...) // the listing is already stale
				send(t, rc, "queued", 42, "acme/app", sh...)      // not in the listing yet
			},
			want: map[string]int{"linux,self-hosted": 1},
		},
		{
			name:   "waiting jobs are not runnable",
			before: func(t *testing.T, rc *Receiver) { send(t, rc, "waiting", 51, "acme/app", sh...) },
			rest:   map[string][]restRun{"acme/app": {{id: 5, jobs: []restJob{{id: 51, status: "waiting", labels: sh}}}}},
			want:   map[string]int{},
		},
		{
			name: "a failing repository is left alone, others repaired",
			before: func(t *testing.T, rc *Receiver) {
				send(t, rc, "queued", 61, "acme/app", sh...)
				send(t, rc, "queued", 62, "acme/lib", sh...)
			},
			rest: map[string][]restRun{
				"acme/app": {{id: 6, jobs: []restJob{{id: 61, status: "queued", labels: sh}}}},
				"acme/lib": {{id: 7, jobs: []restJob{{id: 62, status: "completed", labels: sh}}}},
			},
			failing: "acme/lib",
			want:    map[string]int{"linux,self-hosted": 2}, repairs: Repairs{Failed: []string{"acme/lib"}}, wantErr: true,
		},
		{
			name:   "repositories not reconciled are untouched",
			before: func(t *testing.T, rc *Receiver) { send(t, rc, "queued", 71, "other/repo", sh...) },
			rest:   map[string][]restRun{"acme/app": {}, "acme/lib": {}},
			want:   map[string]int{"linux,self-hosted": 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newRESTFake(t)
			fake.set("acme/lib")
			for repo, runs := range tc.rest {
				fake.set(repo, runs...)
			}
			if tc.failing != "" {
				fake.failing[tc.failing] = true
			}
			clock := &manualClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), step: time.Second}
			rc, err := New(Options{Secret: secret, Now: clock.now, Actions: fake.client(t, restToken).Actions,
				Repos: []string{"acme/app", "Acme/Lib"}, Registerer: prometheus.NewRegistry()})
			if err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(t, rc)
			}
			// The deliveries "during" the listing are made by the test
			// goroutine while the fake holds its first jobs answer.
			listing, resume := make(chan struct{}), make(chan struct{})
			release := sync.OnceFunc(func() { close(resume) })
			t.Cleanup(release) // runs before the fake's Close, so no handler is left waiting
			var once sync.Once
			fake.onJobs = func() { once.Do(func() { close(listing); <-resume }) }
			type result struct {
				rep Repairs
				err error
			}
			res := make(chan result, 1)
			ctx := deadline(t)
			go func() {
				rep, err := rc.Reconcile(ctx)
				res <- result{rep, err}
			}()
			if tc.during != nil {
				select {
				case <-listing:
				case r := <-res:
					t.Fatalf("the reconcile ended (%+v) without listing jobs", r)
				case <-time.After(30 * time.Second):
					t.Fatal("the reconcile did not list jobs within 30s")
				}
				tc.during(t, rc)
			}
			release()
			var r result
			select {
			case r = <-res:
			case <-time.After(45 * time.Second):
				t.Fatal("the reconcile did not return within 45s")
			}
			rep, err := r.rep, r.err
			if (err != nil) != tc.wantErr {
				t.Fatalf("reconcile error %v, want error %v", err, tc.wantErr)
			}
			if rep.Added != tc.repairs.Added || rep.Removed != tc.repairs.Removed || !slices.Equal(rep.Failed, tc.repairs.Failed) {
				t.Errorf("repairs %+v, want %+v", rep, tc.repairs)
			}
			if got := countsOf(t, rc); !mapsEqual(got, tc.want) {
				t.Errorf("queued %v, want %v", got, tc.want)
			}
			if n := testutil.ToFloat64(rc.repairs.WithLabelValues("added")); int(n) != tc.repairs.Added {
				t.Errorf("added counter %v", n)
			}
		})
	}
}

// deadline is the test's context with a 30 s deadline: a REST listing
// that hangs fails with "context deadline exceeded" instead of blocking
// until go test's timeout.
func deadline(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestReconcilePaginates(t *testing.T) {
	fake := newRESTFake(t)
	var runs []restRun
	for r := range 120 { // two pages of runs
		run := restRun{id: int64(1000 + r), jobs: []restJob{{id: int64(100000 + r), status: "queued", labels: []string{"self-hosted"}}}}
		runs = append(runs, run)
	}
	big := restRun{id: 5000} // one run with two pages of jobs
	for j := range 150 {
		big.jobs = append(big.jobs, restJob{id: int64(200000 + j), status: "queued", labels: []string{"gpu", "self-hosted"}})
	}
	fake.set("acme/app", append(runs, big)...)
	rc, err := New(Options{Secret: secret, Actions: fake.client(t, restToken).Actions, Repos: []string{"acme/app"}})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := rc.Reconcile(deadline(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Added != 270 {
		t.Errorf("added %d, want 270", rep.Added)
	}
	if got := countsOf(t, rc); got["self-hosted"] != 120 || got["gpu,self-hosted"] != 150 {
		t.Errorf("queued %v", got)
	}
	// Reconciling again changes nothing.
	if rep, err := rc.Reconcile(deadline(t)); err != nil || rep.Added+rep.Removed != 0 {
		t.Errorf("second reconcile %+v %v", rep, err)
	}
}

func TestReconcileBadCredentials(t *testing.T) {
	fake := newRESTFake(t)
	fake.set("acme/app", restRun{id: 1, jobs: []restJob{{id: 11, status: "queued", labels: []string{"x"}}}})
	rc, err := New(Options{Secret: secret, Actions: fake.client(t, "ghs_wrong").Actions, Repos: []string{"acme/app"}})
	if err != nil {
		t.Fatal(err)
	}
	send(t, rc, "queued", 99, "acme/app", "self-hosted")
	rep, err := rc.Reconcile(deadline(t))
	var ghErr *github.ErrorResponse
	if err == nil || !errors.As(err, &ghErr) || ghErr.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("reconcile with bad credentials: %v", err)
	}
	if rep.Added+rep.Removed != 0 || total(t, rc) != 1 {
		t.Errorf("bad credentials changed the queue: %+v, %v", rep, queued(t, rc))
	}
	if n := testutil.ToFloat64(rc.reconcileErrors); n != 1 {
		t.Errorf("errors counted %v", n)
	}
}

func TestReconcileOptions(t *testing.T) {
	for _, repos := range [][]string{{"acme"}, {"acme/app/x"}, {"/app"}} {
		if _, err := New(Options{Secret: secret, Repos: repos}); err == nil {
			t.Errorf("repos %v accepted", repos)
		}
	}
	rc, err := New(Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Reconcile(deadline(t)); err == nil {
		t.Error("reconcile without a client succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rc.Queued(ctx); err == nil {
		t.Error("Queued on a cancelled context succeeded")
	}
}

func TestRunReconcile(t *testing.T) {
	fake := newRESTFake(t)
	fake.set("acme/app", restRun{id: 1, jobs: []restJob{{id: 11, status: "queued", labels: []string{"self-hosted"}}}})
	rc, err := New(Options{Secret: secret, Actions: fake.client(t, restToken).Actions, Repos: []string{"acme/app"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.RunReconcile(context.Background(), 0); err == nil {
		t.Fatal("interval 0 accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rc.RunReconcile(ctx, time.Hour) }()
	until := time.Now().Add(30 * time.Second) // guards a hang only
	for testutil.ToFloat64(rc.lastReconcile) == 0 {
		if time.Now().After(until) {
			t.Fatal("no reconcile ran")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RunReconcile returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("RunReconcile did not return within 30s of its context ending")
	}
	if total(t, rc) != 1 {
		t.Fatalf("queued %v", queued(t, rc))
	}
}
