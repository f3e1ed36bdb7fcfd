package e2e

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/runfleet/runfleet/executors/docker"
	"github.com/runfleet/runfleet/runner"
	"github.com/runfleet/runfleet/runner/github"
	"github.com/runfleet/runfleet/runner/github/githubtest"
)

// BenchmarkGitHubJobStart measures, with the stand-in runner image, the
// time from a job queued on the fake GitHub to:
//   - warm: the job taken by the idle runner already waiting in its slot
//     (its container was started before the job was queued);
//   - cold: the runner container started for it (the runner connected)
//     and the job taken, when no runner was waiting: JIT mint + container
//     create + start.
//
// The baseline is a raw engine create+start+first byte of the busybox
// image, measured in the same run.
func BenchmarkGitHubJobStart(b *testing.B) {
	raw := rawFirstByte(b)
	b.ReportMetric(float64(raw.Microseconds())/1000, "raw-first-byte-ms")
	srv := newGitHubFake(b)
	srv.AddPAT("ghp_bench", "orgs/acme")
	cl, err := github.NewClient(github.ClientOptions{URL: srv.URL() + "/acme", Auth: github.Auth{Token: "ghp_bench"}})
	if err != nil {
		b.Fatal(err)
	}
	node := nodeName(b)
	ex, err := docker.New(docker.Options{Node: node, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ex.Close(); reapNode(b, node) })
	src, err := github.NewSource(github.SourceOptions{API: cl, Node: node, Labels: []string{"self-hosted", "linux"},
		EventPoll: 10 * time.Millisecond,
		Launcher:  &github.RunnerLauncher{Executor: ex, Node: node, Image: githubStubImage, PullPolicy: "never", StateDir: b.TempDir()}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	spec := githubtest.JobSpec{Repo: "acme/app", Labels: []string{"self-hosted", "linux"}, Script: []string{"true"}}
	slot := runner.Slot{Source: "bench"}
	var warm, coldStart, coldTaken time.Duration
	for range b.N {
		// Cold: the job waits; the slot mints and starts a runner for it.
		id := srv.Enqueue(spec)
		job, err := src.Acquire(ctx, slot)
		if err != nil {
			b.Fatal(err)
		}
		job.Run(ctx)
		j := srv.WaitCompleted(b, id, time.Minute)
		online := runnerOnline(b, srv, j.RunnerID)
		coldStart += online.Sub(j.QueuedAt)
		coldTaken += j.StartedAt.Sub(j.QueuedAt)

		// Warm: a runner waits in the slot before the job is queued.
		type acq struct {
			job runner.Job
			err error
		}
		got := make(chan acq, 1)
		go func() {
			j, err := src.Acquire(ctx, slot)
			got <- acq{j, err}
		}()
		srv.WaitRunners(b, time.Minute, "an idle runner", func(rs []githubtest.RunnerInfo) bool {
			return len(rs) == 1 && rs[0].Status == "online"
		})
		id = srv.Enqueue(spec)
		var a acq
		select {
		case a = <-got:
		case <-time.After(time.Minute):
			b.Fatal("timed out after 1m waiting for the warm runner to acquire the queued job")
		}
		if a.err != nil {
			b.Fatal(a.err)
		}
		a.job.Run(ctx)
		j = srv.WaitCompleted(b, id, time.Minute)
		warm += j.StartedAt.Sub(j.QueuedAt)
	}
	n := time.Duration(b.N)
	ms := func(d time.Duration) float64 { return float64((d / n).Microseconds()) / 1000 }
	b.ReportMetric(ms(warm), "warm-queued-to-taken-ms")
	b.ReportMetric(ms(coldStart), "cold-queued-to-container-started-ms")
	b.ReportMetric(ms(coldTaken), "cold-queued-to-taken-ms")
	b.ReportMetric(float64(coldStart/n)/float64(raw), "cold-start-ratio-vs-raw")
}

// runnerOnline is when runner id connected; the fake keeps it in the
// request log once the registration is gone, so record it from there.
func runnerOnline(b *testing.B, srv *githubtest.Server, id int64) time.Time {
	b.Helper()
	want := "/_runfleet_test/runners/" + strconv.FormatInt(id, 10) + "/session"
	for _, r := range srv.Requests() {
		if r.Method == "POST" && r.Path == want {
			return r.At
		}
	}
	b.Fatalf("runner %d never connected", id)
	return time.Time{}
}
