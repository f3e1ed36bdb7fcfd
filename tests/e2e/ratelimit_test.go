package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestRateLimitedAgent runs 12 jobs on four slots of one runner while the
// fake GitLab answers about one call in five with 429 Retry-After: 1 — job
// requests, log patches and job updates, final ones included. GitLab's
// limit binds the runner's token: the fake counts every call of the runner
// or its jobs that arrives before the time has passed, and there must be
// none. Every job still ends once with its whole log.
func TestRateLimitedAgent(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second), gitlabtest.WithUpdateInterval(1), gitlabtest.WithSeed(29))
	srv.AddRepo(t, "group/project", map[string]string{"README.md": "rate limits\n"})
	srv.Faults(gitlabtest.FaultPlan{Seed: 3, Rules: []gitlabtest.FaultRule{
		{Endpoint: gitlabtest.EndpointRequestJob, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.2},
		{Endpoint: gitlabtest.EndpointPatchTrace, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.2},
		{Endpoint: gitlabtest.EndpointUpdateJob, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Probability: 0.15},
	}})
	startAgent(t, srv, agentConfig{Concurrent: 4})
	const jobs = 12
	ids := make([]int64, jobs)
	for i := range ids {
		ids[i] = srv.Enqueue(gitlabtest.JobSpec{Script: []string{
			fmt.Sprintf("echo job-%d-begin", i), "for i in $(seq 1 20); do echo tick-$i; sleep 0.1; done", fmt.Sprintf("echo job-%d-end", i),
		}})
	}
	for i, id := range ids {
		rec := srv.WaitFinal(t, id, 4*time.Minute)
		log := string(rec.Trace)
		if rec.State != gitlabtest.StateSuccess {
			t.Errorf("job %d: %s (%s)\n%s", i, rec.State, rec.FailureReason, tail(log, 1500))
		}
		checkReportedOnce(t, rec)
		if !strings.Contains(log, fmt.Sprintf("job-%d-end", i)) || strings.Count(log, "tick-20\n") != 1 {
			t.Errorf("job %d: log incomplete or duplicated:\n%s", i, tail(log, 1500))
		}
	}
	fired := srv.FaultsFired()
	for _, ep := range []gitlabtest.Endpoint{gitlabtest.EndpointRequestJob, gitlabtest.EndpointPatchTrace, gitlabtest.EndpointUpdateJob} {
		if fired[ep] == 0 {
			t.Errorf("no 429 on %s: the test proves little (%v)", ep, fired)
		}
	}
	if n := srv.EarlyCalls(); n != 0 {
		t.Errorf("%d calls before their Retry-After had passed", n)
	}
	checkViolations(t, srv)
	t.Logf("429s injected: %v; calls before Retry-After: %d", fired, srv.EarlyCalls())
}
