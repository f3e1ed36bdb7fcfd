package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab"
	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
	"github.com/runfleet/runfleet/runner/ratelimit"
)

// TestRateLimitSharedBySlotsAndTraces: four slots of one runner poll,
// accept jobs, stream their logs and report them while the strict fake
// GitLab answers about one call in six with 429 Retry-After: 1 — job
// requests, trace patches and updates, final ones included. No call with
// the runner's credentials may reach GitLab before a Retry-After has
// passed (the fake counts each such call as a violation), and every job
// ends once with its whole log.
func TestRateLimitSharedBySlotsAndTraces(t *testing.T) {
	t.Parallel()
	const token, systemID = "glrt-ratelimit-runner-tok", "s_0123456789ab"
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second), gitlabtest.WithUpdateInterval(1), gitlabtest.WithSeed(11))
	srv.AddRunner(token)
	srv.Faults(gitlabtest.FaultPlan{Seed: 5, Rules: []gitlabtest.FaultRule{
		{Endpoint: gitlabtest.EndpointRequestJob, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.3},
		{Endpoint: gitlabtest.EndpointPatchTrace, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.2},
		{Endpoint: gitlabtest.EndpointUpdateJob, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.15},
		{Endpoint: gitlabtest.EndpointUpdateJob, FinalOnly: true, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Count: 2},
	}})
	const jobs, slots = 8, 4
	ids := make([]int64, jobs)
	want := map[int64]string{}
	for i := range ids {
		ids[i] = srv.Enqueue(gitlabtest.JobSpec{Name: fmt.Sprintf("job-%d", i), Script: []string{"true"}})
	}
	gate := ratelimit.New(ratelimit.Options{})
	client, err := gitlab.NewClient(gitlab.ClientOptions{BaseURL: srv.URL(), RateGate: gate, UserAgent: "runfleet/test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var taken atomic.Int32
	info := gitlab.VersionInfo{Name: "runfleet", Version: "test", Features: gitlab.ImplementedFeatures()}
	var wg sync.WaitGroup
	for slot := range slots {
		wg.Go(func() {
			for taken.Load() < jobs && ctx.Err() == nil {
				res, err := client.RequestJob(ctx, gitlab.RequestJobBody{Token: token, SystemID: systemID, Info: info})
				if err != nil || res.Job == nil {
					continue // a 429 the client gave back: the gate holds the next poll
				}
				taken.Add(1)
				job := res.Job
				for {
					_, err := client.UpdateJob(ctx, job.ID, gitlab.UpdateJobBody{Token: job.Token, State: gitlab.StateRunning})
					if err == nil || !errors.Is(err, gitlab.ErrTooManyRequests) {
						if err != nil {
							t.Errorf("slot %d: accepting job %d: %v", slot, job.ID, err)
						}
						break
					}
				}
				tr, err := gitlab.NewTrace(gitlab.TraceOptions{Client: client, JobID: job.ID, JobToken: job.Token, Info: &info})
				if err != nil {
					t.Error(err)
					return
				}
				runCtx, stop := context.WithCancel(ctx)
				done := make(chan struct{})
				go func() { defer close(done); _ = tr.Run(runCtx) }()
				var log strings.Builder
				for line := range 20 {
					l := fmt.Sprintf("job %d line %02d\n", job.ID, line)
					log.WriteString(l)
					_, _ = tr.Write([]byte(l))
					time.Sleep(50 * time.Millisecond)
				}
				mu.Lock()
				want[job.ID] = log.String()
				mu.Unlock()
				if err := tr.Finish(context.WithoutCancel(ctx), gitlab.FinalResult{State: gitlab.StateSuccess}); err != nil {
					t.Errorf("slot %d: job %d: Finish: %v", slot, job.ID, err)
				}
				stop()
				select {
				case <-done:
				case <-time.After(time.Minute):
					t.Errorf("slot %d: job %d: timed out waiting for the trace's Run to return after its context ended", slot, job.ID)
				}
			}
		})
	}
	for _, id := range ids {
		rec := srv.WaitFinal(t, id, 3*time.Minute)
		mu.Lock()
		log := want[id]
		mu.Unlock()
		if rec.State != gitlabtest.StateSuccess || rec.FinalUpdates != 1 || !rec.TraceChecksumOK {
			t.Errorf("job %d: %s, %d final updates, checksum ok %v; want success once with its log; events %q",
				id, rec.State, rec.FinalUpdates, rec.TraceChecksumOK, rec.Events)
		}
		if string(rec.Trace) != log {
			t.Errorf("job %d: log on GitLab %q, want %q", id, rec.Trace, log)
		}
	}
	cancel()
	slotsDone := make(chan struct{})
	go func() { wg.Wait(); close(slotsDone) }()
	select {
	case <-slotsDone:
	case <-time.After(2 * time.Minute):
		t.Fatal("timed out waiting for the polling slots to stop after the context ended")
	}
	fired := srv.FaultsFired()
	for _, ep := range []gitlabtest.Endpoint{gitlabtest.EndpointRequestJob, gitlabtest.EndpointPatchTrace, gitlabtest.EndpointUpdateJob} {
		if fired[ep] == 0 {
			t.Errorf("no 429 was injected on %s: the test proves little (%v)", ep, fired)
		}
	}
	if n := srv.EarlyCalls(); n != 0 {
		t.Errorf("%d calls reached GitLab before their Retry-After had passed: %q", n, srv.Violations())
	}
	t.Logf("429s injected: %v; early calls: %d", fired, srv.EarlyCalls())
}
