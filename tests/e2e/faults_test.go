package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runfleet/runfleet/runner/gitlab/gitlabtest"
)

// TestInjectedFaults runs 30 jobs while about 20 % of GitLab's answers are
// wrong (5xx, 429 with Retry-After, dropped connections, 416 on the log,
// 202 on final updates, hangs) and checks that every job reaches its final
// state exactly once with its whole log.
func TestInjectedFaults(t *testing.T) {
	t.Parallel()
	dockerClient(t)
	srv := gitlabtest.New(t, gitlabtest.WithLongPollHold(time.Second), gitlabtest.WithUpdateInterval(1), gitlabtest.WithSeed(20))
	srv.AddRepo(t, "group/project", map[string]string{"README.md": "faults\n"})
	const p = 0.2
	srv.Faults(gitlabtest.FaultPlan{Rules: []gitlabtest.FaultRule{
		{Endpoint: gitlabtest.EndpointRequestJob, Status: http.StatusInternalServerError, Probability: p / 2},
		{Endpoint: gitlabtest.EndpointRequestJob, Status: http.StatusTooManyRequests, RetryAfter: 1, Probability: p / 2},
		{Endpoint: gitlabtest.EndpointUpdateJob, Status: http.StatusBadGateway, Probability: p / 3},
		{Endpoint: gitlabtest.EndpointUpdateJob, Status: http.StatusAccepted, Probability: p / 3},
		{Endpoint: gitlabtest.EndpointUpdateJob, Status: 0, Probability: p / 3}, // connection dropped
		{Endpoint: gitlabtest.EndpointPatchTrace, Status: http.StatusServiceUnavailable, RetryAfter: 1, Probability: p / 2},
		{Endpoint: gitlabtest.EndpointPatchTrace, Status: http.StatusRequestedRangeNotSatisfiable, Probability: p / 2},
		{Endpoint: gitlabtest.EndpointGit, Status: http.StatusBadGateway, Count: 1},
		// A GitLab that hangs, then fails, on a few requests.
		{Endpoint: gitlabtest.EndpointPatchTrace, Hang: 3 * time.Second, Status: http.StatusGatewayTimeout, Count: 2},
		{Endpoint: gitlabtest.EndpointRequestJob, Hang: 2 * time.Second, Status: 0, Count: 2},
	}})
	startAgent(t, srv, agentConfig{Concurrent: 4})
	const jobs = 30
	ids := make([]int64, jobs)
	for i := range ids {
		script := []string{fmt.Sprintf("echo job-%d-begin", i), "seq 1 200", fmt.Sprintf("echo job-%d-end", i)}
		if i%5 == 0 {
			script = append(script, "exit 3")
		}
		ids[i] = srv.Enqueue(gitlabtest.JobSpec{Script: script})
	}
	for i, id := range ids {
		rec := srv.WaitFinal(t, id, 4*time.Minute)
		want := gitlabtest.StateSuccess
		if i%5 == 0 {
			want = gitlabtest.StateFailed
		}
		log := string(rec.Trace)
		// The git fault may fail one job's sources; that job must still
		// end exactly once, with runner_external_dependency_failure.
		if rec.State != want && rec.FailureReason != "runner_external_dependency_failure" {
			t.Errorf("job %d: state %s (%s), want %s\n%s", i, rec.State, rec.FailureReason, want, tail(log, 1500))
		}
		if rec.FinalUpdates != 1 {
			t.Errorf("job %d: %d accepted final updates (rejected %d), want exactly 1; events %v", i, rec.FinalUpdates, rec.RejectedFinalUpdates, rec.Events)
		}
		if rec.FailureReason != "runner_external_dependency_failure" && (!strings.Contains(log, fmt.Sprintf("job-%d-end", i)) || strings.Count(log, "\n200\n") != 1) {
			t.Errorf("job %d: log incomplete or duplicated:\n%s", i, tail(log, 1500))
		}
	}
	fired := srv.FaultsFired()
	total := 0
	for _, n := range fired {
		total += n
	}
	if total < 20 {
		t.Errorf("only %d faults fired (%v): the test proves little", total, fired)
	}
	t.Logf("faults fired per rule: %v", fired)
	checkViolations(t, srv)
}
