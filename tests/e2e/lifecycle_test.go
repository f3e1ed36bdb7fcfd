package e2e

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

func newServer(t *testing.T) *gitlabtest.Server {
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(2*time.Second))
	srv.AddRepo(t, "group/project", map[string]string{"README.md": "hello\n"})
	return srv
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{})
	id := srv.Enqueue(gitlabtest.JobSpec{Timeout: 3, Script: []string{"echo started", "sleep 60"}, AfterScript: []string{"echo after-timeout"}})
	rec := srv.WaitFinal(t, id, jobWait)
	if rec.State != gitlabtest.StateFailed || rec.FailureReason != "job_execution_timeout" {
		t.Fatalf("state %s reason %q, want failed job_execution_timeout; log:\n%s", rec.State, rec.FailureReason, rec.Trace)
	}
	mustContain(t, string(rec.Trace), "started", "after-timeout")
	checkReportedOnce(t, rec)
}

func TestCancel(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{})

	t.Run("graceful", func(t *testing.T) {
		id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo running-now", "sleep 120"}, AfterScript: []string{"echo after-cancel"}})
		waitFor(t, jobWait, "the job to run", func() bool { return strings.Contains(string(srv.Job(id).Trace), "running-now") })
		start := time.Now()
		srv.Cancel(id)
		rec := srv.WaitFinal(t, id, 60*time.Second)
		if rec.State != gitlabtest.StateCanceled {
			t.Fatalf("state = %s, want canceled; events %v", rec.State, rec.Events)
		}
		mustContain(t, string(rec.Trace), "after-cancel")
		t.Logf("graceful cancel took %s", time.Since(start).Round(time.Millisecond))
	})
	t.Run("abort", func(t *testing.T) {
		id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo running-now", "sleep 120"}, AfterScript: []string{"echo after-abort"}})
		waitFor(t, jobWait, "the job to run", func() bool { return strings.Contains(string(srv.Job(id).Trace), "running-now") })
		srv.Abort(id)
		rec := srv.WaitFinal(t, id, 10*time.Second)
		if rec.State != gitlabtest.StateCanceled {
			t.Fatalf("state = %s, want canceled", rec.State)
		}
		// The agent stops the job: a new job runs on the single slot soon.
		next := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo next"}})
		if r := srv.WaitFinal(t, next, jobWait); r.State != gitlabtest.StateSuccess {
			t.Fatalf("next job %s", r.State)
		}
		mustNotContain(t, string(srv.Job(id).Trace), "after-abort")
	})
	checkViolations(t, srv)
}

func TestCachePushThenPull(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{Concurrent: 1})
	c := []gitlabtest.Cache{{Key: "deps-non_protected", Paths: []string{"vendor/"}}}
	first := srv.Enqueue(gitlabtest.JobSpec{Cache: c, Script: []string{"mkdir -p vendor && echo cached-$CI_JOB_ID > vendor/dep.txt"}})
	r1 := srv.WaitFinal(t, first, jobWait)
	if r1.State != gitlabtest.StateSuccess {
		t.Fatalf("first job %s:\n%s", r1.State, r1.Trace)
	}
	pull := []gitlabtest.Cache{{Key: "deps-non_protected", Paths: []string{"vendor/"}, Policy: "pull"}}
	second := srv.Enqueue(gitlabtest.JobSpec{Cache: pull, Script: []string{"cat vendor/dep.txt"}})
	r2 := srv.WaitFinal(t, second, jobWait)
	if r2.State != gitlabtest.StateSuccess {
		t.Fatalf("second job %s:\n%s", r2.State, r2.Trace)
	}
	mustContain(t, string(r2.Trace), fmt.Sprintf("cached-%d", first))
	// A hostile key must not escape the cache directory nor fail the job.
	third := srv.Enqueue(gitlabtest.JobSpec{Cache: []gitlabtest.Cache{{Key: "../../../../etc/evil", Paths: []string{"x"}}}, Script: []string{"echo x > x"}})
	if r := srv.WaitFinal(t, third, jobWait); r.State != gitlabtest.StateSuccess {
		t.Fatalf("hostile key job %s:\n%s", r.State, r.Trace)
	}
}

func TestArtifactsAndDependencies(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{})
	build := srv.Enqueue(gitlabtest.JobSpec{
		Name:      "build",
		Script:    []string{"mkdir -p out && echo artifact-body > out/app.txt && echo noise > out/debug.log"},
		Artifacts: []gitlabtest.Artifact{{Name: "app", Paths: []string{"out/"}, Exclude: []string{"out/*.log"}}},
	})
	rec := srv.WaitFinal(t, build, jobWait)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("build %s:\n%s", rec.State, rec.Trace)
	}
	z, err := zip.NewReader(bytes.NewReader(rec.Artifacts["archive"]), int64(len(rec.Artifacts["archive"])))
	if err != nil {
		t.Fatalf("artifact is not a zip: %v", err)
	}
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	joined := strings.Join(names, ",")
	if !strings.Contains(joined, "out/app.txt") || strings.Contains(joined, "debug.log") {
		t.Errorf("artifact files = %v", names)
	}
	test := srv.Enqueue(gitlabtest.JobSpec{Name: "test", Dependencies: []int64{build}, Script: []string{"cat out/app.txt"}})
	r2 := srv.WaitFinal(t, test, jobWait)
	if r2.State != gitlabtest.StateSuccess {
		t.Fatalf("test %s:\n%s", r2.State, r2.Trace)
	}
	mustContain(t, string(r2.Trace), "artifact-body")
}

func TestBigLogIntact(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{OutputLimitKiB: 8192})
	// 3 MiB of numbered lines: every line must arrive once, in order.
	const lines = 3 * 1024 * 1024 / 32
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{fmt.Sprintf("seq -w 1 %d | sed 's/$/ padding-padding-padding/'", lines)}})
	rec := srv.WaitFinal(t, id, 3*jobWait)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("state %s", rec.State)
	}
	checkReportedOnce(t, rec)
	log := string(rec.Trace)
	for _, n := range []int{1, lines / 2, lines} {
		want := fmt.Sprintf("%0*d padding-padding-padding\n", len(fmt.Sprint(lines)), n)
		if !strings.Contains(log, want) {
			t.Errorf("line %d missing", n)
		}
	}
	if got := strings.Count(log, "padding-padding-padding\n"); got != lines {
		t.Errorf("got %d lines, want %d", got, lines)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	startAgent(t, srv, agentConfig{Concurrent: 3, Limit: 2})
	var ids []int64
	for range 5 {
		ids = append(ids, srv.Enqueue(gitlabtest.JobSpec{Script: []string{"sleep 2"}}))
	}
	peak := 0
	deadline := time.Now().Add(2 * jobWait)
	for time.Now().Before(deadline) {
		running, done := 0, 0
		for _, id := range ids {
			switch r := srv.Job(id); {
			case r.State == gitlabtest.StateRunning:
				running++
			case r.State.Final():
				done++
			}
		}
		peak = max(peak, running)
		if done == len(ids) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if peak > 2 {
		t.Errorf("peak running jobs = %d, want <= limit 2", peak)
	}
	if peak < 2 {
		t.Errorf("peak running jobs = %d: slots were not used in parallel", peak)
	}
	for _, id := range ids {
		if r := srv.Job(id); r.State != gitlabtest.StateSuccess {
			t.Errorf("job %d: %s", id, r.State)
		}
	}
}

func TestSIGTERMLetsJobFinish(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	a := startAgent(t, srv, agentConfig{ShutdownTimeout: 60})
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo started", "sleep 3", "echo finished-after-term"}})
	waitFor(t, jobWait, "the job to start", func() bool { return strings.Contains(string(srv.Job(id).Trace), "started") })
	if err := a.stop(60 * time.Second); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	rec := srv.Job(id)
	if rec.State != gitlabtest.StateSuccess {
		t.Fatalf("state %s; log:\n%s", rec.State, rec.Trace)
	}
	mustContain(t, string(rec.Trace), "finished-after-term")
	// A job queued after SIGTERM is not taken.
	later := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
	time.Sleep(time.Second)
	if r := srv.Job(later); r.State != gitlabtest.StatePending {
		t.Errorf("job queued after shutdown: %s", r.State)
	}
	if l := leftovers(t, a.node); len(l) > 0 {
		t.Errorf("leftovers after shutdown: %v", l)
	}
}

func TestSIGTERMAbortsAfterTimeout(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	a := startAgent(t, srv, agentConfig{ShutdownTimeout: 2})
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"echo started", "sleep 120"}})
	waitFor(t, jobWait, "the job to start", func() bool { return strings.Contains(string(srv.Job(id).Trace), "started") })
	if err := a.stop(60 * time.Second); err != nil {
		t.Errorf("agent exit: %v", err)
	}
	rec := srv.Job(id)
	if rec.State != gitlabtest.StateFailed || rec.FailureReason != "runner_system_failure" {
		t.Fatalf("state %s %q, want failed runner_system_failure", rec.State, rec.FailureReason)
	}
	checkReportedOnce(t, rec)
	if l := leftovers(t, a.node); len(l) > 0 {
		t.Errorf("leftovers after abort: %v", l)
	}
}

func TestLeftoversReapedAfterSIGKILL(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	a := startAgent(t, srv, agentConfig{})
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range srv.Requests() {
				t.Logf("request %s %s %d %s", r.Method, r.Path, r.Status, r.Duration)
			}
		}
	})
	id := srv.Enqueue(gitlabtest.JobSpec{
		Services: []gitlabtest.Image{{Name: testImage, Alias: "svc", Entrypoint: []string{"sleep", "600"}}},
		Script:   []string{"echo started", "sleep 600"},
	})
	waitFor(t, jobWait, "the job to start", func() bool {
		return strings.Contains(string(srv.Job(id).Trace), "started") || srv.Job(id).State.Final()
	})
	if r := srv.Job(id); r.State.Final() {
		t.Fatalf("job ended early: %s %s\n%s\nevents %v", r.State, r.FailureReason, r.Trace, r.Events)
	}
	a.signal(syscall.SIGKILL)
	waitDone(t, a.done, agentExitWait, "the SIGKILLed agent to exit")
	if l := leftovers(t, a.node); len(l) == 0 {
		t.Fatal("a SIGKILLed agent left nothing behind: the test proves nothing")
	}
	// A new agent on the same node reaps them at start.
	b := startAgentWith(t, a.cmd.Args[3], a.node, a.dir, freePort(t))
	waitFor(t, 60*time.Second, "leftovers to be reaped", func() bool { return len(leftovers(t, a.node)) == 0 })
	_ = b
}

func TestMetricsAndHealth(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := newServer(t)
	a := startAgent(t, srv, agentConfig{})
	id := srv.Enqueue(gitlabtest.JobSpec{Script: []string{"true"}})
	srv.WaitFinal(t, id, jobWait)
	var body string
	waitFor(t, 10*time.Second, "metrics", func() bool {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + a.metrics + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return strings.Contains(body, `runfleet_jobs_total{failure_reason="",runner="e2e",state="success"} 1`)
	})
	mustContain(t, body, "runfleet_api_requests_total", "runfleet_job_duration_seconds", "runfleet_runner_slots")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get("http://" + a.metrics + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}
